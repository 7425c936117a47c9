"""Feature-group definitions and the value rules of the Feature Store, as the AWS docs state them.

Everything here is pure: checking a CreateFeatureGroup request, typing a record's string values,
parsing event times and TTL durations. The stores and the handlers build on it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from fraudkit.emulator.exceptions import ResourceLimitExceeded, ValidationException

RESERVED_FEATURE_NAMES = frozenset({"is_deleted", "write_time", "api_invocation_time"})
EVENT_TIME_TYPES = frozenset({"String", "Fractional"})
MAX_FEATURES = 2500
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# yyyy-MM-ddTHH:mm:ssZ with an optional fraction, as PutRecord accepts for String event times
ISO_EVENT_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
# an Integral is a 64-bit integer: at most 19 digits after any leading zeros (longer strings are never
# converted, as int() refuses strings past Python's digit limit)
INTEGRAL = re.compile(r"([+-]?)0*(\d{1,19})")
FRACTIONAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# 10000-01-01T00:00:00Z: event and expiry times must come before it (ISO-8601 has four-digit years)
END_OF_TIME = 253402300800
TTL_SECONDS = {"Seconds": 1, "Minutes": 60, "Hours": 3600, "Days": 86400, "Weeks": 604800}
# How long the emulator reports the transitional statuses (Creating, Deleting) before settling.
TRANSITION_SECONDS = 0.05


def ttl_seconds(ttl: dict[str, Any] | None) -> float | None:
    """A TtlDuration ({"Unit", "Value"}) in seconds; None when absent or unset."""
    if not ttl or ttl.get("Unit") is None or ttl.get("Value") is None:
        return None
    return float(ttl["Value"] * TTL_SECONDS[ttl["Unit"]])


def expiry(event_seconds: float, ttl: float | None) -> float | None:
    """When a record with this event time and TTL (seconds) expires; a ValidationException when that
    is past the year 9999, where no ExpiresAt could be written."""
    if ttl is None:
        return None
    if event_seconds + ttl >= END_OF_TIME:
        raise ValidationException(
            f"TtlDuration of {ttl:.0f} seconds makes the record expire after the year 9999"
        )
    return event_seconds + ttl


def check_ttl(ttl: dict[str, Any] | None) -> None:
    """A TtlDuration given to a feature group must leave room for an expiry time (see `expiry`)."""
    expiry(0.0, ttl_seconds(ttl))


def parse_event_time(text: str, feature_type: str, name: str) -> float:
    """Event time as Unix seconds: ISO-8601 `yyyy-MM-ddTHH:mm:ss[.fff]Z` for String, seconds for Fractional."""
    if feature_type == "String":
        if not ISO_EVENT_TIME.fullmatch(text):
            raise ValidationException(
                f"Invalid value '{text[:64]}' for event time feature {name}: expected yyyy-MM-ddTHH:mm:ssZ "
                "or yyyy-MM-ddTHH:mm:ss.SSSZ"
            )
        whole, _, fraction = text[:-1].partition(".")
        try:
            stamp = dt.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
        except ValueError:
            raise ValidationException(f"Invalid value '{text[:64]}' for event time feature {name}") from None
        return stamp.timestamp() + (float("0." + fraction) if fraction else 0.0)
    if not FRACTIONAL.fullmatch(text) or not math.isfinite(float(text)):
        raise ValidationException(
            f"Invalid value '{text[:64]}' for event time feature {name}: expected Unix seconds"
        )
    seconds = float(text)
    if not 0 <= seconds < END_OF_TIME:
        raise ValidationException(f"Event time {text[:64]} of feature {name} is out of range")
    return seconds


def iso_time(seconds: float) -> str:
    """Unix seconds as the ISO string the runtime returns for ExpiresAt."""
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{stamp.microsecond // 1000:03d}Z"


def integral(value: str) -> int | None:
    """The integer an Integral wire string holds, or None when it is not one of at most 19 digits."""
    match = INTEGRAL.fullmatch(value)
    return None if match is None else int(match[1] + match[2])


def check_scalar(value: str, feature_type: str, name: str) -> None:
    if feature_type == "Integral":
        number = integral(value)
        if number is None or not INT64_MIN <= number <= INT64_MAX:
            raise ValidationException(f"Invalid value '{value[:64]}' for feature {name} of type Integral")
    elif feature_type == "Fractional" and (
        not FRACTIONAL.fullmatch(value) or not math.isfinite(float(value))
    ):
        raise ValidationException(f"Invalid value '{value[:64]}' for feature {name} of type Fractional")


def typed(value: str, feature_type: str) -> int | float | str:
    """A validated wire string as the offline store's column type (bigint, double, string)."""
    if feature_type == "Integral":
        number = integral(value)
        if number is None:
            raise ValueError(f"{value[:64]!r} is not a checked Integral value")
        return number
    if feature_type == "Fractional":
        return float(value)
    return value


@dataclass
class FeatureGroup:
    """One feature group as the control plane stores it (JSON-serialisable for the database)."""

    name: str
    arn: str
    record_identifier: str
    event_time: str
    definitions: list[dict[str, Any]]
    online_config: dict[str, Any] | None
    offline_config: dict[str, Any] | None
    throughput: dict[str, Any]
    role_arn: str | None
    description: str | None
    tags: list[dict[str, str]]
    creation_time: float
    last_modified_time: float
    deleting_since: float | None = None
    feature_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def types(self) -> dict[str, str]:
        return {d["FeatureName"]: d["FeatureType"] for d in self.definitions}

    @property
    def collections(self) -> dict[str, str]:
        return {d["FeatureName"]: d["CollectionType"] for d in self.definitions if d.get("CollectionType")}

    @property
    def online_enabled(self) -> bool:
        return bool(self.online_config and self.online_config.get("EnableOnlineStore"))

    @property
    def offline_enabled(self) -> bool:
        return self.offline_config is not None

    @property
    def default_ttl(self) -> float | None:
        return ttl_seconds((self.online_config or {}).get("TtlDuration"))

    def status(self, now: float) -> str:
        if self.deleting_since is not None:
            return "Deleting"
        return "Creating" if now - self.creation_time < TRANSITION_SECONDS else "Created"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_definitions(
    definitions: list[dict[str, Any]], existing: set[str], storage_type: str | None
) -> None:
    """Feature names unique and not reserved; collection types only on the InMemory online store."""
    seen = set(existing)
    for definition in definitions:
        name = definition["FeatureName"]
        if name.lower() in RESERVED_FEATURE_NAMES:
            raise ValidationException(
                f"Feature name {name} is reserved: {', '.join(sorted(RESERVED_FEATURE_NAMES))}"
            )
        if name in seen:
            raise ValidationException(f"Feature name {name} is defined more than once")
        seen.add(name)
        if definition.get("CollectionType") and storage_type != "InMemory":
            raise ValidationException(
                f"Feature {name}: collection types need OnlineStoreConfig StorageType InMemory"
            )
        if definition.get("CollectionType") == "Vector" and not (
            definition.get("CollectionConfig") or {}
        ).get("VectorConfig"):
            raise ValidationException(
                f"Feature {name}: a Vector collection needs CollectionConfig.VectorConfig"
            )
    if len(seen) > MAX_FEATURES:
        raise ResourceLimitExceeded(f"A feature group holds at most {MAX_FEATURES} features")


def check_create_request(params: dict[str, Any]) -> None:
    """The CreateFeatureGroup rules that the input shape alone does not express."""
    definitions = params["FeatureDefinitions"]
    online = params.get("OnlineStoreConfig") or {}
    check_ttl(online.get("TtlDuration"))
    check_definitions(definitions, set(), online.get("StorageType"))
    types = {d["FeatureName"]: d for d in definitions}
    for member in ("RecordIdentifierFeatureName", "EventTimeFeatureName"):
        name = params[member]
        if name not in types:
            raise ValidationException(f"{member} {name} is not among the FeatureDefinitions")
        if types[name].get("CollectionType"):
            raise ValidationException(f"{member} {name} cannot be a collection")
    record_type = types[params["RecordIdentifierFeatureName"]]["FeatureType"]
    if record_type not in ("String", "Integral"):
        raise ValidationException("The record identifier feature must be of type String or Integral")
    event_type = types[params["EventTimeFeatureName"]]["FeatureType"]
    if event_type not in EVENT_TIME_TYPES:
        raise ValidationException("The event time feature must be of type String or Fractional")
    if not online.get("EnableOnlineStore") and "OfflineStoreConfig" not in params:
        raise ValidationException(
            "At least one of OnlineStoreConfig (EnableOnlineStore) or OfflineStoreConfig is required"
        )
    if "OfflineStoreConfig" in params and "RoleArn" not in params:
        raise ValidationException("RoleArn is required when OfflineStoreConfig is set")
    throughput = params.get("ThroughputConfig") or {}
    if throughput.get("ThroughputMode") == "Provisioned" and (
        throughput.get("ProvisionedReadCapacityUnits") is None
        or throughput.get("ProvisionedWriteCapacityUnits") is None
    ):
        raise ValidationException(
            "Provisioned throughput needs ProvisionedReadCapacityUnits and ProvisionedWriteCapacityUnits"
        )
