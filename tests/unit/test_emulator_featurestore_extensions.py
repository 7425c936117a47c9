"""The health route tells a usable emulator from one whose requests would all fail."""

from __future__ import annotations

from pathlib import Path

import orjson
from fraudkit.emulator.core import EmulatorState
from fraudkit.emulator.featurestore.extensions import EXTENSIONS
from fraudkit.emulator.server import load_service_packages
from fraudkit.emulator.wire import HttpRequest, HttpResponse, WireApp


def health(state_dir: Path) -> HttpResponse:
    load_service_packages()
    state = EmulatorState(state_dir)
    try:
        return WireApp(state, EXTENSIONS)(
            HttpRequest("GET", "/_fraudkit/health", {}, {"host": "127.0.0.1"}, b"")
        )
    finally:
        state.close()


def test_a_usable_state_dir_is_healthy(tmp_path: Path) -> None:
    answer = health(tmp_path)
    assert (answer.status, orjson.loads(answer.body)) == (200, {"status": "ok"})


def test_a_corrupt_database_makes_health_fail_with_the_reason(tmp_path: Path) -> None:
    database = tmp_path / "emulator" / "featurestore.db"
    database.parent.mkdir(parents=True)
    database.write_bytes(b"this is not a database" * 100)
    answer = health(tmp_path)
    assert answer.status == 503
    document = orjson.loads(answer.body)
    assert document["status"] == "unhealthy"
    assert any(
        reason.startswith("featurestore:") and "not a database" in reason for reason in document["reasons"]
    )
