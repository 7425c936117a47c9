"""Feature Store state rules called directly on the backend (no HTTP): deletes, TTLs, deletions
that meet a failing offline store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fraudkit.emulator.featurestore  # noqa: F401  (registers the backend)
import pytest
from fraudkit.emulator.core import EmulatorState
from fraudkit.emulator.exceptions import ValidationException
from fraudkit.emulator.featurestore.groups import TRANSITION_SECONDS, FeatureGroup
from fraudkit.emulator.featurestore.models import FeatureStoreBackend

DEFINITIONS = [
    {"FeatureName": "id", "FeatureType": "String"},
    {"FeatureName": "n", "FeatureType": "Integral"},
    {"FeatureName": "t", "FeatureType": "Fractional"},
]
OFFLINE = {
    "OfflineStoreConfig": {"S3StorageConfig": {"S3Uri": "s3://test-bucket/p"}},
    "RoleArn": "arn:aws:iam::0:role/r",
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeatureStoreBackend]:
    state = EmulatorState(tmp_path)
    yield state.backend("featurestore")
    state.close()


def created(store: FeatureStoreBackend, name: str, **extra: Any) -> FeatureGroup:
    store.create_group(
        {
            "FeatureGroupName": name,
            "RecordIdentifierFeatureName": "id",
            "EventTimeFeatureName": "t",
            "FeatureDefinitions": DEFINITIONS,
            "OnlineStoreConfig": {"EnableOnlineStore": True},
            **extra,
        }
    )
    time.sleep(TRANSITION_SECONDS)
    return store.group(name, runtime=True)


def put(
    store: FeatureStoreBackend, group: FeatureGroup, rid: str, t: float, ttl: dict[str, Any] | None = None
) -> None:
    record = [
        {"FeatureName": "id", "ValueAsString": rid},
        {"FeatureName": "n", "ValueAsString": "7"},
        {"FeatureName": "t", "ValueAsString": str(t)},
    ]
    store.put_record(group, record, None, ttl)


def visible(store: FeatureStoreBackend, group: FeatureGroup, rid: str) -> bool:
    return rid in store.get_records(group, [rid], None)


@pytest.mark.parametrize("mode", ["SoftDelete", "HardDelete"])
def test_a_delete_needs_an_event_time_later_than_the_stored_one(
    store: FeatureStoreBackend, mode: str
) -> None:
    """AWS: a delete whose EventTime is not later than the record's deletes nothing; HardDelete says so
    with a ValidationException, SoftDelete silently keeps the record."""
    group = created(store, "deletes")
    put(store, group, "r", 100.0)
    if mode == "HardDelete":
        with pytest.raises(ValidationException, match="EventTime"):
            store.delete_record(group, "r", "100.0", None, mode)
    else:
        store.delete_record(group, "r", "100.0", None, mode)
    assert visible(store, group, "r")
    store.delete_record(group, "r", "100.5", None, mode)
    assert not visible(store, group, "r")


def test_a_ttl_past_year_9999_is_refused_and_stores_nothing(store: FeatureStoreBackend) -> None:
    group = created(store, "ttls")
    with pytest.raises(ValidationException, match="year 9999"):
        put(store, group, "r", 100.0, {"Unit": "Weeks", "Value": 2**31 - 1})
    assert not visible(store, group, "r")


def test_a_failing_offline_flush_does_not_fail_requests_for_other_groups(
    store: FeatureStoreBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finishing a deletion flushes the group's offline rows; that flush failing used to fail every lookup."""
    doomed = created(store, "doomed", **OFFLINE)
    other = created(store, "other")
    put(store, doomed, "r", 100.0)

    def broken_write(*_: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.offline, "write", broken_write)
    store.delete_group("doomed")
    time.sleep(TRANSITION_SECONDS)
    assert store.group("other", runtime=True) == other
    assert store.group("doomed").status(time.time()) == "Deleting"  # kept until its rows are written
    assert any("No space left on device" in problem for problem in store.problems())
    monkeypatch.undo()
    store.offline._retry_at = 0.0  # the backoff is over
    assert [g.name for g in store.list_groups()] == ["other"]
    assert store.problems() == []
