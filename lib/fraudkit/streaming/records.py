"""The messages on the pipeline's topics and their validation.

Values are JSON objects. A transaction is {"tid", "cc_num", "amount", "event_time"} with
`event_time` in ISO-8601 UTC (`2026-01-31T12:00:00.123456Z`); the aggregator adds the 10-minute
aggregates and emits it to `features`; the scorer writes a decision to `decisions`. Anything that
does not fit goes to `dead-letter` as {"reason", "stage", "topic", "partition", "offset", "value"}.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from fraudkit.features import CARD_FEATURES, WINDOW_10M, Window

CARD_NUMBER = re.compile(r"^[0-9]{16}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def window_feature_names(window: Window) -> tuple[str, str]:
    """(count name, mean name) of the card aggregates over `window`, from the feature specification."""
    members = [a for a in CARD_FEATURES.aggregates if a.window == window]
    count = next(a.name for a in members if a.function == "count")
    mean = next(a.name for a in members if a.function == "mean")
    return count, mean


COUNT_FEATURE, MEAN_FEATURE = window_feature_names(WINDOW_10M)


class MalformedRecord(ValueError):
    """A message the pipeline cannot use; its text is the dead-letter reason."""


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware or naive-UTC datetime (exact, no float rounding)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def format_time(micros: int) -> str:
    """ISO-8601 UTC with microseconds and a `Z`, the wire form of event times."""
    seconds, fraction = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:06d}Z"


def parse_time(text: str) -> int:
    """Microseconds since the epoch of an ISO-8601 time with a zone (MalformedRecord otherwise)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedRecord(f"event_time {text!r} is not an ISO-8601 time") from None
    if parsed.tzinfo is None:
        raise MalformedRecord(f"event_time {text!r} has no time zone (use a trailing Z)")
    return to_micros(parsed)


def decode_json(value: bytes | None) -> dict[str, Any]:
    if value is None:
        raise MalformedRecord("empty message (no value)")
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise MalformedRecord("value is not JSON") from None
    if not isinstance(decoded, dict):
        raise MalformedRecord(f"value is JSON {type(decoded).__name__}, not an object")
    return decoded


def _field(message: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in message:
        raise MalformedRecord(f"missing field {name!r}")
    value = message[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MalformedRecord(f"field {name!r} has type {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Transaction:
    """One card transaction as the aggregator needs it."""

    tid: str
    cc_num: str
    amount: float
    event_micros: int

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Transaction:
        tid = _field(message, "tid", str)
        cc_num = _field(message, "cc_num", str)
        if not CARD_NUMBER.match(cc_num):
            raise MalformedRecord(f"cc_num {cc_num!r} is not 16 digits")
        amount = float(_field(message, "amount", (int, float)))
        if not math.isfinite(amount):
            raise MalformedRecord(f"amount {amount!r} is not a finite number")
        event_micros = parse_time(_field(message, "event_time", str))
        return cls(tid=tid, cc_num=cc_num, amount=amount, event_micros=event_micros)

    def to_message(self) -> dict[str, Any]:
        return {"tid": self.tid, "cc_num": self.cc_num, "amount": self.amount, "event_time": format_time(self.event_micros)}


def validate_enriched(message: dict[str, Any]) -> dict[str, Any]:
    """Validate a `features` message (a transaction plus its 10-minute aggregates)."""
    Transaction.from_message(message)
    for name, kind in ((COUNT_FEATURE, int), (MEAN_FEATURE, (int, float)), ("revision", int), ("produced_ms", int)):
        if not isinstance(message.get(name), kind) or isinstance(message.get(name), bool):
            raise MalformedRecord(f"missing or mistyped field {name!r}")
    return message


def encode_json(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message)


def dead_letter(reason: str, stage: str, topic: str, partition: int, offset: int, value: bytes | None) -> dict[str, Any]:
    """The dead-letter message for an input record: the reason, where it came from, and its value."""
    if value is None:
        text = None
    else:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = "base64:" + base64.b64encode(value).decode("ascii")
    return {"reason": reason, "stage": stage, "topic": topic, "partition": partition, "offset": offset, "value": text}
