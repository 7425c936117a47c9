"""The stream aggregator (Flink SQL's job in the reference design), as a runner stage.

Consumes `transactions`, keeps per-card 10-minute windows (`window.CardWindows`, with the width
and feature names of `fraudkit.features.WINDOW_10M`), writes each batch's aggregates to
`cc-agg-fg` (the ingest handler's core), then emits every transaction enriched with its
aggregates to `features`. Malformed, too-late and duplicate transactions go to `dead-letter`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord

from fraudkit.config import Settings
from fraudkit.features import WINDOW_10M
from fraudkit.streaming.records import (
    COUNT_FEATURE,
    MEAN_FEATURE,
    MalformedRecord,
    Transaction,
    dead_letter,
    decode_json,
    encode_json,
    format_time,
)
from fraudkit.streaming.runner import Output
from fraudkit.streaming.window import CardWindows, WindowValue

DEFAULT_LATENESS = timedelta(seconds=30)
STAGE_NAME = "aggregator"


def enriched_message(value: WindowValue, produced_ms: int) -> dict[str, Any]:
    """The `features` message: the transaction, its window aggregates, revision and produce time."""
    return {
        "tid": value.tid,
        "cc_num": value.cc_num,
        "amount": value.amount,
        "event_time": format_time(value.event_micros),
        COUNT_FEATURE: value.count,
        MEAN_FEATURE: value.mean,
        "revision": value.revision,
        "produced_ms": produced_ms,
    }


# starts the feature-store writes of a batch; returns a wait that raises if one failed
PutAggregates = Callable[[list[dict[str, Any]]], Callable[[], None]]


class AggregatorStage:
    """Runner stage: `transactions` -> window state -> (cc-agg-fg, `features` | `dead-letter`)."""

    name = STAGE_NAME

    def __init__(self, settings: Settings, put_aggregates: PutAggregates | None, lateness: timedelta = DEFAULT_LATENESS) -> None:
        self.input_topic = settings.transactions_topic
        self.features_topic = settings.features_topic
        self.dead_letter_topic = settings.dead_letter_topic
        self.output_topics: tuple[str, ...] = (settings.features_topic, settings.dead_letter_topic)
        self.put_aggregates = put_aggregates
        self.width_micros = WINDOW_10M.width // timedelta(microseconds=1)
        self.lateness_micros = lateness // timedelta(microseconds=1)
        self.windows: dict[int, CardWindows] = {}
        self._pending: list[Callable[[], None]] = []

    def _windows(self, partition: int) -> CardWindows:
        if partition not in self.windows:
            self.windows[partition] = CardWindows(self.width_micros, self.lateness_micros)
        return self.windows[partition]

    def process(self, batch: dict[int, list[ConsumerRecord]]) -> list[Output]:
        outputs: list[Output] = []
        enriched: list[dict[str, Any]] = []
        for partition, records in batch.items():
            windows = self._windows(partition)
            for record in records:
                try:
                    tx = Transaction.from_message(decode_json(record.value))
                    values = windows.add(tx)
                except MalformedRecord as problem:
                    letter = dead_letter(str(problem), self.name, record.topic, partition, record.offset, record.value)
                    outputs.append(Output(self.dead_letter_topic, partition, record.key, encode_json(letter), record.offset, 0))
                    continue
                for seq, value in enumerate(values):
                    message = enriched_message(value, record.timestamp)
                    enriched.append(message)
                    outputs.append(
                        Output(self.features_topic, partition, value.cc_num.encode(), encode_json(message), record.offset, seq)
                    )
        if self.put_aggregates is not None and enriched:
            # queued for the feature store and written in the background: decisions never wait for it
            self._pending.append(self.put_aggregates(enriched))
        return outputs

    def settle(self) -> None:
        pending, self._pending = self._pending, []
        for wait in pending:
            wait()

    def snapshot(self, partition: int) -> dict[str, Any]:
        return self._windows(partition).snapshot()

    def restore(self, partition: int, snapshot: dict[str, Any]) -> None:
        self._windows(partition).restore(snapshot)
