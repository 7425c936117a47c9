"""`make local-up` / `make local-down` and `ensure_local_services` against the real emulator and broker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fraudkit.background import is_running
from fraudkit.config import Settings, service_files
from fraudkit.services import ensure_local_services, probe_services, remove_local_state, running_services

pytestmark = pytest.mark.integration


def _services_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudkit.services", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_up_status_down_round_trip(tmp_path: Path) -> None:
    state_dir = tmp_path / ".fraudkit"
    try:
        up = _services_cli("up", "--state-dir", str(state_dir))
        assert up.returncode == 0, up.stderr
        records = running_services(state_dir)
        assert set(records) == {"emulator", "broker"}
        # each record names its process by identity, the emulator's written by the server itself
        assert "fraudkit.emulator" in records["emulator"]["identity"]["cmdline"]
        assert records["broker"]["identity"]["cmdline"][1:3] == ["broker", "--listener-url"]
        assert "emulator: running at http://127.0.0.1:" in up.stdout and "broker: running at 127.0.0.1:" in up.stdout
        # a notebook calling ensure_local_services reuses the running processes instead of starting new ones
        settings = Settings.load(backend="local", scale="tiny", state_dir=state_dir)
        ensure_local_services(settings, broker=True)
        assert {name: r["pid"] for name, r in running_services(state_dir).items()} == {
            name: r["pid"] for name, r in records.items()
        }
        assert probe_services(settings) == {"sagemaker": "ok", "kafka": "ok"}
        down = _services_cli("down", "--state-dir", str(state_dir))
        assert down.returncode == 0 and down.stdout.strip() == "stopped: emulator, broker"
        assert running_services(state_dir) == {}
        assert not any(is_running(r) for r in records.values())
    finally:
        _services_cli("down", "--state-dir", str(state_dir))


def test_remove_local_state_stops_services_and_deletes_the_state_dir(tmp_path: Path) -> None:
    settings = Settings.load(backend="local", scale="tiny", state_dir=tmp_path / ".fraudkit")
    ensure_local_services(settings)
    records = running_services(settings.state_dir)
    assert set(records) == {"emulator"}
    assert remove_local_state(settings) == ["emulator"]
    assert not settings.state_dir.exists()
    assert not is_running(records["emulator"])


def test_down_after_the_recorded_pids_were_reused_signals_nothing(tmp_path: Path) -> None:
    """Records moved onto another process's pid (as after a reboot) are stale; the real records still stop."""
    state_dir = tmp_path / ".fraudkit"
    paths = {name: service_files(state_dir, name).record for name in ("emulator", "broker")}
    bystander = subprocess.Popen(["sleep", "60"])
    records: dict[str, dict[str, Any]] = {}
    try:
        assert _services_cli("up", "--state-dir", str(state_dir)).returncode == 0
        records = running_services(state_dir)
        for name, path in paths.items():
            path.write_text(json.dumps({**records[name], "pid": bystander.pid}))
        down = _services_cli("down", "--state-dir", str(state_dir))
        assert down.stdout.strip() == "stopped: nothing was running"
        assert down.stderr.count("removed the stale record, signalled nothing") == 2
        assert bystander.poll() is None and all(is_running(record) for record in records.values())
    finally:
        bystander.kill()
        bystander.wait()
        for name, record in records.items():  # the true records: the services still run and must stop
            paths[name].write_text(json.dumps(record))
        last_down = _services_cli("down", "--state-dir", str(state_dir))
    assert last_down.stdout.strip() == "stopped: emulator, broker"
    assert not any(is_running(record) for record in records.values())
