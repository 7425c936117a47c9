"""`python -m fraudkit.emulator serve|env`: export lines, bad input exits 2 with one line, serve answers boto3."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from fraudkit.config import ENDPOINT_ENV_VARS
from fraudkit.emulator import launcher

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "fraudkit.emulator"]


def test_env_prints_one_export_per_endpoint_variable() -> None:
    out = subprocess.run([*CLI, "env", "--port", "4599"], capture_output=True, text=True, check=True, timeout=60).stdout
    lines = out.splitlines()
    for var in ENDPOINT_ENV_VARS:
        assert f"export {var}=http://127.0.0.1:4599" in lines
    assert any(line.startswith("export AWS_ACCESS_KEY_ID=") for line in lines)


@pytest.mark.parametrize("args", [["env", "--port", "99999"], ["env", "--port", "x"], ["serve", "--port", "-1"], ["nothing"]])
def test_bad_arguments_exit_2_without_traceback(args: list[str]) -> None:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "error:" in done.stderr


def test_serve_on_a_busy_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([*CLI, "serve", "--port", str(port), "--state-dir", str(tmp_path)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and f"--port {port}" in done.stderr


def test_serve_prints_exports_and_answers_until_stopped(tmp_path: Path) -> None:
    process = subprocess.Popen([*CLI, "serve", "--port", "0", "--state-dir", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        assert first.startswith("export AWS_ENDPOINT_URL_SAGEMAKER=http://127.0.0.1:")
        url = first.split("=", 1)[1]
        client = boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="any", aws_secret_access_key="any")
        assert client.list_feature_groups()["FeatureGroupSummaries"] == []
        assert launcher.status(tmp_path)["url"] == url
    finally:
        assert launcher.stop(tmp_path)
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.returncode == 0
    assert not (tmp_path / "emulator" / "server.json").exists()
