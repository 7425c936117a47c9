"""`make local-up` / `make local-down` and `ensure_local_services` against the real emulator and broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fraudkit.background import is_running
from fraudkit.config import Settings
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
