"""`fraudkit.aws.package`: reproducible zips, the size quota, and code that runs from the zip alone.

The zips here are built for Lambda's platform (CPython 3.13, manylinux x86_64) with wheels from
PyPI, and run in a virtual environment of a local CPython 3.13 whose only import path is the
unpacked zip. The package of `fraudkit.streaming.msk` (the MSK event decoder, with kafka-python)
exercises the whole build; the handlers' own package is built once and run against the emulator and
the broker, on the aws backend as the functions run it, next to the pinned boto3 the runtime provides.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fraudkit.aws import package

PYTHON_313 = Path("/root/.pyenv/versions/3.13.0/bin/python3.13")
MSK_ENTRY = ("fraudkit.streaming.msk",)


@pytest.fixture(scope="module")
def msk_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return package.build(tmp_path_factory.mktemp("first"), entries=MSK_ENTRY)


def python_313() -> Path:
    found = shutil.which("python3.13")
    if PYTHON_313.exists():
        return PYTHON_313
    if found:
        return Path(found)
    pytest.skip("no CPython 3.13 on this machine to run Lambda's python3.13 package")


def test_plan_holds_only_what_the_entry_imports() -> None:
    plan = package.make_plan(MSK_ENTRY)
    assert sorted(plan.modules) == ["fraudkit", "fraudkit.streaming", "fraudkit.streaming.msk"]
    assert plan.distributions == {"kafka-python": "3.0.12"}
    assert plan.why["kafka-python"] == "fraudkit.streaming.msk imports kafka"


def test_build_twice_gives_identical_bytes(msk_zip: Path, tmp_path: Path) -> None:
    again = package.build(tmp_path, entries=MSK_ENTRY)
    assert again.read_bytes() == msk_zip.read_bytes()


def test_zip_entries_are_normalized(msk_zip: Path) -> None:
    infos = zipfile.ZipFile(msk_zip).infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert not [
        name for name in names if "__pycache__" in name or name.endswith(".pyc") or name.startswith("bin/")
    ]
    assert "fraudkit/streaming/msk.py" in names and "kafka/__init__.py" in names
    assert "fraudkit/streaming/handlers.py" not in names  # only what the entry imports
    assert any(name.startswith("kafka_python-3.0.12.dist-info/") for name in names)


def test_zip_is_within_lambda_quota(msk_zip: Path) -> None:
    unzipped = sum(info.file_size for info in zipfile.ZipFile(msk_zip).infolist())
    assert 0 < unzipped <= package.UNZIPPED_LIMIT


def test_over_the_limit_fails_before_downloading(tmp_path: Path) -> None:
    with pytest.raises(package.PackageTooLarge, match=r"kafka-python: fraudkit.streaming.msk imports kafka"):
        package.build(tmp_path, entries=MSK_ENTRY, limit=100_000)
    assert not (tmp_path / "wheels").exists()


def test_handlers_plan_fits_lambda() -> None:
    plan = package.make_plan()
    assert not package.RUNTIME_PROVIDED & set(plan.distributions), "the runtime's boto3 is not bundled"
    assert {"polars", "kafka-python", "aws-msk-iam-sasl-signer-python"} <= set(plan.distributions)
    package.check_size(plan.estimated_bytes, plan, package.UNZIPPED_LIMIT, "estimated")


def test_msk_decoder_runs_from_the_zip_in_a_clean_venv(msk_zip: Path, tmp_path: Path) -> None:
    unpacked = tmp_path / "task"
    zipfile.ZipFile(msk_zip).extractall(unpacked)
    subprocess.run([str(python_313()), "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    value = json.dumps({"cc_num": "4000123412341234", "amount": 12.5}).encode()
    event = {  # the payload Lambda's MSK event source mapping delivers
        "eventSource": "aws:kafka",
        "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/fraudkit-msk/5b7c-2",
        "bootstrapServers": "b-1.fraudkit.kafka.us-east-1.amazonaws.com:9098",
        "records": {
            "features-0": [
                {
                    "topic": "features",
                    "partition": 0,
                    "offset": 41,
                    "timestamp": 1764300000000,
                    "timestampType": "CREATE_TIME",
                    "key": base64.b64encode(b"4000123412341234").decode(),
                    "value": base64.b64encode(value).decode(),
                    "headers": [{"source": [112, 121]}],
                }
            ]
        },
    }
    script = (
        "import json, sys, kafka, fraudkit.streaming.msk as msk\n"
        "import importlib.util\n"
        "assert importlib.util.find_spec('boto3') is None  # nothing but the zip: not even the SDK\n"
        "[r] = msk.msk_records(json.loads(sys.stdin.read()))\n"
        "print(json.dumps([r.topic, r.partition, r.offset, r.key.decode(), json.loads(r.value), r.headers[0][0],"
        " list(r.headers[0][1]), msk.__file__, kafka.__file__, sys.version_info[:2]]))\n"
    )
    result = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c", script],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    topic, partition, offset, key, decoded, header, header_value, msk_file, kafka_file, version = json.loads(
        result.stdout
    )
    assert (topic, partition, offset, key) == ("features", 0, 41, "4000123412341234")
    assert decoded == {"cc_num": "4000123412341234", "amount": 12.5}
    assert (header, header_value) == ("source", [112, 121])
    assert msk_file.startswith(str(unpacked)) and kafka_file.startswith(str(unpacked))
    assert version == [3, 13]


def runtime_venv(path: Path) -> Path:
    """A CPython 3.13 virtual environment holding what Lambda's runtime adds to a function: the pinned boto3."""
    subprocess.run([str(python_313()), "-m", "venv", str(path)], check=True)
    pins = package.read_pins(package.REQUIREMENTS)
    subprocess.run(
        [str(path / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         *(f"{name}=={pins[name]}" for name in ("boto3", "botocore"))],
        check=True,
    )
    return path / "bin" / "python"


HANDLER_SCRIPT = """
import json, sys
from fraudkit.streaming import handlers
event = json.loads(sys.stdin.read())
print(json.dumps([handlers.ingest_handler(event, None), handlers.scoring_handler(event, None), handlers.__file__]))
"""


def run_handlers(python: Path, path: Path, environment: dict[str, str], event: dict[str, Any]) -> list[Any]:
    """Both handlers on `event` in a process whose imports come from `path` alone; their results."""
    result = subprocess.run(
        [str(python), "-c", HANDLER_SCRIPT],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env={**environment, "PYTHONPATH": str(path), "PATH": "/usr/bin:/bin"},
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    decoded: list[Any] = json.loads(result.stdout.splitlines()[-1])
    return decoded


def test_handlers_run_from_the_zip_in_a_clean_venv(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The deployed handlers on a real MSK event, on the aws backend as the functions run it: AWS calls to
    the emulator through botocore's endpoint variables, Kafka to the broker named by the event."""
    zipped = package.build(tmp_path / "build")
    from fraudkit.streaming.load import stage_environment
    from fraudkit.streaming.msk import msk_event

    from tests.fixtures.streaming import enriched_records, history, read_all

    topics = request.getfixturevalue("topics")  # the emulator, the broker, the model: only when it can run
    records = enriched_records(topics, 20)
    event = msk_event([*records, records[0]._replace(value=b"{}")], topics.kafka_bootstrap_servers)
    event = json.loads(json.dumps(event))  # as Lambda delivers it: JSON
    unpacked = tmp_path / "task"
    zipfile.ZipFile(zipped).extractall(unpacked)
    venv_python = runtime_venv(tmp_path / "venv")
    environment = {k: v for k, v in stage_environment(topics).items() if k.startswith(("FRAUDKIT_", "AWS_"))}
    environment.update(
        topics.endpoint_env(),
        FRAUDKIT_BACKEND="aws",  # what the stack sets; the local backend is not in the package
        FRAUDKIT_KAFKA_SECURITY_PROTOCOL="PLAINTEXT",  # the local broker stands in for MSK's IAM listener
    )
    environment.pop("FRAUDKIT_BOOTSTRAP_SERVERS")  # the functions take the brokers from the event

    ingested, decided, location = run_handlers(venv_python, unpacked, environment, event)

    assert ingested == {"ingested": 20, "dead_letters": 1}
    assert decided == {"decided": 20, "dead_letters": 1}
    assert {d["tid"] for d in read_all(topics, topics.decisions_topic)} == set(history(topics, 20)["tid"])
    assert location.startswith(str(unpacked))
