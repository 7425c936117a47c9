"""`make lab` smoke test: JupyterLab as `fraudkit.lab` starts it (root or not) lists the kit's kernel
through its REST API and runs notebook 00 in a session on that kernel."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest
import websocket
from fraudkit.lab import KERNEL_NAME, lab_command, register_kernel, running_as_root
from fraudkit.services import stop_local_services
from fraudkit.workshop import committed_output_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "00_setup.ipynb"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _api(base: str, token: str, path: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{base}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


def _wait_until_up(base: str, token: str, server: subprocess.Popen[bytes], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {server.returncode}")
        try:
            _api(base, token, "/api/status")
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    raise AssertionError(f"JupyterLab did not answer within {timeout_s:.0f} s")


def _execute(channel: websocket.WebSocket, code: str, timeout_s: float = 120.0) -> dict[str, Any]:
    """Run `code` on the kernel behind `channel`; returns the execute_reply's content (errors included)."""
    msg_id = uuid.uuid4().hex
    channel.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": "smoke", "username": "test", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False},
    }))  # fmt: skip
    deadline = time.monotonic() + timeout_s
    errors: list[str] = []
    while time.monotonic() < deadline:
        message = json.loads(channel.recv())
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "error":
            errors.append("\n".join(message["content"]["traceback"]))
        if message["msg_type"] == "execute_reply":
            return {**message["content"], "errors": errors}
    raise AssertionError(f"no reply within {timeout_s:.0f} s to {code[:60]!r}")


def test_lab_lists_the_kit_kernel_and_runs_notebook_00(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"  # the kernel spec goes where `make lab` puts it, in a throwaway prefix
    register_kernel(prefix=str(prefix))
    state_dir = tmp_path / ".fraudkit"
    env = {name: value for name, value in os.environ.items() if not name.startswith("FRAUDKIT_")}
    env |= committed_output_env(state_dir) | {
        "JUPYTER_PATH": str(prefix / "share" / "jupyter"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    port, token = _free_port(), uuid.uuid4().hex
    command = [*lab_command(ROOT / "notebooks", port, token, running_as_root()), "--no-browser"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, token, server)
        specs = _api(base, token, "/api/kernelspecs")["kernelspecs"]
        assert KERNEL_NAME in specs, f"kernels listed: {sorted(specs)}"
        session = _api(base, token, "/api/sessions", "POST", {
            "path": NOTEBOOK, "name": NOTEBOOK, "type": "notebook", "kernel": {"name": KERNEL_NAME},
        })  # fmt: skip
        channel = websocket.create_connection(
            f"ws://127.0.0.1:{port}/api/kernels/{session['kernel']['id']}/channels?token={token}", timeout=120
        )
        try:
            notebook = nbformat.read(ROOT / "notebooks" / NOTEBOOK, as_version=4)
            for cell in (cell for cell in notebook.cells if cell.cell_type == "code"):
                reply = _execute(channel, cell.source)
                assert reply["status"] == "ok", f"{cell.source[:80]!r} failed:\n" + "\n".join(reply["errors"])
        finally:
            channel.close()
        _api(base, token, f"/api/sessions/{session['id']}", "DELETE")
    finally:
        server.terminate()
        server.wait(timeout=30)
        stop_local_services(state_dir)
