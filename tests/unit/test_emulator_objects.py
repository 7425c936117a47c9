"""The emulator's object store: chosen once from `--s3-endpoint` / FRAUDKIT_EMULATOR_S3_ENDPOINT."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fraudkit.emulator.__main__ import S3_ENDPOINT_VAR, build_parser, s3_endpoint
from fraudkit.emulator.core import EmulatorState
from fraudkit.emulator.exceptions import ValidationException
from fraudkit.emulator.objects import LocalObjects, ObjectUnavailable, S3Objects


def test_the_option_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(S3_ENDPOINT_VAR, "http://127.0.0.1:5001/")
    assert s3_endpoint("http://127.0.0.1:5002") == "http://127.0.0.1:5002"
    assert s3_endpoint(None) == "http://127.0.0.1:5001"
    monkeypatch.setenv(S3_ENDPOINT_VAR, "")
    assert s3_endpoint(None) is None


@pytest.mark.parametrize("url", ["127.0.0.1:5000", "ftp://host", "http://", "http://host:99999"])
def test_a_malformed_endpoint_exits_2(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["serve", "--s3-endpoint", url])
    assert caught.value.code == 2
    monkeypatch.setenv(S3_ENDPOINT_VAR, url)
    with pytest.raises(SystemExit) as caught:
        s3_endpoint(None)
    assert caught.value.code == 2


def test_the_state_opens_local_files_unless_given_an_endpoint(tmp_path: Path) -> None:
    local = EmulatorState(tmp_path).objects
    assert isinstance(local, LocalObjects)
    local.put("s3://bucket/a/b.bin", b"body")
    assert (tmp_path / "emulator" / "s3" / "bucket" / "a" / "b.bin").read_bytes() == b"body"
    assert local.get("s3://bucket/a/b.bin") == b"body"
    assert isinstance(EmulatorState(tmp_path, s3_endpoint="http://127.0.0.1:1").objects, S3Objects)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_endpoint_is_an_error_of_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "any")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "any")
    objects = S3Objects(f"http://127.0.0.1:{closed_port()}", "us-east-1")
    with pytest.raises(
        ValidationException, match=r"Could not access model data at s3://bucket/model\.tar\.gz"
    ):
        objects.check_model_data("s3://bucket/model.tar.gz")
    with pytest.raises(ObjectUnavailable):
        objects.get("s3://bucket/model.tar.gz")
    with pytest.raises(Exception, match="Could not connect"):
        objects.put("s3://bucket/key", b"body")
    with pytest.raises(ValidationException, match="naming rules"):
        objects.put("s3://Bad_Bucket/key", b"body")
