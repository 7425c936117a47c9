"""Start, find and stop the emulator as a background process serving one state directory.

The running server is recorded in `state_dir/emulator/server.json` = {"pid", "port", "url"}; the
server writes it once it listens and removes it on a clean exit, so a record whose process is gone
or does not answer is stale.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from fraudkit.config import DEFAULT_EMULATOR_PORT, process_alive, read_service_record

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def record_path(state_dir: Path) -> Path:
    return Path(state_dir) / "emulator" / "server.json"


def log_path(state_dir: Path) -> Path:
    return Path(state_dir) / "emulator" / "server.log"


def write_record(state_dir: Path, port: int) -> dict[str, Any]:
    """Atomically write this process's server record."""
    record = {"pid": os.getpid(), "port": port, "url": f"http://127.0.0.1:{port}"}
    path = record_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".server.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)
    return record


def remove_record(state_dir: Path) -> None:
    """Remove the record if it still names this process (a newer server may have replaced it)."""
    path = record_path(state_dir)
    record = read_service_record(path)
    if record and record.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_fraudkit/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def status(state_dir: Path) -> dict[str, Any] | None:
    """The running server's record for `state_dir`, or None if none is running and answering."""
    record = read_service_record(record_path(state_dir))
    if not record or not isinstance(record.get("pid"), int) or not isinstance(record.get("url"), str):
        return None
    if not process_alive(record["pid"]) or not healthy(record["url"]):
        return None
    return record


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start(state_dir: Path, port: int | None = None) -> dict[str, Any]:
    """Start a server in the background (or return the one already serving `state_dir`).

    `port` None means the default port when free, else any free port; 0 means any free port.
    """
    state_dir = Path(state_dir).resolve()
    running = status(state_dir)
    if running:
        return running
    if port is None:
        port = DEFAULT_EMULATOR_PORT if _port_free(DEFAULT_EMULATOR_PORT) else 0
    record_path(state_dir).unlink(missing_ok=True)
    log = log_path(state_dir)
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "fraudkit.emulator", "serve", "--port", str(port), "--state-dir", str(state_dir), "--quiet"]
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"the emulator exited with code {process.returncode} while starting:\n{tail}")
        record = read_service_record(record_path(state_dir))
        if record and record.get("pid") == process.pid and healthy(str(record["url"]), timeout=1.0):
            return record
        time.sleep(0.05)
    process.terminate()
    raise RuntimeError(f"the emulator did not answer within {READY_TIMEOUT:.0f} s; see {log}")


def stop(state_dir: Path) -> bool:
    """Stop the server serving `state_dir` (it flushes its offline buffers); True if one was running."""
    path = record_path(state_dir)
    record = read_service_record(path)
    if not record or not isinstance(record.get("pid"), int) or not process_alive(record["pid"]):
        path.unlink(missing_ok=True)
        return False
    pid = record["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and process_alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it when it is our own child
        time.sleep(0.05)
    if process_alive(pid):
        os.kill(pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    return True
