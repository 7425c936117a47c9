"""Start, find and stop the emulator as a background process serving one state directory.

The running server records itself in `service_files(state_dir, "emulator").record` = {"pid", "port",
"url", "s3_endpoint", "identity"} once it listens and removes the record on a clean exit; the lifecycle (spawn,
wait, identity checks, stop) is `fraudkit.background`'s, shared with the broker.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from fraudkit import background
from fraudkit.config import DEFAULT_EMULATOR_PORT, ServiceFiles, read_service_record, service_files

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def _files(state_dir: Path) -> ServiceFiles:
    return service_files(state_dir, "emulator")


def write_record(state_dir: Path, port: int, s3_endpoint: str | None = None) -> dict[str, Any]:
    """Record this process as the server of `state_dir` (called by the server once it listens)."""
    fields = {"pid": os.getpid(), "port": port, "url": f"http://127.0.0.1:{port}", "s3_endpoint": s3_endpoint}
    return background.write_record(_files(state_dir).record, fields)


def remove_record(state_dir: Path) -> None:
    background.remove_record(_files(state_dir).record, os.getpid())


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_fraudkit/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _answers(record: dict[str, Any]) -> bool:
    return isinstance(record.get("url"), str) and healthy(record["url"])


def status(state_dir: Path) -> dict[str, Any] | None:
    """The running server's record for `state_dir`, or None if none is running and answering."""
    return background.status(_files(state_dir), _answers)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start(state_dir: Path, port: int | None = None, *, s3_endpoint: str | None = None) -> dict[str, Any]:
    """Start a server in the background (or return the one already serving `state_dir`).

    `port` None means the default port when free, else any free port; 0 means any free port.
    `s3_endpoint` is `serve --s3-endpoint` (None: the server's environment decides); a server already
    running with another one is an error rather than silently the wrong store.
    """
    state_dir = Path(state_dir).resolve()
    running = status(state_dir)
    if running:
        if s3_endpoint is not None and running.get("s3_endpoint") != s3_endpoint:
            raise RuntimeError(
                f"the emulator serving {state_dir} (pid {running.get('pid')}) uses S3 endpoint "
                f"{running.get('s3_endpoint')}, not {s3_endpoint}: stop it first"
            )
        return running
    if port is None:
        port = DEFAULT_EMULATOR_PORT if _port_free(DEFAULT_EMULATOR_PORT) else 0
    files = _files(state_dir)
    files.record.unlink(missing_ok=True)
    command = [sys.executable, "-m", "fraudkit.emulator", "serve", "--port", str(port), "--state-dir", str(state_dir), "--quiet"]
    if s3_endpoint is not None:
        command += ["--s3-endpoint", s3_endpoint]

    def serving(process: subprocess.Popen[bytes]) -> bool:
        record = read_service_record(files.record)
        return record is not None and record.get("pid") == process.pid and healthy(str(record["url"]), timeout=1.0)

    return background.start(files, command, serving, READY_TIMEOUT)


def stop(state_dir: Path) -> bool:
    """Stop the server serving `state_dir` (it flushes its offline buffers); True if one was running."""
    return background.stop(_files(state_dir), STOP_TIMEOUT)
