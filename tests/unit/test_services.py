"""Local service glue: nothing starts on aws, bad commands are usage errors, status reads the state dir."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest
from fraudkit.config import Settings
from fraudkit.services import ensure_local_services, main, remove_local_state, running_services


def test_nothing_starts_or_is_removed_on_aws(tmp_path: Path) -> None:
    state_dir = tmp_path / ".fraudkit"
    settings = Settings(backend="aws", state_dir=state_dir)
    ensure_local_services(settings, broker=True)
    assert not state_dir.exists()
    state_dir.mkdir()
    (state_dir / "keep.txt").write_text("user data")
    assert remove_local_state(settings) == []
    assert (state_dir / "keep.txt").read_text() == "user data"


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["restart"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'restart'" in capsys.readouterr().err


def test_status_of_an_empty_state_dir_reports_nothing_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert running_services(tmp_path) == {}
    assert main(["status", "--state-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == ["emulator: not running", "broker: not running"]


def test_down_with_nothing_running_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["down", "--state-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "stopped: nothing was running"


def test_down_never_signals_an_unrelated_process_holding_a_recorded_pid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """After a crash or a reboot the recorded pids can belong to the user's own processes."""
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        records = {
            # written by an older kit: no identity to check the pid by
            "emulator/server.json": {"pid": bystander.pid, "port": 4580, "url": "http://127.0.0.1:4580"},
            # the same pid, but a process started at another time, in another boot
            "broker/broker.json": {
                "pid": bystander.pid, "port": 9092, "bootstrap_servers": "127.0.0.1:9092",
                "identity": {"boot_id": "another-boot", "start_ticks": 1, "cmdline": ["sleep", "60"]},
            },
        }
        for name, record in records.items():
            (tmp_path / name).parent.mkdir(parents=True)
            (tmp_path / name).write_text(json.dumps(record))
        with caplog.at_level(logging.WARNING):
            assert main(["down", "--state-dir", str(tmp_path)]) == 0
        assert bystander.poll() is None, "services down signalled an unrelated process"
        assert capsys.readouterr().out.strip() == "stopped: nothing was running"
        assert caplog.text.count("removed the stale record, signalled nothing") == 2
        assert not any((tmp_path / name).exists() for name in records)
    finally:
        bystander.kill()
        bystander.wait()
