"""The offline flusher thread: an I/O error is logged, retried with backoff and reported, never fatal."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import fraudkit.emulator.featurestore  # noqa: F401  (registers the backend)
import pytest
from fraudkit.emulator.core import EmulatorState
from fraudkit.emulator.featurestore import offline
from fraudkit.emulator.featurestore.groups import FeatureGroup
from fraudkit.emulator.featurestore.offline import OfflineStore
from fraudkit.emulator.s3 import object_path

from tests.unit.test_emulator_featurestore_models import OFFLINE, created, put


def wait_until(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def offline_files(state: EmulatorState, group: FeatureGroup) -> list[Path]:
    """The group's Parquet files in the local object store."""
    assert group.offline_config is not None
    uri = group.offline_config["S3StorageConfig"]["ResolvedOutputS3Uri"]
    return sorted(object_path(state.emulator_dir, uri).rglob("*.parquet"))


def test_the_flusher_survives_failing_writes_and_catches_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(offline, "FLUSH_SECONDS", 0.02)
    monkeypatch.setattr(offline, "MAX_RETRY_SECONDS", 0.1)
    failures: list[int] = []
    real_write = OfflineStore.write

    def failing_twice(self: OfflineStore, *args: object) -> int:
        if len(failures) < 2:
            failures.append(1)
            raise OSError(5, "Input/output error")
        return real_write(self, *args)

    monkeypatch.setattr(OfflineStore, "write", failing_twice)
    state = EmulatorState(tmp_path)
    try:
        store = state.backend("featurestore")
        group = created(store, "flushed", **OFFLINE)
        with caplog.at_level(logging.ERROR, logger=offline.__name__):
            put(store, group, "r", 100.0)
            assert wait_until(lambda: len(failures) == 2)
            assert wait_until(lambda: any(offline_files(state, group)))
        assert store.offline._flusher.is_alive()
        assert store.problems() == []
        assert "Input/output error" in caplog.text
    finally:
        state.close()


def test_failing_flushes_are_reported_until_one_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(offline, "FLUSH_SECONDS", 60.0)  # only explicit flushes here
    state = EmulatorState(tmp_path)
    try:
        store = state.backend("featurestore")
        put(store, created(store, "reported", **OFFLINE), "r", 100.0)

        def full_disk(*_: object) -> int:
            raise OSError(28, "disk full")

        monkeypatch.setattr(store.offline, "write", full_disk)
        with pytest.raises(OSError):
            store.offline.flush()
        assert not store.offline.retry_due()
        [problem] = store.problems()
        assert "1 flushes failed in a row" in problem and "disk full" in problem
        monkeypatch.undo()
        assert store.offline.flush() == 1
        assert store.problems() == []
    finally:
        state.close()
