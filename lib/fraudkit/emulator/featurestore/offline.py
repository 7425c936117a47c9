"""The offline store: Parquet files in the S3 key layout of SageMaker Feature Store (Glue format).

Layout under `<state_dir>/emulator/s3/<bucket>/`:
`<prefix>/<account>/sagemaker/<region>/offline-store/<fg>-<epoch>/data/year=YYYY/month=MM/day=DD/hour=HH/`
partitioned by event time, each row with `write_time`, `api_invocation_time` and `is_deleted`.
Rows are buffered and flushed in batches (by size, by age from a background thread, before an
offline query through the flush extension, and on shutdown), as the service batches its S3 writes.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from fraudkit.emulator.featurestore.groups import FeatureGroup
from fraudkit.storage import local_object_path

FLUSH_ROWS = 20_000
FLUSH_SECONDS = 1.0
POLARS_TYPES: dict[str, pl.DataType] = {"Integral": pl.Int64(), "Fractional": pl.Float64(), "String": pl.Utf8()}
EVENT_SECONDS = "__event_seconds"
TIMESTAMP = pl.Datetime("us", "UTC")


def offline_schema(group: FeatureGroup) -> dict[str, pl.DataType]:
    """Column types of the offline table: the features, then the three columns Feature Store adds."""
    schema: dict[str, pl.DataType] = {}
    for definition in group.definitions:
        kind = POLARS_TYPES[definition["FeatureType"]]
        schema[definition["FeatureName"]] = pl.List(kind) if definition.get("CollectionType") else kind
    schema.update(write_time=TIMESTAMP, api_invocation_time=TIMESTAMP, is_deleted=pl.Boolean())
    return schema


@dataclass
class _Buffer:
    group: FeatureGroup
    rows: list[dict[str, Any]] = field(default_factory=list)
    oldest: float = 0.0


class OfflineStore:
    def __init__(self, emulator_dir: Path) -> None:
        self.emulator_dir = emulator_dir
        self.s3_root = emulator_dir / "s3"
        self._buffers: dict[str, _Buffer] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, name="offline-flush", daemon=True)
        self._flusher.start()

    def data_dir(self, group: FeatureGroup) -> Path:
        assert group.offline_config is not None
        return local_object_path(self.emulator_dir, group.offline_config["S3StorageConfig"]["ResolvedOutputS3Uri"])

    def append(self, group: FeatureGroup, row: dict[str, Any]) -> None:
        """Buffer one row (feature values typed, plus api_invocation_time, is_deleted, event seconds)."""
        with self._lock:
            buffer = self._buffers.get(group.name)
            if buffer is None or buffer.group is not group:
                buffer = self._buffers[group.name] = _Buffer(group, oldest=time.time())
            buffer.rows.append(row)
            full = len(buffer.rows) >= FLUSH_ROWS
        if full:
            self.flush(group.name)

    def flush(self, name: str | None = None) -> int:
        """Write buffered rows (of one group, or all) to Parquet; returns the number of rows written."""
        with self._lock:
            names = [name] if name is not None else list(self._buffers)
            taken = [self._buffers.pop(n) for n in names if n in self._buffers]
        written = 0
        for buffer in taken:
            if buffer.rows:
                frame = pl.DataFrame(buffer.rows, schema={**offline_schema(buffer.group), EVENT_SECONDS: pl.Float64()})
                written += self.write(buffer.group, frame)
        return written

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
        base = self.data_dir(group)
        name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + f"_{uuid.uuid4().hex[:12]}.parquet"
        with self._write_lock:
            for (year, month, day, hour), part in frame.partition_by(
                ["year", "month", "day", "hour"], as_dict=True, maintain_order=True
            ).items():
                folder = base / f"year={year:04d}" / f"month={month:02d}" / f"day={day:02d}" / f"hour={hour:02d}"
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".{name}.tmp"
                part.select(columns).write_parquet(tmp, compression="snappy")
                tmp.rename(folder / name)
        return frame.height

    def _flush_periodically(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS / 4):
            with self._lock:
                due = [n for n, b in self._buffers.items() if time.time() - b.oldest >= FLUSH_SECONDS]
            for name in due:
                self.flush(name)

    def close(self) -> None:
        self._stop.set()
        self._flusher.join(timeout=5)
        self.flush()
