"""MSK event payloads, as Lambda's event source mapping delivers Kafka records to a function.

An MSK event is {"eventSource": "aws:kafka", "eventSourceArn", "bootstrapServers", "records":
{"<topic>-<partition>": [{"topic", "partition", "offset", "timestamp", "timestampType", "key",
"value", "headers"}]}} with base64 `key`/`value` and headers as [{name: [byte, ...]}].
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord


@dataclass(frozen=True)
class MskRecord:
    """One decoded record of an MSK event."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def msk_event(records: Iterable[ConsumerRecord], bootstrap_servers: str, cluster_arn: str = "") -> dict[str, Any]:
    """The event Lambda's MSK event source mapping would deliver for these consumer records."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(f"{record.topic}-{record.partition}", []).append(
            {
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "timestamp": record.timestamp,
                "timestampType": "CREATE_TIME" if record.timestamp_type == 0 else "LOG_APPEND_TIME",
                "key": _b64(record.key),
                "value": _b64(record.value),
                "headers": [{name: list(value)} for name, value in record.headers],
            }
        )
    return {
        "eventSource": "aws:kafka",
        "eventSourceArn": cluster_arn or "arn:aws:kafka:us-east-1:000000000000:cluster/fraudkit-local/local",
        "bootstrapServers": bootstrap_servers,
        "records": grouped,
    }


def msk_records(event: dict[str, Any]) -> list[MskRecord]:
    """The records of an MSK event, decoded, in partition then offset order."""
    decoded = []
    for batch in event.get("records", {}).values():
        for raw in batch:
            decoded.append(
                MskRecord(
                    topic=raw["topic"],
                    partition=int(raw["partition"]),
                    offset=int(raw["offset"]),
                    timestamp=int(raw["timestamp"]),
                    key=None if raw.get("key") is None else base64.b64decode(raw["key"]),
                    value=None if raw.get("value") is None else base64.b64decode(raw["value"]),
                    headers=[(name, bytes(value)) for header in raw.get("headers", []) for name, value in header.items()],
                )
            )
    return decoded
