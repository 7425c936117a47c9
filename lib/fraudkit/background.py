"""One lifecycle for the kit's background services (the emulator, the broker): start, status, stop.

A service runs detached (its own session, so it outlives the notebook or CLI that started it) and
is recorded in a JSON file under state_dir (`fraudkit.config.service_files`). A pid alone does not
name a process: after a crash or a reboot the recorded pid can belong to an unrelated process of the
user. So the record carries the process's identity (boot, start time, command line), and a process
is signalled only while it still has that identity. A record whose pid now names another process is
stale: it is removed, nothing is signalled, and a warning says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from fraudkit.config import ServiceFiles, read_service_record

log = logging.getLogger(__name__)

KILL_WAIT_S = 5.0
_PROC = Path("/proc")


class ServiceError(RuntimeError):
    """A service could not be started; the message says why and shows the end of its log."""


def process_identity(pid: int) -> dict[str, Any] | None:
    """What tells process `pid` apart from any later process with the same pid.

    None when no live process has that pid (a zombie counts as gone) or its identity cannot be read.
    Linux: /proc, exact (start time in clock ticks since boot, plus the boot id); elsewhere psutil's
    creation time, which on Linux would derive from a boot time that moves with clock adjustments.
    """
    if pid <= 0:  # 0 and negatives name process groups, never one recorded process
        return None
    return _proc_identity(pid) if _PROC.joinpath("self", "stat").exists() else _psutil_identity(pid)


def _proc_identity(pid: int) -> dict[str, Any] | None:
    try:
        stat = _PROC.joinpath(str(pid), "stat").read_text(errors="replace")
        cmdline = _PROC.joinpath(str(pid), "cmdline").read_bytes()
        boot_id = _PROC.joinpath("sys", "kernel", "random", "boot_id").read_text().strip()
    except OSError:
        return None
    # field 2, the command name, is parenthesised and may hold spaces and ')': count from the last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    state, start_ticks = fields[0], int(fields[22 - 3])  # fields 3 (state) and 22 (starttime)
    if state in ("Z", "X"):
        return None
    args = cmdline.decode(errors="replace").split("\0")[:-1]
    return {"boot_id": boot_id, "start_ticks": start_ticks, "cmdline": args}


def _psutil_identity(pid: int) -> dict[str, Any] | None:
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            return {"create_time": process.create_time(), "cmdline": process.cmdline()}
    except psutil.Error:
        return None


def is_running(record: dict[str, Any]) -> bool:
    """Whether the process a record names still runs as the very process that was recorded."""
    pid, identity = record.get("pid"), record.get("identity")
    return isinstance(pid, int) and identity is not None and process_identity(pid) == identity


def write_record(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Write `record` plus the identity of its process `record["pid"]` atomically (readers never see half)."""
    record = {**record, "identity": process_identity(record["pid"])}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(record))
    partial.replace(path)
    return record


def remove_record(path: Path, pid: int) -> None:
    """Remove the record if it still names `pid` (a newer service may have replaced it meanwhile)."""
    record = read_service_record(path)
    if record is not None and record.get("pid") == pid:
        path.unlink(missing_ok=True)


def _checked(files: ServiceFiles) -> dict[str, Any] | None:
    """The record if its process still runs; a record that names no such process is removed, with a
    warning when its pid is now another process (or the record holds no identity to check it by)."""
    record = read_service_record(files.record)
    if record is None or is_running(record):
        return record
    pid = record.get("pid")
    if not isinstance(pid, int):
        files.record.unlink(missing_ok=True)
        return None
    remove_record(files.record, pid)
    if process_identity(pid) is not None:
        why = (
            "is another process now"
            if record.get("identity")
            else f"cannot be checked (the record holds no identity; if it is the {files.service}, end it yourself)"
        )
        log.warning(
            "%s: pid %d recorded in %s %s: removed the stale record, signalled nothing",
            files.service,
            pid,
            files.record,
            why,
        )
    return None


def status(files: ServiceFiles, answers: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """The record of the running service when it `answers`, else None (a stale record is removed)."""
    record = _checked(files)
    return record if record is not None and answers(record) else None


def start(
    files: ServiceFiles,
    command: list[str],
    ready: Callable[[subprocess.Popen[bytes]], bool],
    timeout_s: float,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Spawn `command` detached, wait until `ready(process)`, and return the service's record.

    With `record` None the service writes its own record (`write_record`, once it serves), and `ready`
    waits for it; otherwise `record` plus the pid and identity is written here once it is ready.
    Raises ServiceError, with the end of the log, if the process exits first or is not ready within
    `timeout_s` (it is killed then: it never served anyone).
    """
    files.log.parent.mkdir(parents=True, exist_ok=True)
    with files.log.open("ab") as output:
        # its own session: the service outlives the notebook or CLI that started it, until stop()
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + timeout_s
    while not ready(process):
        if process.poll() is not None:
            raise ServiceError(
                f"the {files.service} exited with code {process.returncode} while starting; {_log_tail(files.log)}"
            )
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise ServiceError(
                f"the {files.service} was not ready within {timeout_s:.0f} s; {_log_tail(files.log)}"
            )
        time.sleep(0.05)
    if record is not None:
        return write_record(files.record, {"pid": process.pid, **record})
    written = read_service_record(files.record)
    if written is None or written.get("pid") != process.pid:
        raise ServiceError(f"the {files.service} was ready but did not record itself in {files.record}")
    return written


def stop(files: ServiceFiles, grace_s: float) -> bool:
    """Stop the recorded process (SIGTERM, SIGKILL after `grace_s`) and remove its record; True if it ran.

    Only the recorded process is ever signalled: a stale record is removed instead (see `_checked`).
    """
    record = _checked(files)
    if record is None:
        return False
    pid, identity = record["pid"], record["identity"]
    if _signal(pid, identity, signal.SIGTERM) and not _wait_gone(pid, identity, grace_s):
        log.warning("%s: pid %d still runs %.0f s after SIGTERM: killing it", files.service, pid, grace_s)
        if _signal(pid, identity, signal.SIGKILL):
            _wait_gone(pid, identity, KILL_WAIT_S)
    remove_record(files.record, pid)
    return True


def _signal(pid: int, identity: dict[str, Any], signum: int) -> bool:
    """Send `signum` to `pid` only if it is still the recorded process; False when it is not.

    On Linux a pidfd, opened before the check, pins the process: a pid freed and reused between the
    check and the signal cannot receive it.
    """
    try:
        pidfd: int | None = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    except ProcessLookupError:
        return False
    except OSError:  # a kernel without pidfds (before 5.3)
        pidfd = None
    try:
        if process_identity(pid) != identity:
            return False
        if pidfd is None:
            os.kill(pid, signum)
        else:
            signal.pidfd_send_signal(pidfd, signum)
        return True
    except ProcessLookupError:
        return False
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _wait_gone(pid: int, identity: dict[str, Any], timeout_s: float) -> bool:
    """Wait until `pid` is no longer the recorded process; reap it when it is our own child."""
    deadline = time.monotonic() + timeout_s
    while process_identity(pid) == identity:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return True


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        tail = ["(no log)"]
    return "\n".join([f"log {path}:", *tail])
