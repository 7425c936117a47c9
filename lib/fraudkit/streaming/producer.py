"""Replay card transactions onto `transactions`, and generate bursts for the live demo.

Messages are keyed by card number (one card's transactions stay in one partition, in order) and
carry JSON {"tid", "cc_num", "amount", "event_time"}. The replay follows the file's event-time
order at a fixed rate (or as fast as the broker takes them); pacing is by schedule, not by sleeping
a fixed time per message, so the rate holds on average.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from tqdm import tqdm

from fraudkit.config import Settings, SettingsError
from fraudkit.streaming import REPLAY_LINGER_MS
from fraudkit.streaming.kafka_clients import make_producer
from fraudkit.streaming.records import Transaction, encode_json, to_micros

TRANSACTION_COLUMNS = ("tid", "cc_num", "amount", "event_time")


class Pacer:
    """Holds a caller to `rate` events per second on average (None: no limit)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = None if rate is None else 1.0 / rate
        self.started = time.perf_counter()
        self.count = 0

    def wait(self) -> None:
        if self.interval is not None:
            ahead = self.started + self.count * self.interval - time.perf_counter()
            if ahead > 0.001:
                time.sleep(ahead)
        self.count += 1


def read_transactions(path: Path, limit: int | None = None) -> pl.DataFrame:
    """The replay input: the columns the stream needs, in event-time order.

    Raises SettingsError naming the file and what is wrong with it (not Parquet, missing columns).
    """
    try:
        missing = [column for column in TRANSACTION_COLUMNS if column not in pl.read_parquet_schema(path)]
        if missing:
            raise SettingsError(f"--input {path}: missing column(s) {', '.join(missing)} (a transactions file has "
                                f"{', '.join(TRANSACTION_COLUMNS)})")
        frame = pl.read_parquet(path, columns=list(TRANSACTION_COLUMNS), n_rows=limit)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise SettingsError(f"--input {path}: cannot read it as Parquet ({type(error).__name__})") from None
    return frame.sort("event_time", "tid")


def transactions_of(frame: pl.DataFrame) -> Iterator[Transaction]:
    for tid, cc_num, amount, event_time in frame.select(TRANSACTION_COLUMNS).iter_rows():
        yield Transaction(tid=tid, cc_num=cc_num, amount=float(amount), event_micros=to_micros(event_time))


def produce(
    settings: Settings, frame: pl.DataFrame, rate: float | None = None, progress: bool = False,
    linger_ms: int = REPLAY_LINGER_MS,
) -> int:
    """Send every transaction of `frame` in order at `rate` per second (None: as fast as possible), each
    request gathering what is sent within `linger_ms`."""
    producer = make_producer(settings, linger_ms=linger_ms)
    pacer = Pacer(rate)
    sent = 0
    try:
        for tx in tqdm(transactions_of(frame), total=frame.height, disable=not progress, unit="tx", desc="produce"):
            pacer.wait()
            producer.send(settings.transactions_topic, key=tx.cc_num.encode(), value=encode_json(tx.to_message()))
            sent += 1
        producer.flush()
    finally:
        producer.close()
    return sent


def burst_transactions(cc_num: str, count: int, interval_s: float, seed: int, start: datetime | None = None) -> list[Transaction]:
    """`count` transactions on one card, `interval_s` apart in event time from `start` (default: now)."""
    start = start or datetime.now(UTC)
    rng = random.Random(f"{seed}-{cc_num}")
    base = to_micros(start)
    step = round(interval_s * 1_000_000)
    return [
        Transaction(tid=f"burst-{cc_num[-4:]}-{base}-{i}", cc_num=cc_num, amount=round(rng.uniform(50, 900), 2),
                    event_micros=base + i * step)
        for i in range(count)
    ]


def send_live(settings: Settings, transactions: list[Transaction], fast: bool) -> list[dict[str, Any]]:
    """Send transactions one by one, spaced in wall-clock time like their event times unless `fast`."""
    producer = make_producer(settings, linger_ms=0)
    messages = []
    try:
        for index, tx in enumerate(transactions):
            if index and not fast:
                time.sleep(max(0.0, (tx.event_micros - transactions[index - 1].event_micros) / 1e6))
            message = tx.to_message()
            producer.send(settings.transactions_topic, key=tx.cc_num.encode(), value=encode_json(message))
            producer.flush()
            messages.append(message)
    finally:
        producer.close()
    return messages
