"""The ingest handler's core: 10-minute aggregates of enriched transactions into `cc-agg-fg`."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import polars as pl

from fraudkit.config import Settings
from fraudkit.featurestore.ingest import bulk_ingest_local, wire_records
from fraudkit.featurestore.specs import EVENT_TIME, RECORD_ID
from fraudkit.streaming.records import COUNT_FEATURE, MEAN_FEATURE, parse_time

CLIENT_THREADS = 8  # below botocore's pool of 10 connections per client


class AggregateWriter:
    """Writes the 10-minute aggregates of enriched transactions to `cc-agg-fg`, batched for throughput.

    Locally a batch is one request to the emulator's bulk path (every aggregate reaches the offline
    store, the event-time rule picks the online row). On AWS, where PutRecord is the only write, only
    the latest event of each card in the batch is put, through a small thread pool (boto3 clients are
    thread-safe): the online row after the batch is the same at a fraction of the calls.
    """

    def __init__(self, settings: Settings, threads: int = CLIENT_THREADS) -> None:
        self.settings = settings
        self.feature_group = settings.online_feature_group
        self.client = settings.client("sagemaker-featurestore-runtime")
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="put-record")

    @staticmethod
    def latest_per_card(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        latest: dict[str, tuple[int, dict[str, Any]]] = {}
        for message in messages:
            event_micros = parse_time(message["event_time"])
            current = latest.get(message["cc_num"])
            if current is None or event_micros >= current[0]:
                latest[message["cc_num"]] = (event_micros, message)
        return [message for _, message in latest.values()]

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

    def _put(self, record: list[dict[str, str]]) -> None:
        self.client.put_record(FeatureGroupName=self.feature_group, Record=record)

    def __call__(self, messages: list[dict[str, Any]]) -> Callable[[], None]:
        """Start the writes; the returned wait re-raises the first failure (nothing is committed before it)."""
        futures: list[Future[Any]]
        if self.settings.backend == "local":
            futures = [self.pool.submit(bulk_ingest_local, self.settings, self.feature_group, self.rows(messages), True)]
        else:
            latest = self.rows(self.latest_per_card(messages))
            futures = [self.pool.submit(self._put, record) for record in wire_records(latest)]

        def wait() -> None:
            for future in futures:
                future.result()

        return wait
