"""A local AWS account, and the whole workshop run on `backend=aws` against it (`make workshop-aws-local`).

No account is reachable from CI, so the aws path is proven against stand-ins on 127.0.0.1:

- moto's server answers CloudFormation, S3, IAM, STS, EC2, Lambda, CloudWatch Logs, Glue, Athena and KMS
  (what the templates and the kit's aws code call);
- the kit's emulator answers the SageMaker API, the Feature Store runtime and the SageMaker runtime, with
  its offline store and model artifacts in moto's S3 (`serve --s3-endpoint`), as SageMaker keeps them in
  the account's S3;
- the kit's broker stands in for MSK, which moto cannot create: the LocalAccount=true variant of the stack
  leaves the cluster out, so the harness supplies FRAUDKIT_BOOTSTRAP_SERVERS, with
  FRAUDKIT_KAFKA_SECURITY_PROTOCOL=PLAINTEXT because the stand-in speaks neither TLS nor IAM;
- the kit's two stream stages (`python -m fraudkit.streaming run`) stand in for the Managed Flink
  application and the Lambda functions' MSK event source mappings, which the variant leaves out too (moto
  would need Docker to run the functions). They start once notebook 04 has deployed the endpoint they
  score with, and stop before notebook 99 deletes their topics.

Every process reaches the services through botocore's per-service variables (`AWS_ENDPOINT_URL_S3`, ...),
which point at `fraudkit.aws.recorder`'s proxies, so every call any process makes is recorded by
(service, operation) into `calls.json`; the emulator's own S3 traffic (SageMaker's side of the account)
goes to moto directly and is not in it. The run: deploy through `fraudkit.aws.deploy` (the change sets
printed), every notebook with papermill, `99_cleanup`, then `destroy --yes`; finally what is left in the
account is listed into `calls.json` (`remaining`).

The Lambda code is a placeholder zip: moto stores the functions but never runs them, so the run does not
depend on what `make package` builds (`tests/infra/test_package.py` tests the real zip).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fraudkit.aws.recorder import CallLog, RecordingProxies
from fraudkit.aws.stack import REQUIRED_OUTPUTS

MOTO_SERVICES = ("cloudformation", "s3", "iam", "sts", "ec2", "lambda", "logs", "glue", "athena", "kms")
EMULATED_SERVICES = ("sagemaker", "sagemaker-featurestore-runtime", "sagemaker-runtime")
REGION = "us-east-1"
CREDENTIAL = "testing"  # neither moto nor the emulator checks signatures
STACK_NAME = "fraudkit-local"
# every process of the account, the emulator included (its S3 client signs requests to moto): dummy
# credentials, the region, and nothing from the user's AWS configuration (a real account's endpoints)
CREDENTIAL_ENV = {
    "AWS_ACCESS_KEY_ID": CREDENTIAL,
    "AWS_SECRET_ACCESS_KEY": CREDENTIAL,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
STAGES = ("aggregator", "scorer")
STAGE_READY_S = 120.0
# the notebooks run in three steps: the stream stand-ins need the endpoint notebook 04 deploys, from 05 (the
# stream) on, and must be gone before 99 deletes their topics
STREAM_FROM, CLEANUP_FROM = "05", "99"
REPO = Path(__file__).resolve().parents[3]


LOCAL_PARAMETERS = {"LocalAccount": "true"}  # the stack's variant for what moto can create


class LocalAccountError(RuntimeError):
    """The local account cannot serve the run; the message says what is missing."""


def endpoint_variable(service: str) -> str:
    """botocore's per-service endpoint variable: AWS_ENDPOINT_URL_ + the model's serviceId, upper case,
    spaces as underscores (`SageMaker FeatureStore Runtime` -> ..._SAGEMAKER_FEATURESTORE_RUNTIME)."""
    import botocore.session

    service_id = botocore.session.get_session().get_service_model(service).service_id
    return "AWS_ENDPOINT_URL_" + str(service_id).upper().replace(" ", "_")


@contextlib.contextmanager
def change_set_outputs() -> Iterator[None]:
    """moto 5.2.5 executes a change set without reading the new template's Outputs, which AWS returns
    (and the kit reads): parse them after the execution, while the block runs."""
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set

    def execute(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        original(self, change_set_name, stack_name)
        for stack in self.stacks.values():
            if isinstance(stack.template, str):  # set by execute_change_set, not parsed by it
                stack._parse_template()
                stack.output_map = stack._create_output_map()

    CloudFormationBackend.execute_change_set = execute  # type: ignore[method-assign]
    try:
        yield
    finally:
        CloudFormationBackend.execute_change_set = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _quiet_moto() -> Iterator[None]:
    """moto's server logs every request, and its CloudFormation every resource type it skips (the
    BucketPolicy, SecurityGroupEgress ...: cloudformation/README.md lists them): the call log is the record."""
    loggers = [logging.getLogger(name) for name in ("werkzeug", "moto")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


@dataclass
class LocalAccount:
    """moto, the emulator and the broker on loopback behind recording proxies; `env` reaches them."""

    directory: Path
    log: CallLog = field(default_factory=CallLog)
    env: dict[str, str] = field(default_factory=dict)
    bootstrap_servers: str = ""

    @contextlib.contextmanager
    def running(self) -> Iterator[LocalAccount]:
        from moto.server import ThreadedMotoServer

        from fraudkit.emulator import launcher
        from fraudkit.streaming import broker

        self.directory.mkdir(parents=True, exist_ok=True)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        with contextlib.ExitStack() as stack:
            stack.enter_context(_environ(CREDENTIAL_ENV))  # inherited by the emulator and the broker
            stack.enter_context(_quiet_moto())
            stack.enter_context(change_set_outputs())
            moto.start()
            stack.callback(moto.stop)
            host, port = moto.get_host_and_port()
            moto_url = f"http://{host}:{port}"
            emulator = launcher.start(self.directory, 0, s3_endpoint=moto_url)
            stack.callback(launcher.stop, self.directory)
            self.bootstrap_servers = str(broker.start(self.directory)["bootstrap_servers"])
            stack.callback(broker.stop, self.directory)
            upstreams = dict.fromkeys(MOTO_SERVICES, moto_url) | dict.fromkeys(EMULATED_SERVICES, emulator["url"])
            proxies = RecordingProxies(upstreams, self.log)
            stack.callback(proxies.close)
            self.env = {endpoint_variable(service): url for service, url in proxies.urls.items()} | CREDENTIAL_ENV
            yield self

    def process_env(self, state_dir: Path, scale: str, seed: int) -> dict[str, str]:
        """The environment of every process of the run: this account, backend aws, the stand-in broker."""
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "FRAUDKIT_")) and name not in ("BOTO_CONFIG",)
        }
        return {
            **inherited,
            **self.env,
            "FRAUDKIT_BACKEND": "aws",
            "FRAUDKIT_SCALE": scale,
            "FRAUDKIT_SEED": str(seed),
            "FRAUDKIT_REGION": REGION,
            "FRAUDKIT_STATE_DIR": str(state_dir),
            "FRAUDKIT_STACK_NAME": STACK_NAME,
            "FRAUDKIT_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "FRAUDKIT_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
            "TQDM_DISABLE": "1",
        }


def placeholder_code(path: Path) -> Path:
    """A Lambda zip that moto accepts and never runs (see the module docstring)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("README.txt", date_time=(2026, 1, 1, 0, 0, 0))  # same bytes every run
        archive.writestr(info, "placeholder: the local account stores the functions and never invokes them\n")
    return path


def _load_template(template: Path) -> dict[str, Any]:
    """The template with CloudFormation's short-form tags as their long forms (!Ref x -> {"Ref": x})."""
    import yaml

    class Loader(yaml.SafeLoader):
        """Reads !Ref, !Condition and the !Fn tags as the mappings they stand for."""

    def long_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
        return {name: value}

    Loader.add_multi_constructor("!", long_form)
    loaded: dict[str, Any] = yaml.load(template.read_text(), Loader=Loader)
    return loaded


def _holds(condition: str, template: dict[str, Any], parameters: dict[str, str]) -> bool:
    """Whether a template condition is true for `parameters` (the rest at their defaults)."""

    def value(item: Any) -> Any:
        if isinstance(item, dict) and "Ref" in item:
            name = item["Ref"]
            return parameters.get(name, template["Parameters"][name].get("Default"))
        return item

    def true(expression: dict[str, Any]) -> bool:
        ((function, argument),) = expression.items()
        if function == "Condition":
            return true(template["Conditions"][argument])
        if function == "Fn::Equals":
            return bool(value(argument[0]) == value(argument[1]))
        if function == "Fn::Not":
            return not true(argument[0])
        if function == "Fn::And":
            return all(true(part) for part in argument)
        if function == "Fn::Or":
            return any(true(part) for part in argument)
        raise LocalAccountError(f"condition function {function} is not understood by the local account")

    return true(template["Conditions"][condition])


def template_outputs(template: Path) -> dict[str, bool]:
    """The template's outputs: name -> whether the local variant (LocalAccount=true, other parameters at
    their defaults) has it."""
    loaded = _load_template(template)
    return {
        name: "Condition" not in body or _holds(body["Condition"], loaded, LOCAL_PARAMETERS)
        for name, body in loaded["Outputs"].items()
    }


def check_outputs(stack: dict[str, Any], template: Path, bootstrap_servers: str) -> list[str]:
    """Assert the deployed stack has every output of the local variant and every one the kit reads, the
    left-out ones being supplied by the harness; lines saying so."""
    from fraudkit.aws.stack import outputs_by_key

    found = outputs_by_key(stack)
    declared = template_outputs(template)
    missing = [name for name, kept in declared.items() if kept and not found.get(name)]
    missing += [name for name in REQUIRED_OUTPUTS if not found.get(name) and name not in missing]
    if missing:
        raise LocalAccountError(f"stack {stack['StackName']} lacks output(s) {', '.join(missing)}")
    left_out = sorted(name for name, kept in declared.items() if not kept)
    read_by_the_kit = [name for name in left_out if name in (*REQUIRED_OUTPUTS, "MskClusterArn")]
    if read_by_the_kit != ["MskClusterArn"]:
        raise LocalAccountError(
            f"the local variant leaves out {read_by_the_kit}; the harness supplies MskClusterArn only"
        )
    optional = [name for name in left_out if name != "MskClusterArn"]
    return [
        f"stack outputs present: {', '.join(sorted(found))}",
        f"left out by LocalAccount=true: MskClusterArn; supplied: FRAUDKIT_BOOTSTRAP_SERVERS={bootstrap_servers}"
        " (the kit's broker), FRAUDKIT_KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
        *([f"left out, AWS only and optional: {', '.join(optional)}"] if optional else []),
    ]


def _kit(module: str, *args: str, env: dict[str, str]) -> None:
    """Run `python -m <module> <args>` in the run's environment; LocalAccountError if it fails."""
    command = [sys.executable, "-m", module, *args]
    print("$ " + " ".join(["python", "-m", module, *args]), flush=True)
    if subprocess.run(command, env=env, cwd=REPO, check=False).returncode != 0:
        raise LocalAccountError(f"`python -m {module} {' '.join(args)}` failed")


@contextlib.contextmanager
def stream_stages(env: dict[str, str], log_dir: Path) -> Iterator[None]:
    """The aggregator and scorer stages in their own processes (the stand-ins for Managed Flink and the
    Lambda mappings), each ready before the block runs, stopped with SIGTERM after it. Their topics are
    created first, as a deployment creates them on MSK before its consumers start."""
    from fraudkit.config import Settings
    from fraudkit.streaming.broker import create_topics

    create_topics(
        Settings(backend="aws", bootstrap_servers=env["FRAUDKIT_BOOTSTRAP_SERVERS"], kafka_security_protocol="PLAINTEXT")
    )
    processes: list[subprocess.Popen[str]] = []
    try:
        for stage in STAGES:
            out = (log_dir / f"stage-{stage}.log").open("w")
            command = [sys.executable, "-m", "fraudkit.streaming", "run", "--stage", stage, "--quiet"]
            process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=out, text=True)
            processes.append(process)
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise LocalAccountError(f"stream stage {stage} did not start: see {out.name}")
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def remaining_resources(env: dict[str, str]) -> dict[str, list[str]]:
    """What is left in the account after destroy, listed through the endpoints: feature groups, endpoints,
    endpoint configs, models, buckets' object versions, stacks not deleted."""
    import boto3

    def client(service: str) -> Any:
        make: Any = boto3.client
        return make(
            service,
            region_name=REGION,
            endpoint_url=env[endpoint_variable(service)],
            aws_access_key_id=CREDENTIAL,
            aws_secret_access_key=CREDENTIAL,
        )

    sagemaker, s3 = client("sagemaker"), client("s3")
    objects = []
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket["Name"]):
            objects += [f"s3://{bucket['Name']}/{item['Key']}" for item in page.get("Versions", [])]
    stacks = client("cloudformation").list_stacks()["StackSummaries"]
    return {
        "feature groups": [g["FeatureGroupName"] for g in sagemaker.list_feature_groups()["FeatureGroupSummaries"]],
        "endpoints": [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]],
        "endpoint configs": [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]],
        "models": [m["ModelName"] for m in sagemaker.list_models()["Models"]],
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
        "bucket objects": objects,
        "stacks": [s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"],
    }


def _notebook_runs(out: Path) -> list[dict[str, Any]]:
    summary = out / "workshop.json"
    return list(json.loads(summary.read_text())["notebooks"]) if summary.is_file() else []


def run(out: Path, scale: str = "tiny", seed: int = 42) -> dict[str, Any]:
    """Deploy, every notebook on backend=aws, 99_cleanup, destroy; writes `out/calls.json` (and returns it)."""
    from fraudkit.aws.deploy import MAIN_TEMPLATE
    from fraudkit.workshop import discover_notebooks

    out = out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    account = LocalAccount(out / "account")
    report: dict[str, Any] = {"scale": scale, "seed": seed, "stack": STACK_NAME, "notebooks": []}
    started = time.monotonic()
    with account.running():
        env = account.process_env(out / "state", scale, seed)
        log = account.log

        log.phase = "deploy"
        code = placeholder_code(out / "placeholder-lambda.zip")
        local = [f"{key}={value}" for key, value in LOCAL_PARAMETERS.items()]
        _kit("fraudkit.aws.deploy", "deploy", "--code", str(code), *[f"--parameter={pair}" for pair in local], env=env)
        import boto3

        cloudformation: Any = boto3.client(
            "cloudformation",
            region_name=REGION,
            endpoint_url=env[endpoint_variable("cloudformation")],
            aws_access_key_id=CREDENTIAL,
            aws_secret_access_key=CREDENTIAL,
        )
        stack = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
        for line in check_outputs(stack, MAIN_TEMPLATE, account.bootstrap_servers):
            print(line, flush=True)
        report["outputs"] = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}

        options = ["--backend", "aws", "--scale", scale, "--seed", str(seed), "--state-dir", str(out / "state")]
        options += ["--out", str(out), "--quiet", "--only"]

        def notebooks(numbers: tuple[str, ...]) -> None:
            (out / "workshop.json").unlink(missing_ok=True)
            try:
                _kit("fraudkit.workshop", *options, *numbers, env=env)
            finally:  # each step rewrites workshop.json with its own notebooks
                report["notebooks"] += _notebook_runs(out)

        numbers = [path.name[:2] for path in discover_notebooks(REPO / "notebooks")]
        try:
            log.phase = "notebooks"
            notebooks(tuple(n for n in numbers if n < STREAM_FROM))
            with stream_stages(env, out):
                notebooks(tuple(n for n in numbers if STREAM_FROM <= n < CLEANUP_FROM))
            notebooks(tuple(n for n in numbers if n >= CLEANUP_FROM))
        finally:
            log.phase = "destroy"
            _kit("fraudkit.aws.deploy", "destroy", "--yes", env=env)
            log.phase = "verify"
            report["remaining"] = remaining_resources(env)
            report["seconds"] = round(time.monotonic() - started, 1)
            report["calls"] = log.compacted()
            (out / "calls.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


@contextlib.contextmanager
def _interrupted() -> Iterator[None]:
    with contextlib.suppress(KeyboardInterrupt):
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fraudkit.aws.local_account",
        description="A local AWS account on 127.0.0.1 (moto, the kit's emulator for SageMaker, the kit's broker "
        "for MSK) behind recording proxies; `run` deploys the stack's LocalAccount=true variant, runs every "
        "notebook on backend=aws, 99_cleanup and destroy, and writes OUT/calls.json.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    whole = commands.add_parser("run", help="deploy, notebooks, cleanup, destroy; OUT/calls.json")
    whole.add_argument("--out", type=Path, default=Path("build/aws-local"), help="default: build/aws-local")
    whole.add_argument("--scale", choices=("tiny", "small", "full"), default="tiny", help="default: tiny")
    whole.add_argument("--seed", type=int, default=42)
    up = commands.add_parser("up", help="start the account, print its environment, wait for Ctrl-C")
    up.add_argument("--dir", type=Path, default=Path("build/aws-local-account"), help="its state")
    args = parser.parse_args(argv)
    # a stopped run still stops what it started and destroys the stack (the `finally` blocks)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        if args.command == "run":
            report = run(args.out, args.scale, args.seed)
            failed = [nb["name"] for nb in report["notebooks"] if nb["status"] != "ok"]
            left = {kind: names for kind, names in report["remaining"].items() if names}
            print(f"{len(report['calls'])} call entries, {report['seconds']} s: {args.out / 'calls.json'}")
            if failed or left:
                print(f"failed notebooks: {failed}; left in the account: {left}", file=sys.stderr)
                return 1
            return 0
        account = LocalAccount(args.dir.resolve())
        with account.running(), _interrupted():
            env = {**account.env, "FRAUDKIT_BACKEND": "aws", "FRAUDKIT_STACK_NAME": STACK_NAME,
                   "FRAUDKIT_BOOTSTRAP_SERVERS": account.bootstrap_servers,
                   "FRAUDKIT_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}  # fmt: skip
            print("\n".join(f"export {name}={value}" for name, value in sorted(env.items())), flush=True)
            signal.pause()
        return 0
    except LocalAccountError as error:
        print(f"local account: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
