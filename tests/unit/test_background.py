"""The background-service lifecycle: identities, records, and that stop signals only the recorded process."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fraudkit import background
from fraudkit.background import ServiceError, is_running, process_identity
from fraudkit.config import ServiceFiles, service_files

# stand-in services: one that ends on SIGTERM, one that ignores it
SERVICE = [sys.executable, "-c", "import time; time.sleep(120)"]
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(120)",
]


@pytest.fixture
def files(tmp_path: Path) -> ServiceFiles:
    return service_files(tmp_path, "broker")


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process of the user that happens to hold a recorded pid."""
    process = subprocess.Popen(["sleep", "60"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def _write(files: ServiceFiles, record: dict[str, Any]) -> None:
    files.record.parent.mkdir(parents=True, exist_ok=True)
    files.record.write_text(json.dumps(record))


def test_identity_tells_processes_apart_and_is_none_once_gone(bystander: subprocess.Popen[bytes]) -> None:
    mine, theirs = process_identity(os.getpid()), process_identity(bystander.pid)
    assert mine is not None and theirs is not None and mine != theirs
    assert process_identity(os.getpid()) == mine, "stable while the process runs"
    assert theirs["cmdline"] == ["sleep", "60"]
    bystander.kill()
    deadline = time.monotonic() + 5
    while process_identity(bystander.pid) is not None:  # a zombie until reaped: already gone
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert process_identity(0) is None and process_identity(-1) is None, "pids that name process groups"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="compares /proc with psutil")
def test_proc_identity_reads_the_start_time_field(monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    identity = process_identity(os.getpid())
    assert identity is not None
    ticks = os.sysconf("SC_CLK_TCK")
    assert abs(psutil.boot_time() + identity["start_ticks"] / ticks - psutil.Process().create_time()) < 1.5
    assert identity["boot_id"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    # off Linux the identity comes from psutil, with the same meaning
    monkeypatch.setattr(background, "_PROC", Path("/nonexistent-proc"))
    fallback = process_identity(os.getpid())
    assert fallback is not None and fallback["cmdline"] == identity["cmdline"] and "create_time" in fallback


def test_start_status_stop_round_trip(files: ServiceFiles) -> None:
    record = background.start(files, SERVICE, lambda _: True, 5.0, {"port": 1234})
    assert record["port"] == 1234 and record["identity"] == process_identity(record["pid"])
    assert json.loads(files.record.read_text()) == record
    assert background.status(files, lambda _: True) == record
    assert background.status(files, lambda _: False) is None, "running but not answering"
    assert background.stop(files, grace_s=5.0) is True
    assert not is_running(record) and not files.record.exists()
    assert background.stop(files, grace_s=5.0) is False


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(
    files: ServiceFiles, caplog: pytest.LogCaptureFixture
) -> None:
    def printed_ready(process: subprocess.Popen[bytes]) -> bool:
        return "ready" in files.log.read_text()

    record = background.start(files, STUBBORN, printed_ready, 10.0, {})
    with caplog.at_level(logging.WARNING, logger="fraudkit.background"):
        assert background.stop(files, grace_s=0.5) is True
    assert not is_running(record)
    assert "after SIGTERM: killing it" in caplog.text


def test_a_service_that_dies_while_starting_reports_its_log(files: ServiceFiles) -> None:
    command = [sys.executable, "-c", "import sys; print('no such listener'); sys.exit(3)"]
    with pytest.raises(ServiceError, match=r"(?s)broker exited with code 3 while starting.*no such listener"):
        background.start(files, command, lambda _: False, 10.0, {})
    assert not files.record.exists()


def test_a_service_not_ready_in_time_is_killed(files: ServiceFiles) -> None:
    spawned: list[subprocess.Popen[bytes]] = []

    def never(process: subprocess.Popen[bytes]) -> bool:
        spawned.append(process)
        return False

    with pytest.raises(ServiceError, match="not ready within"):
        background.start(files, SERVICE, never, 0.3, {})
    assert spawned[0].returncode is not None


def test_stop_leaves_an_unrelated_process_with_the_recorded_pid_alone(
    files: ServiceFiles, bystander: subprocess.Popen[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    identity = process_identity(bystander.pid)
    assert identity is not None
    # the same pid started at another time (the pid was reused after a crash or a reboot)
    _write(
        files,
        {
            "pid": bystander.pid,
            "port": 1,
            "identity": {**identity, "start_ticks": identity["start_ticks"] - 1},
        },
    )
    with caplog.at_level(logging.WARNING, logger="fraudkit.background"):
        assert background.stop(files, grace_s=1.0) is False
    assert bystander.poll() is None, "the unrelated process was signalled"
    assert not files.record.exists(), "the stale record stays"
    assert f"pid {bystander.pid}" in caplog.text and "stale record, signalled nothing" in caplog.text


def test_a_record_without_identity_is_not_trusted(
    files: ServiceFiles, bystander: subprocess.Popen[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    _write(files, {"pid": bystander.pid, "port": 1})  # written by an older kit: nothing to check the pid by
    with caplog.at_level(logging.WARNING, logger="fraudkit.background"):
        assert background.status(files, lambda _: True) is None
    assert bystander.poll() is None and not files.record.exists()
    assert "cannot be checked" in caplog.text


def test_a_record_of_a_finished_process_is_removed_quietly(
    files: ServiceFiles, caplog: pytest.LogCaptureFixture
) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    _write(files, {"pid": finished.pid, "port": 1, "identity": {"cmdline": ["true"]}})
    with caplog.at_level(logging.WARNING, logger="fraudkit.background"):
        assert background.stop(files, grace_s=1.0) is False
    assert not files.record.exists() and caplog.text == ""


def test_a_service_removes_only_its_own_record(files: ServiceFiles) -> None:
    _write(files, {"pid": os.getpid() + 1})  # a newer service replaced ours
    background.remove_record(files.record, os.getpid())
    assert files.record.exists()
    background.remove_record(files.record, os.getpid() + 1)
    assert not files.record.exists()


def test_stop_does_not_signal_a_process_whose_identity_changed_after_the_check(
    files: ServiceFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = background.start(files, SERVICE, lambda _: True, 5.0, {})
    real = background.process_identity
    calls = iter([record["identity"]])  # the record checks out, then the pid is someone else's

    def changing(pid: int) -> dict[str, Any] | None:
        return next(calls, None) or {**(real(pid) or {}), "start_ticks": -1}

    monkeypatch.setattr(background, "process_identity", changing)
    try:
        assert background.stop(files, grace_s=0.5) is True
        assert real(record["pid"]) == record["identity"], "signalled after the identity changed"
    finally:
        monkeypatch.undo()
        os.kill(record["pid"], signal.SIGKILL)
        os.waitpid(record["pid"], 0)
