"""The offline store: Parquet objects in the S3 key layout of SageMaker Feature Store (Glue format).

Keys under the group's S3Uri:
`<prefix>/<account>/sagemaker/<region>/offline-store/<fg>-<epoch>/data/year=YYYY/month=MM/day=DD/hour=HH/`
partitioned by event time, each row with `write_time`, `api_invocation_time` and `is_deleted`; the
objects go to the server's `ObjectStore` (files under `<state_dir>/emulator/s3/<bucket>/` locally, or
PutObject to the configured S3 endpoint).
Writes queue their rows in the database (durably, with the online change): single-record writes as
JSON rows, small bulk writes as Arrow frames (QUEUED_FRAME_ROWS at most; larger ones are written to
Parquet before the request returns, as they are batches already); a background thread
drains the queue into Parquet in batches (every FLUSH_SECONDS, sooner when FLUSH_ROWS are queued,
before an offline query through the flush extension, and on shutdown), as the service batches its
S3 writes. A crash between writing a file and dropping its rows from the queue can repeat rows in
the offline store (at least once, like the service's own delivery), never lose them. A failing flush
(full disk, unwritable directory, S3 endpoint unreachable) leaves the rows queued: it is logged, retried with a bounded
backoff, and reported by `problems()` (the health endpoint) until a flush succeeds again.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import polars as pl

from fraudkit.emulator.featurestore.groups import FeatureGroup
from fraudkit.emulator.featurestore.online import OnlineStore
from fraudkit.emulator.objects import ObjectStore

FLUSH_ROWS = 20_000
QUEUED_FRAME_ROWS = 5_000
FLUSH_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0  # the longest wait between retries of a failing flush
POLARS_TYPES: dict[str, pl.DataType] = {
    "Integral": pl.Int64(),
    "Fractional": pl.Float64(),
    "String": pl.Utf8(),
}
EVENT_SECONDS = "__event_seconds"
TIMESTAMP = pl.Datetime("us", "UTC")
ADDED_COLUMNS = {"write_time": TIMESTAMP, "api_invocation_time": TIMESTAMP, "is_deleted": pl.Boolean()}
log = logging.getLogger(__name__)


def offline_schema(group: FeatureGroup) -> dict[str, pl.DataType]:
    """Column types of the offline table: the features, then the three columns Feature Store adds."""
    schema: dict[str, pl.DataType] = {}
    for definition in group.definitions:
        kind = POLARS_TYPES[definition["FeatureType"]]
        schema[definition["FeatureName"]] = pl.List(kind) if definition.get("CollectionType") else kind
    schema.update(ADDED_COLUMNS)
    return schema


def partition_uri(data_uri: str, year: int, month: int, day: int, hour: int, name: str) -> str:
    """The object of one file of an event-time hour under the group's ResolvedOutputS3Uri."""
    return f"{data_uri.rstrip('/')}/year={year:04d}/month={month:02d}/day={day:02d}/hour={hour:02d}/{name}"


class OfflineStore:
    """Drains the offline rows queued in the database into Parquet files, in batches."""

    def __init__(
        self, objects: ObjectStore, database: OnlineStore, group: Callable[[str], FeatureGroup | None]
    ) -> None:
        self.objects = objects
        self._database = database
        self._group = group
        self._queued = 0
        self._failures = 0  # consecutive failed flushes
        self._failure = ""  # the last one's error
        self._retry_at = 0.0  # time.monotonic() before which a failing flush is not retried
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, name="offline-flush", daemon=True)
        self._flusher.start()

    def queued(self, rows: int = 1) -> None:
        """Count rows the database queued; a full batch wakes the flusher instead of waiting for the timer."""
        self._queued += rows
        if self._queued >= FLUSH_ROWS:
            self._wake.set()

    def flush(self, name: str | None = None) -> int:
        """Write the queued rows and frames (of one group, or all) to Parquet, then drop them from the queue."""
        written = 0
        with self._write_lock:
            self._queued = 0
            try:
                while rows := self._database.pending(name, FLUSH_ROWS):
                    written += self._write_groups((fg, orjson.loads(row)) for _, fg, row in rows)
                    self._database.drop_pending(name, rows[-1][0])
                while frames := self._database.pending_frames(name, FLUSH_ROWS):
                    written += self._write_groups(
                        (fg, pl.read_ipc_stream(io.BytesIO(frame))) for _, fg, frame in frames
                    )
                    self._database.drop_pending_frames(name, frames[-1][0])
            except Exception as err:
                self._failed(err)
                raise
            self._failures, self._failure = 0, ""
        return written

    def _failed(self, err: Exception) -> None:
        self._failures += 1
        self._failure = f"{type(err).__name__}: {err}"
        self._retry_at = time.monotonic() + self.retry_delay()
        log.error(
            "offline store flush failed (%d in a row; rows stay queued): %s", self._failures, self._failure
        )

    def retry_delay(self) -> float:
        """How long to wait before the next flush: the period, doubled per consecutive failure up to a bound."""
        return min(FLUSH_SECONDS * 2 ** min(self._failures, 16), MAX_RETRY_SECONDS)

    def retry_due(self) -> bool:
        """Whether a flush may run now (always, unless the last one failed and its backoff is not over)."""
        return not self._failures or time.monotonic() >= self._retry_at

    def problems(self) -> list[str]:
        """Why the offline store is not keeping up, for the health endpoint (empty when it is)."""
        if not self._failures:
            return []
        return [
            f"offline store: {self._failures} flushes failed in a row, rows stay queued; last error: {self._failure}"
        ]

    def _write_groups(self, queued: Iterable[tuple[str, Any]]) -> int:
        """One Parquet write per group for queued JSON rows or Arrow frames (rows of purged groups are dropped)."""
        by_group: dict[str, list[Any]] = {}
        for fg, item in queued:
            by_group.setdefault(fg, []).append(item)
        written = 0
        for fg, items in by_group.items():
            group = self._group(fg)
            if group is None or not group.offline_enabled:  # rows of a purged group have nowhere to go
                continue
            if isinstance(items[0], pl.DataFrame):
                frame = pl.concat(
                    items, how="diagonal"
                )  # frames queued before an UpdateFeatureGroup lack its features
            else:
                frame = pl.DataFrame(items, schema={**offline_schema(group), EVENT_SECONDS: pl.Float64()})
            written += self.write(group, frame)
        return written

    def queue_or_write(self, group: FeatureGroup, frame: pl.DataFrame) -> tuple[bytes, int] | None:
        """A small frame as (Arrow IPC, rows) for the caller to queue with its online change; a large one is
        written now (returns None)."""
        if frame.height > QUEUED_FRAME_ROWS:
            self.write(group, frame)
            return None
        body = io.BytesIO()
        frame.write_ipc_stream(body)
        return body.getvalue(), frame.height

    def write(self, group: FeatureGroup, frame: pl.DataFrame) -> int:
        """Write rows carrying EVENT_SECONDS into hourly event-time partitions; write_time is now."""
        now = time.time()
        stamp = pl.from_epoch((pl.col(EVENT_SECONDS) * 1e6).cast(pl.Int64), time_unit="us")
        frame = frame.with_columns(
            write_time=pl.lit(int(now * 1_000_000)).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            year=stamp.dt.year(),
            month=stamp.dt.month(),
            day=stamp.dt.day(),
            hour=stamp.dt.hour(),
        )
        columns = list(offline_schema(group))
        assert group.offline_config is not None
        data_uri = group.offline_config["S3StorageConfig"]["ResolvedOutputS3Uri"]
        name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + f"_{uuid.uuid4().hex[:12]}.parquet"
        for (year, month, day, hour), part in frame.partition_by(
            ["year", "month", "day", "hour"], as_dict=True, maintain_order=True
        ).items():
            body = io.BytesIO()
            part.select(columns).write_parquet(body, compression="snappy")
            self.objects.put(partition_uri(data_uri, year, month, day, hour, name), body.getvalue())
        return frame.height

    def _flush_periodically(self) -> None:
        """The flusher thread: survives any error of a flush (logged there) and retries with backoff."""
        while not self._stop.is_set():
            self._wake.wait(self.retry_delay())
            self._wake.clear()
            try:
                pending = self.retry_due() and self._database.has_pending()
            except Exception as err:
                self._failed(err)
                continue
            if pending:
                with contextlib.suppress(Exception):  # counted and logged by flush
                    self.flush()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._flusher.join(timeout=5)
        self.flush()
