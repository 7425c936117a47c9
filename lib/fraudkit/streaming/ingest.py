"""The ingest handler's core: 10-minute aggregates of enriched transactions into `cc-agg-fg`."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import polars as pl

from fraudkit.config import Settings
from fraudkit.featurestore.specs import EVENT_TIME, RECORD_ID
from fraudkit.streaming.records import COUNT_FEATURE, MEAN_FEATURE, parse_time

CLIENT_THREADS = 8  # below botocore's pool of 10 connections per client
# Each bulk write costs the emulator a few milliseconds of fixed polars/SQLite work whatever its size: at
# 1,000 tx/s ten writes a second were a fifth of its CPU. Nothing on the decision path reads this group
# (decisions carry their window in the `features` message), and checkpoints still wait for every write.
WRITE_INTERVAL_S = 0.5


class AggregateWriteError(RuntimeError):
    """A write to the aggregate feature group failed (the messages of the calls it held are not written)."""


class AggregateWriter:
    """Writes the 10-minute aggregates of enriched transactions to `cc-agg-fg`, batched for throughput.

    Calls queue their messages and return at once; one background thread writes what has queued,
    at most every WRITE_INTERVAL_S unless a caller waits for its messages. The group is off the
    decision path (decisions carry their window in the `features` message), so its writes are merged:
    at 1,000 tx/s one write per stream batch cost the emulator a quarter of a core.

    How a write reaches the group is the backend's (`Backend.stream_writer`, built once here): locally
    one request to the emulator's bulk path (every aggregate reaches the offline store, the event-time
    rule picks the online row); on AWS, where PutRecord is the only write, only the latest event of
    each card, through a small thread pool: the online row after the write is the same at a fraction
    of the calls.
    """

    def __init__(self, settings: Settings, threads: int = CLIENT_THREADS) -> None:
        self.settings = settings
        self.feature_group = settings.online_feature_group
        self._write_rows = settings.provider.stream_writer(self.feature_group, threads)
        self._changed = threading.Condition()
        self._queued: list[dict[str, Any]] = []
        self._submitted = 0  # calls so far
        self._written = 0  # calls whose messages are written
        self._awaited = False  # a caller waits: write now
        self._failures: deque[tuple[int, int, BaseException]] = deque(maxlen=1000)  # (first, last call, error)
        threading.Thread(target=self._write_queued, name="aggregate-writer", daemon=True).start()

    @staticmethod
    def rows(messages: list[dict[str, Any]]) -> pl.DataFrame:
        """The feature group's columns for each message (event time in epoch seconds, Fractional)."""
        return pl.DataFrame(
            {
                RECORD_ID: [m["cc_num"] for m in messages],
                COUNT_FEATURE: [m[COUNT_FEATURE] for m in messages],
                MEAN_FEATURE: [float(m[MEAN_FEATURE]) for m in messages],
                EVENT_TIME: [parse_time(m["event_time"]) / 1e6 for m in messages],
            },
            schema={RECORD_ID: pl.String, COUNT_FEATURE: pl.Int64, MEAN_FEATURE: pl.Float64, EVENT_TIME: pl.Float64},
        )

    def __call__(self, messages: list[dict[str, Any]]) -> Callable[[], None]:
        """Queue the writes; the returned wait blocks until they are written and re-raises a failure."""
        if not messages:
            return lambda: None
        with self._changed:
            self._queued.extend(messages)
            self._submitted += 1
            ticket = self._submitted
            self._changed.notify_all()

        def wait() -> None:
            with self._changed:
                self._awaited = True
                self._changed.notify_all()
                self._changed.wait_for(lambda: self._written >= ticket)
                for first, last, error in self._failures:
                    if first <= ticket <= last:
                        raise AggregateWriteError(f"writing to {self.feature_group} failed: {error!r}") from error

        return wait

    def _write_queued(self) -> None:
        next_write = 0.0
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._queued))
                self._changed.wait_for(lambda: self._awaited, timeout=max(0.0, next_write - time.monotonic()))
                messages, self._queued, self._awaited = self._queued, [], False
                ticket = self._submitted
            next_write = time.monotonic() + WRITE_INTERVAL_S
            try:
                self._write(messages)
                failure = None
            except Exception as error:  # raised by the waits of these calls (the runner then replays them)
                failure = error
            with self._changed:
                if failure is not None:
                    self._failures.append((self._written + 1, ticket, failure))
                self._written = ticket
                self._changed.notify_all()

    def _write(self, messages: list[dict[str, Any]]) -> None:
        self._write_rows(self.rows(messages))
