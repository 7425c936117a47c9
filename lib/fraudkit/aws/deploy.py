"""Deploy and destroy the kit's CloudFormation stacks (`make deploy`, `make destroy`).

Two stacks, because the Lambda code must be in S3 before the stack that creates the functions:
`<name>-bootstrap` (cloudformation/bootstrap.yaml: the artifacts bucket and the access-log bucket)
and `<name>` (cloudformation/fraudkit.yaml: everything else), `<name>` from FRAUDKIT_STACK_NAME.
Deploy: bootstrap stack, build and upload the zip under a content-addressed key, then the main
stack. Every stack change goes through a change set that is printed before it is executed;
`--dry-run` prints the change sets and deletes them unexecuted.

Destroy: the workshop's SageMaker resources (through `fraudkit.aws.teardown`), then every object
version of the stacks' versioned buckets, then the stacks. The Kafka topics go with the cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from fraudkit.aws.package import DEFAULT_OUT, PackageError, sha256_of
from fraudkit.aws.stack import outputs_by_key
from fraudkit.config import Settings
from fraudkit.streaming.flink_app.package import APP_ZIP

TEMPLATE_DIR = Path(__file__).resolve().parents[3] / "cloudformation"
BOOTSTRAP_TEMPLATE = TEMPLATE_DIR / "bootstrap.yaml"
MAIN_TEMPLATE = TEMPLATE_DIR / "fraudkit.yaml"
TEMPLATE_BODY_LIMIT = 51_200  # CreateChangeSet's TemplateBody maximum, in bytes
CAPABILITIES = ["CAPABILITY_IAM"]  # the templates create roles and policies without fixed names
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
PLACEHOLDER = "created-by-the-bootstrap-stack"  # parameter values a dry run cannot know yet
DEFAULT_FLINK_APP = DEFAULT_OUT / APP_ZIP  # `make package` builds it where its Maven jars can be had
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}
# (stack, logical id) of the versioned buckets destroy empties, main stack first
BUCKETS = (("main", "DataBucket"), ("bootstrap", "ArtifactsBucket"), ("bootstrap", "AccessLogBucket"))


class DeployError(RuntimeError):
    """The deployment cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Stacks:
    """The two stack names and the clients deploy and destroy work with."""

    settings: Settings
    cloudformation: Any
    s3: Any

    @classmethod
    def from_settings(cls, settings: Settings) -> Stacks:
        return cls(settings, settings.client("cloudformation"), settings.client("s3"))

    @property
    def main(self) -> str:
        return self.settings.stack_name

    @property
    def bootstrap(self) -> str:
        return f"{self.settings.stack_name}-bootstrap"

    def status(self, stack: str) -> str | None:
        """The stack's status, or None when it does not exist."""
        try:
            return str(self.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"])
        except ClientError as error:
            if "does not exist" in error.response.get("Error", {}).get("Message", ""):
                return None
            raise

    def physical_id(self, stack: str, logical_id: str) -> str:
        """The physical id (a bucket's name) of a stack's resource, read from ListStackResources."""
        for page in self.cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
            for resource in page["StackResourceSummaries"]:
                if resource["LogicalResourceId"] == logical_id:
                    return str(resource["PhysicalResourceId"])
        raise DeployError(f"stack {stack} has no resource {logical_id}")


def _wait(stacks: Stacks, waiter: str, stack: str) -> None:
    """Wait (up to an hour: MSK takes about 30 minutes) for the stack to reach the waiter's state."""
    try:
        stacks.cloudformation.get_waiter(waiter).wait(
            StackName=stack, WaiterConfig={"Delay": 10, "MaxAttempts": 360}
        )
    except WaiterError as error:
        raise DeployError(f"stack {stack}: {error}; see its events in the CloudFormation console") from None


def change_table(changes: Iterable[dict[str, Any]]) -> str:
    """The change set's resource changes as an aligned text table."""
    rows = [("action", "logical id", "type", "replacement")]
    for change in changes:
        item = change["ResourceChange"]
        rows.append(
            (
                item["Action"],
                item["LogicalResourceId"],
                item["ResourceType"],
                item.get("Replacement", "") or "",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _changes(stacks: Stacks, stack: str, change_set: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    pages = stacks.cloudformation.get_paginator("describe_change_set").paginate(
        StackName=stack, ChangeSetName=change_set
    )
    description: dict[str, Any] = {}
    changes: list[dict[str, Any]] = []
    for page in pages:
        description = page
        changes += page.get("Changes", [])
    return description, changes


def deploy_stack(
    stacks: Stacks,
    stack: str,
    template: Path,
    parameters: dict[str, str],
    dry_run: bool,
    say: Callable[[str], None] = print,
) -> bool:
    """Create a change set for `stack`, print it, then execute it (unless `dry_run`); whether anything changed."""
    body = template.read_text()
    if len(body.encode()) > TEMPLATE_BODY_LIMIT:
        raise DeployError(
            f"{template.name} is over CloudFormation's {TEMPLATE_BODY_LIMIT}-byte TemplateBody limit"
        )
    status = stacks.status(stack)
    if status not in (None, "REVIEW_IN_PROGRESS", *UPDATABLE):
        raise DeployError(f"stack {stack} is {status}: wait for it to settle, or delete it (`make destroy`)")
    kind = "UPDATE" if status in UPDATABLE else "CREATE"
    name = "fraudkit-" + datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    stacks.cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType=kind,
        TemplateBody=body,
        Parameters=[
            {"ParameterKey": key, "ParameterValue": value} for key, value in sorted(parameters.items())
        ],
        Capabilities=CAPABILITIES,
        Description=f"make deploy ({template.name})",
    )
    # a change set without changes ends FAILED, which the waiter raises on; its StatusReason says so
    with contextlib.suppress(WaiterError):
        stacks.cloudformation.get_waiter("change_set_create_complete").wait(
            StackName=stack, ChangeSetName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 120}
        )
    description, changes = _changes(stacks, stack, name)
    if description["Status"] == "FAILED":
        reason = description.get("StatusReason", "")
        _discard(stacks, stack, name, kind)
        if any(text in reason for text in NO_CHANGES):
            say(f"{stack}: no changes")
            return False
        raise DeployError(f"change set for {stack} failed: {reason}")
    say(f"{stack}: change set {name} ({kind}, {len(changes)} changes)\n{change_table(changes)}")
    if dry_run:
        _discard(stacks, stack, name, kind)
        say(f"{stack}: dry run, change set deleted without executing it")
        return True
    say(f"{stack}: executing {name}")
    stacks.cloudformation.execute_change_set(StackName=stack, ChangeSetName=name)
    _wait(stacks, "stack_create_complete" if kind == "CREATE" else "stack_update_complete", stack)
    say(f"{stack}: {stacks.status(stack)}")
    return True


def _discard(stacks: Stacks, stack: str, change_set: str, kind: str) -> None:
    """Delete an unexecuted change set; for CREATE also the empty stack (REVIEW_IN_PROGRESS) it made."""
    stacks.cloudformation.delete_change_set(StackName=stack, ChangeSetName=change_set)
    if kind == "CREATE":
        stacks.cloudformation.delete_stack(StackName=stack)
        _wait(stacks, "stack_delete_complete", stack)


def code_key(zip_path: Path) -> str:
    """The zip's S3 key, named by its SHA-256: a new key is what makes CloudFormation update the code."""
    return f"lambda/fraudkit-lambda-{sha256_of(zip_path)[:16]}.zip"


def upload_code(stacks: Stacks, bucket: str, zip_path: Path, key: str | None = None) -> str:
    """Upload the zip (to `key`, default `code_key`) unless that key is already there; its key."""
    key = key or code_key(zip_path)
    try:
        stacks.s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        stacks.s3.upload_file(str(zip_path), bucket, key)
    return key


def deploy(
    settings: Settings,
    code: Path | None = None,
    parameters: dict[str, str] | None = None,
    dry_run: bool = False,
    say: Callable[[str], None] = print,
    flink_app: Path | None = None,
) -> None:
    """Bootstrap stack, code upload, main stack; `code` is a built zip (default: build it now). Then,
    on AWS, the Managed Flink aggregator when its zip (`flink_app`, default `make package`'s) exists."""
    if code is None:  # first, so a package that cannot be built changes nothing in the account
        from fraudkit.aws.package import build

        code = build()
    stacks = Stacks.from_settings(settings)
    deploy_stack(stacks, stacks.bootstrap, BOOTSTRAP_TEMPLATE, {}, dry_run, say)
    if stacks.status(stacks.bootstrap) is None:  # a dry run of the first deployment
        artifacts = logs = PLACEHOLDER
    else:
        artifacts = stacks.physical_id(stacks.bootstrap, "ArtifactsBucket")
        logs = stacks.physical_id(stacks.bootstrap, "AccessLogBucket")
    key = code_key(code) if dry_run else upload_code(stacks, artifacts, code)
    main_parameters = {"CodeBucket": artifacts, "CodeKey": key, "AccessLogBucket": logs, **(parameters or {})}
    deploy_stack(stacks, stacks.main, MAIN_TEMPLATE, main_parameters, dry_run, say)
    if dry_run:
        return
    flink = flink_parameters(stacks, settings.client("kafka"), artifacts, flink_app or DEFAULT_FLINK_APP, say)
    if flink:
        deploy_stack(stacks, stacks.main, MAIN_TEMPLATE, {**main_parameters, **flink}, dry_run, say)
    outputs = stacks.cloudformation.describe_stacks(StackName=stacks.main)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        say(f"  {output['OutputKey']} = {output['OutputValue']}")


def flink_parameters(
    stacks: Stacks, kafka: Any, artifacts: str, app: Path, say: Callable[[str], None]
) -> dict[str, str]:
    """FlinkAppKey and FlinkBootstrapServers for the Managed Flink aggregator, or {} (saying why).

    The application needs the cluster's brokers, which CloudFormation does not return: they are read
    once the cluster exists (kafka:GetBootstrapBrokers) and the main stack is updated with them.
    """
    outputs = outputs_by_key(stacks.cloudformation.describe_stacks(StackName=stacks.main)["Stacks"][0])
    cluster = outputs.get("MskClusterArn")
    if not cluster:  # the local-account variant has no MSK
        return {}
    if not app.is_file():
        say(f"no Managed Flink application at {app} (make package builds it where Maven Central is reachable): "
            "the stream aggregator is not deployed; run `python -m fraudkit.streaming run --stage aggregator "
            "--backend aws` inside the VPC, or package and deploy again")
        return {}
    brokers = kafka.get_bootstrap_brokers(ClusterArn=cluster).get("BootstrapBrokerStringSaslIam")
    if not brokers:
        raise DeployError(f"MSK cluster {cluster} has no brokers with IAM authentication for the Flink application")
    key = upload_code(stacks, artifacts, app, f"flink/fraudkit-flink-app-{sha256_of(app)[:16]}.zip")
    return {"FlinkAppKey": key, "FlinkBootstrapServers": brokers}


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker of `bucket`; how many there were."""
    count = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(entries), 1000):  # DeleteObjects takes at most 1000 keys
            batch = entries[start : start + 1000]
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            if response.get("Errors"):
                first = response["Errors"][0]
                raise DeployError(f"cannot delete s3://{bucket}/{first['Key']}: {first['Message']}")
            count += len(batch)
    return count


def _delete_stack(stacks: Stacks, stack: str, buckets: list[str], deleted: dict[str, int]) -> None:
    """Empty the stack's buckets, delete it; once more if log delivery refilled a bucket meanwhile."""
    for attempt in (1, 2):
        for bucket in buckets:
            what = f"object versions in s3://{bucket}"
            deleted[what] = deleted.get(what, 0) + empty_bucket(stacks.s3, bucket)
        stacks.cloudformation.delete_stack(StackName=stack)
        try:
            _wait(stacks, "stack_delete_complete", stack)
        except DeployError:
            if attempt == 2:
                raise
            continue
        deleted[f"stack {stack}"] = 1
        return


def destroy(settings: Settings, say: Callable[[str], None] = print) -> dict[str, int]:
    """Delete what the notebooks created, empty the buckets, delete both stacks; what was deleted."""
    from fraudkit.aws.teardown import delete_workshop_resources

    stacks = Stacks.from_settings(settings)
    deleted: dict[str, int] = {}
    names = {"main": stacks.main, "bootstrap": stacks.bootstrap}
    present = {role: stack for role, stack in names.items() if stacks.status(stack) is not None}
    buckets: dict[str, list[str]] = {role: [] for role in names}
    for role, logical_id in BUCKETS:
        if role in present:
            buckets[role].append(stacks.physical_id(present[role], logical_id))
    if "main" in present:
        workshop = settings.replace(backend="aws", offline_store_bucket=buckets["main"][0])
        deleted.update(delete_workshop_resources(workshop))
        _delete_stack(stacks, present["main"], buckets["main"], deleted)
    if "bootstrap" in present:
        _delete_stack(stacks, present["bootstrap"], buckets["bootstrap"], deleted)
    if not present:
        say(f"no stack {stacks.main} or {stacks.bootstrap} in {settings.region}: nothing to delete")
    for what, count in deleted.items():
        say(f"deleted {what}" if what.startswith("stack ") else f"deleted {count} {what}")
    if "main" in present:
        say("the Kafka topics went with the MSK cluster")
    return deleted


def _parameters(pairs: list[str]) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--parameter {pair!r}: expected Key=Value")
        parsed[key] = value
    return parsed


def main(argv: list[str] | None = None, ask: Callable[[str], str] = input) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fraudkit.aws.deploy",
        description="Deploy or destroy the kit's CloudFormation stacks (name from FRAUDKIT_STACK_NAME, default fraudkit).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("deploy", help="package, upload and deploy through printed change sets")
    up.add_argument("--dry-run", action="store_true", help="print the change sets, delete them unexecuted")
    up.add_argument(
        "--code", type=Path, help="an already built Lambda zip (default: build it with make package)"
    )
    up.add_argument(
        "--flink-app", type=Path,
        help=f"the Managed Flink aggregator's zip (default: {DEFAULT_FLINK_APP.relative_to(DEFAULT_OUT.parents[1])} "
        "if make package built it; without it the aggregator is not deployed)",
    )
    up.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of cloudformation/fraudkit.yaml, e.g. MskClusterType=serverless (repeatable)",
    )
    down = commands.add_parser("destroy", help="delete what the notebooks created, then the stacks")
    down.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    settings = Settings.load(backend="aws")
    try:
        if args.command == "deploy":
            deploy(settings, args.code, _parameters(args.parameter), args.dry_run, flink_app=args.flink_app)
            return 0
        if not args.yes:
            question = (
                f"Delete the feature groups, endpoint, models and bucket contents of stack {settings.stack_name} "
                f"in {settings.region}, then stacks {settings.stack_name} and {settings.stack_name}-bootstrap? [y/N] "
            )
            if ask(question).strip().lower() not in ("y", "yes"):
                print("nothing deleted")
                return 1
        destroy(settings)
        return 0
    except (DeployError, PackageError, BotoCoreError, ClientError) as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
