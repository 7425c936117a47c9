"""Feature Store value rules (event times, types, TTL) and CreateFeatureGroup checks, without a server."""

from __future__ import annotations

import datetime as dt

import pytest
from fraudkit.emulator.exceptions import AwsError
from fraudkit.emulator.featurestore.groups import (
    check_create_request,
    check_scalar,
    expiry,
    iso_time,
    parse_event_time,
    ttl_seconds,
    typed,
)
from hypothesis import given
from hypothesis import strategies as st

DEFINITIONS = [{"FeatureName": "id", "FeatureType": "String"}, {"FeatureName": "t", "FeatureType": "Fractional"}]


def create_request(**changes: object) -> dict[str, object]:
    request = {
        "FeatureGroupName": "fg",
        "RecordIdentifierFeatureName": "id",
        "EventTimeFeatureName": "t",
        "FeatureDefinitions": DEFINITIONS,
        "OnlineStoreConfig": {"EnableOnlineStore": True},
    }
    request.update(changes)
    return {k: v for k, v in request.items() if v is not None}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC).timestamp()),
        ("2024-01-02T03:04:05.250Z", dt.datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=dt.UTC).timestamp()),
    ],
)
def test_iso_event_times(text: str, expected: float) -> None:
    assert parse_event_time(text, "String", "t") == pytest.approx(expected)


@pytest.mark.parametrize("text", ["2024-01-02 03:04:05Z", "2024-01-02T03:04:05", "2024-02-30T00:00:00Z", "1700000000", ""])
def test_bad_iso_event_times(text: str) -> None:
    with pytest.raises(AwsError) as caught:
        parse_event_time(text, "String", "t")
    assert caught.value.code == "ValidationException"


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_fractional_event_times_round_trip(seconds: float) -> None:
    assert parse_event_time(repr(seconds), "Fractional", "t") == seconds


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "1e400", "12abc", "1_000"])
def test_bad_fractional_event_times(text: str) -> None:
    with pytest.raises(AwsError):
        parse_event_time(text, "Fractional", "t")


@pytest.mark.parametrize(
    ("value", "kind", "ok"),
    [
        ("12", "Integral", True), ("-3", "Integral", True), ("1.0", "Integral", False), ("9223372036854775808", "Integral", False),
        ("1.5", "Fractional", True), ("-2e3", "Fractional", True), (".5", "Fractional", True), ("NaN", "Fractional", False),
        ("x", "Fractional", False), ("anything at all", "String", True),
    ],
)
def test_scalar_types(value: str, kind: str, ok: bool) -> None:
    if ok:
        check_scalar(value, kind, "f")
        assert typed(value, kind) == {"Integral": int, "Fractional": float, "String": str}[kind](value)
    else:
        with pytest.raises(AwsError):
            check_scalar(value, kind, "f")


def test_ttl_and_expiry_format() -> None:
    assert ttl_seconds({"Unit": "Weeks", "Value": 2}) == 14 * 86400
    assert ttl_seconds(None) is None
    assert iso_time(1704067200.5) == "2024-01-01T00:00:00.500Z"


@pytest.mark.parametrize(
    "changes",
    [
        {"RecordIdentifierFeatureName": "missing"},
        {"EventTimeFeatureName": "id", "FeatureDefinitions": [{"FeatureName": "id", "FeatureType": "Integral"}]},
        {"FeatureDefinitions": [*DEFINITIONS, {"FeatureName": "API_Invocation_Time", "FeatureType": "String"}]},
        {"FeatureDefinitions": [*DEFINITIONS, {"FeatureName": "id", "FeatureType": "String"}]},
        {"OnlineStoreConfig": None},
        {"OfflineStoreConfig": {"S3StorageConfig": {"S3Uri": "s3://b/p"}}},
        {"FeatureDefinitions": [*DEFINITIONS, {"FeatureName": "v", "FeatureType": "String", "CollectionType": "List"}]},
    ],
)
def test_create_rules(changes: dict[str, object]) -> None:
    with pytest.raises(AwsError) as caught:
        check_create_request(create_request(**changes))
    assert caught.value.code == "ValidationException"


def test_valid_create_requests_pass() -> None:
    check_create_request(create_request())
    check_create_request(
        create_request(
            OnlineStoreConfig={"EnableOnlineStore": True, "StorageType": "InMemory"},
            FeatureDefinitions=[*DEFINITIONS, {"FeatureName": "v", "FeatureType": "String", "CollectionType": "List"}],
        )
    )


@pytest.mark.parametrize("value", ["9" * 5000, "1" * 20, "-" + "9" * 4301])
def test_integral_strings_past_int64_digits_are_validation_errors(value: str) -> None:
    """Python refuses int() of strings past 4300 digits with a ValueError: that was a 500."""
    with pytest.raises(AwsError) as caught:
        check_scalar(value, "Integral", "n")
    assert caught.value.code == "ValidationException"


def test_integral_leading_zeros_do_not_count_as_digits() -> None:
    value = "0" * 5000 + "42"
    check_scalar(value, "Integral", "n")
    assert typed(value, "Integral") == 42


@pytest.mark.parametrize("unit", ["Weeks", "Days"])
def test_ttls_expiring_after_year_9999_are_refused_where_given(unit: str) -> None:
    huge = {"Unit": unit, "Value": 2**31 - 1}
    with pytest.raises(AwsError, match="year 9999") as caught:
        check_create_request(create_request(OnlineStoreConfig={"EnableOnlineStore": True, "TtlDuration": huge}))
    assert caught.value.code == "ValidationException"
    with pytest.raises(AwsError, match="year 9999"):
        expiry(253402300000.0, ttl_seconds({"Unit": "Days", "Value": 30}))
    assert expiry(1.0e9, ttl_seconds({"Unit": "Days", "Value": 1})) == 1.0e9 + 86400
    assert iso_time(expiry(253402300000.0, 799.0) or 0).startswith("9999-12-31T23:59:59")
