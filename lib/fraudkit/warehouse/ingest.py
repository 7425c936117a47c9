"""From the broker into the warehouse's raw table, the way Redshift's auto-refreshed streaming view reads MSK.

Messages are the Handbook transactions as JSON, keyed by customer. Each `ingest` call reads every partition
from the warehouse's own offsets up to the high watermarks (one "refresh"), in batches; a batch's rows and
the offsets after it are written in one DuckDB transaction, so a crash loses nothing and replays nothing
twice. Reading is at-least-once (a producer retry can duplicate a message) and the insert is idempotent on
`transaction_id`. Offsets are stored with the topic id: the kit's in-memory broker recreates its topics on a
restart, and a new id means reading the new topic from its start (rows already stored are kept).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import polars as pl
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from fraudkit.config import Settings
from fraudkit.streaming.broker import DEFAULT_PARTITIONS
from fraudkit.streaming.kafka_clients import (
    client_config,
    make_consumer,
    partitions_of,
    topic_id,
)
from fraudkit.warehouse.bulk_kafka import MessageBatch, read_batches, write_messages

RAW_TABLE = "transactions"
OFFSETS_TABLE = "ingest_offsets"
# the message: the Handbook transaction as its simulator writes it; the label travels with it, and the
# features read only labels older than the 7-day delay (as they would be known in production)
MESSAGE_SCHEMA = {
    "transaction_id": pl.Int64,
    "tx_datetime": pl.Utf8,
    "customer_id": pl.Int64,
    "terminal_id": pl.Int64,
    "tx_amount": pl.Float64,
    "tx_fraud": pl.Int64,
}
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S%.f"  # the form Redshift casts to TIMESTAMP
TABLE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} (transaction_id BIGINT PRIMARY KEY, tx_datetime TIMESTAMP NOT NULL, "
    "customer_id BIGINT NOT NULL, terminal_id BIGINT NOT NULL, tx_amount DOUBLE NOT NULL, tx_fraud TINYINT NOT NULL, "
    "kafka_partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {OFFSETS_TABLE} (topic VARCHAR, kafka_partition INTEGER, topic_id VARCHAR, "
    "next_offset BIGINT NOT NULL, PRIMARY KEY (topic, kafka_partition))",
)
DEFAULT_BATCH = 100_000


def handbook_topic(settings: Settings) -> str:
    """The warehouse's input topic: next to the card stream's `transactions`, whose messages differ."""
    return f"{settings.transactions_topic}-handbook"


def create_topic(settings: Settings, partitions: int = DEFAULT_PARTITIONS) -> str:
    """Create the warehouse's topic if it does not exist; returns its name."""
    name = handbook_topic(settings)
    admin = KafkaAdminClient(**client_config(settings), client_id="fraudkit-warehouse-admin")
    try:
        if name not in set(admin.list_topics()):
            admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()
    return name


def encode(frame: pl.DataFrame) -> list[tuple[bytes, bytes]]:
    """(key, JSON value) per transaction, in the frame's order: one ndjson pass instead of a json.dumps per row."""
    columns = frame.select(list(MESSAGE_SCHEMA)).with_columns(
        pl.col("tx_datetime").dt.strftime("%Y-%m-%d %H:%M:%S%.6f")
    )
    lines = columns.write_ndjson().encode().splitlines()
    keys = [str(c).encode() for c in columns["customer_id"].to_list()]
    return list(zip(keys, lines, strict=True))


def publish(settings: Settings, frame: pl.DataFrame, progress: Callable[[int], None] | None = None) -> int:
    """Send the transactions of `frame` in event-time order, keyed by customer (one customer, one partition)."""
    messages = encode(frame.sort("tx_datetime", "transaction_id"))
    return write_messages(settings, handbook_topic(settings), messages, progress)


def decode(values: list[bytes]) -> pl.DataFrame:
    """The messages as rows with a `valid` flag (valid JSON object, every field present with its type).

    One vectorised ndjson parse per batch; a batch holding a malformed message is parsed one by one.
    """
    try:
        frame = pl.read_ndjson(io.BytesIO(b"\n".join(values)), schema=MESSAGE_SCHEMA)
        if frame.height != len(values):
            raise ValueError("a message spans lines or is empty")
    except (ValueError, pl.exceptions.PolarsError):
        rows = []
        for value in values:
            try:
                row = json.loads(value)
            except ValueError:
                row = None
            rows.append(row if isinstance(row, dict) else {})
        frame = pl.DataFrame(rows, schema=MESSAGE_SCHEMA, strict=False)
    frame = frame.with_columns(pl.col("tx_datetime").str.to_datetime(TIMESTAMP_FORMAT, time_unit="us", strict=False))
    return frame.with_columns(valid=pl.all_horizontal(pl.col(list(MESSAGE_SCHEMA)).is_not_null()))


@dataclass
class IngestResult:
    """What one refresh did: messages read, rows new to the warehouse, repeats and malformed messages."""

    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    offsets: dict[int, int] = field(default_factory=dict)


def ensure_tables(connection: duckdb.DuckDBPyConnection) -> None:
    for statement in TABLE_DDL:
        connection.execute(statement)


def _stored_offsets(connection: duckdb.DuckDBPyConnection, topic: str) -> dict[int, tuple[str | None, int]]:
    rows = connection.execute(
        f"SELECT kafka_partition, topic_id, next_offset FROM {OFFSETS_TABLE} WHERE topic = ?", [topic]
    ).fetchall()
    return {partition: (stored_id, offset) for partition, stored_id, offset in rows}


def _commit(
    connection: duckdb.DuckDBPyConnection,
    batch: MessageBatch,
    topic: str,
    current_id: str | None,
    result: IngestResult,
) -> None:
    """Insert the batch's new rows and move its partitions' offsets past it, in one transaction."""
    rows = decode(batch.values).with_columns(
        kafka_partition=pl.Series(batch.partitions, dtype=pl.Int32),
        kafka_offset=pl.Series(batch.offsets, dtype=pl.Int64),
    )
    valid = rows.filter("valid").drop("valid").unique("transaction_id", keep="first", maintain_order=True)
    next_offsets = dict(
        rows.group_by("kafka_partition").agg(pl.col("kafka_offset").max() + 1).iter_rows()
    )
    connection.execute("BEGIN TRANSACTION")
    try:
        connection.register("_batch", valid.to_arrow())
        inserted = connection.execute(
            f"INSERT OR IGNORE INTO {RAW_TABLE} SELECT transaction_id, tx_datetime, customer_id, terminal_id, "
            "tx_amount, tx_fraud, kafka_partition, kafka_offset FROM _batch"
        ).fetchone()
        connection.executemany(
            f"INSERT OR REPLACE INTO {OFFSETS_TABLE} VALUES (?, ?, ?, ?)",
            [[topic, partition, current_id, offset] for partition, offset in next_offsets.items()],
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        connection.unregister("_batch")
    new_rows = int(inserted[0]) if inserted else 0
    valid_rows = int(rows["valid"].sum())
    result.read += len(batch)
    result.inserted += new_rows
    result.rejected += rows.height - valid_rows
    result.duplicates += valid_rows - new_rows
    result.offsets.update(next_offsets)


def _topic_identity(settings: Settings, topic: str) -> tuple[str | None, list[int]]:
    """The topic's id and partitions, from the metadata the rest of the kit reads (kafka-python)."""
    consumer = make_consumer(settings)
    try:
        partitions = partitions_of(consumer, topic)
        return topic_id(consumer, topic), [tp.partition for tp in partitions]
    finally:
        consumer.close()


def ingest(
    settings: Settings,
    connection: duckdb.DuckDBPyConnection,
    *,
    batch_size: int = DEFAULT_BATCH,
    max_batches: int | None = None,
    timeout_s: float = 600.0,
) -> IngestResult:
    """One refresh: read the topic from the stored offsets to its high watermarks into the raw table.

    `max_batches` stops early after that many committed batches (the next call continues from there).
    """
    started = time.perf_counter()
    ensure_tables(connection)
    topic = handbook_topic(settings)
    current_id, partitions = _topic_identity(settings, topic)
    stored = _stored_offsets(connection, topic)
    starts = {}
    for partition in partitions:
        stored_id, offset = stored.get(partition, (None, 0))
        recreated = stored_id is not None and current_id is not None and stored_id != current_id
        starts[partition] = 0 if recreated else offset
    result = IngestResult()
    for batches, batch in enumerate(read_batches(settings, topic, starts, batch_size, timeout_s), start=1):
        _commit(connection, batch, topic, current_id, result)
        if max_batches is not None and batches >= max_batches:
            break
    result.seconds = time.perf_counter() - started
    return result


def follow(
    settings: Settings,
    connection: duckdb.DuckDBPyConnection,
    interval_s: float = 1.0,
    stop: Callable[[IngestResult], bool] = lambda result: False,
) -> None:
    """Refresh every `interval_s` (Redshift's AUTO REFRESH) until `stop(last result)` is true or interrupted."""
    while True:
        result = ingest(settings, connection)
        if stop(result):
            return
        time.sleep(interval_s)

