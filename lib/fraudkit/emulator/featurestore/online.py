"""The durable store: one SQLite database in WAL mode holding the online records, the feature-group
documents, and the offline rows not yet flushed to Parquet.

Why SQLite: it survives a server restart (and a crash: WAL with synchronous=NORMAL loses nothing
a committed transaction wrote, short of power loss), and the event-time rule is one atomic upsert
("replace only if the new event time is >= the stored one"), so concurrent writers cannot lose
the newest record. A write's offline row is queued in the same transaction as its online change,
so an acknowledged write reaches the offline store even if the server dies before the next flush.
One connection guarded by a lock: SQLite serialises writers anyway.

Offline rows wait in one of two queues: `offline_pending` holds one JSON row per single-record write,
`offline_pending_frames` one Arrow IPC frame per small bulk write (the stream's per-batch aggregates),
queued in the same transaction as the batch's online upserts.

Each offline queue's `seq` is a plain rowid (no AUTOINCREMENT, whose bookkeeping table would add a
write to every PutRecord): a new row always gets more than the largest seq present, so a flush
that read rows up to seq N and then drops seq <= N never drops a row queued meanwhile.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS feature_groups (name TEXT PRIMARY KEY, doc BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS offline_pending (seq INTEGER PRIMARY KEY, fg TEXT NOT NULL, row BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS offline_pending_frames (
    seq INTEGER PRIMARY KEY, fg TEXT NOT NULL, frame BLOB NOT NULL, rows INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    fg TEXT NOT NULL,
    rid TEXT NOT NULL,
    event_time REAL NOT NULL,
    features BLOB NOT NULL,
    expires_at REAL,
    soft_deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (fg, rid)
) WITHOUT ROWID;
"""

UPSERT = """
INSERT INTO records (fg, rid, event_time, features, expires_at, soft_deleted) VALUES (?, ?, ?, ?, ?, 0)
ON CONFLICT (fg, rid) DO UPDATE SET
    event_time = excluded.event_time, features = excluded.features,
    expires_at = excluded.expires_at, soft_deleted = 0
WHERE excluded.event_time >= records.event_time
"""


@dataclass(frozen=True)
class StoredRecord:
    record_id: str
    event_time: float
    features: dict[str, Any]  # feature name -> wire string (or list of strings for collections)
    expires_at: float | None
    soft_deleted: bool

    def visible(self, now: float) -> bool:
        return not self.soft_deleted and (self.expires_at is None or self.expires_at > now)


def _of_group(query: str, fg: str | None) -> tuple[str, tuple[Any, ...]]:
    """`query` limited to one feature group's rows, or left as it is for all groups."""
    return (query, ()) if fg is None else (query + " WHERE fg = ?", (fg,))


def _record(row: Sequence[Any]) -> StoredRecord:
    rid, event_time, features, expires_at, soft_deleted = row
    return StoredRecord(rid, event_time, orjson.loads(features), expires_at, bool(soft_deleted))


class OnlineStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def probe(self) -> None:
        """Read the database (raises when its file is not a usable SQLite database)."""
        with self._lock:
            self._conn.execute("SELECT count(*) FROM feature_groups").fetchone()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @staticmethod
    def _queue(conn: sqlite3.Connection, fg: str, offline_row: bytes | None) -> None:
        if offline_row is not None:
            conn.execute("INSERT INTO offline_pending (fg, row) VALUES (?, ?)", (fg, offline_row))

    # -- offline rows waiting for the next Parquet flush --
    def queue_offline(self, fg: str, offline_row: bytes) -> None:
        with self._transaction() as conn:
            self._queue(conn, fg, offline_row)

    def pending(self, fg: str | None, limit: int) -> list[tuple[int, str, bytes]]:
        """The oldest queued offline rows (of one group, or all) as (seq, group, row JSON)."""
        query, args = _of_group("SELECT seq, fg, row FROM offline_pending", fg)
        with self._lock:
            return self._conn.execute(query + " ORDER BY seq LIMIT ?", (*args, limit)).fetchall()

    def has_pending(self) -> bool:
        """Whether any offline row or frame waits for a flush (without reading one)."""
        with self._lock:
            return bool(
                self._conn.execute(
                    "SELECT EXISTS (SELECT 1 FROM offline_pending) OR EXISTS (SELECT 1 FROM offline_pending_frames)"
                ).fetchone()[0]
            )

    def drop_pending(self, fg: str | None, up_to_seq: int) -> None:
        self._drop_queued("offline_pending", fg, up_to_seq)

    def pending_frames(self, fg: str | None, max_rows: int) -> list[tuple[int, str, bytes]]:
        """The oldest queued offline frames as (seq, group, Arrow IPC), at least one, about `max_rows` rows."""
        query, args = _of_group("SELECT seq, fg, frame, rows FROM offline_pending_frames", fg)
        taken: list[tuple[int, str, bytes]] = []
        total = 0
        with self._lock:
            cursor = self._conn.execute(query + " ORDER BY seq", args)
            try:
                for seq, group, frame, rows in cursor:
                    if taken and total + rows > max_rows:
                        break
                    taken.append((seq, group, frame))
                    total += rows
            finally:
                cursor.close()
        return taken

    def drop_pending_frames(self, fg: str | None, up_to_seq: int) -> None:
        self._drop_queued("offline_pending_frames", fg, up_to_seq)

    def _drop_queued(self, table: str, fg: str | None, up_to_seq: int) -> None:
        query, args = _of_group(f"DELETE FROM {table}", fg)
        joiner = " AND" if fg is not None else " WHERE"
        with self._transaction() as conn:
            conn.execute(f"{query}{joiner} seq <= ?", (*args, up_to_seq))

    # -- feature-group documents --
    def save_group(self, name: str, doc: dict[str, Any]) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO feature_groups VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET doc = excluded.doc",
                (name, orjson.dumps(doc)),
            )

    def load_groups(self) -> list[dict[str, Any]]:
        with self._lock:
            return [orjson.loads(doc) for (doc,) in self._conn.execute("SELECT doc FROM feature_groups")]

    def drop_group(self, name: str) -> None:
        """Remove a feature group and its online records in one transaction."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM records WHERE fg = ?", (name,))
            conn.execute("DELETE FROM feature_groups WHERE name = ?", (name,))

    # -- records --
    def put(
        self,
        fg: str,
        rid: str,
        event_time: float,
        features: dict[str, Any],
        expires_at: float | None,
        offline_row: bytes | None = None,
    ) -> bool:
        """Write unless a newer record is stored (the offline row is queued either way); True when the row changed."""
        with self._transaction() as conn:
            changed = (
                conn.execute(UPSERT, (fg, rid, event_time, orjson.dumps(features), expires_at)).rowcount > 0
            )
            self._queue(conn, fg, offline_row)
        return changed

    def put_many(
        self,
        fg: str,
        rows: Iterable[tuple[str, float, bytes, float | None]],
        offline_frame: tuple[bytes, int] | None = None,
    ) -> int:
        """Bulk upsert of (rid, event_time, features JSON, expires_at), same event-time rule, one transaction;
        `offline_frame` = (Arrow IPC, row count) is queued for the offline store in that transaction."""
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany(UPSERT, ((fg, *row) for row in rows))
            changed = conn.total_changes - before
            if offline_frame is not None:
                conn.execute(
                    "INSERT INTO offline_pending_frames (fg, frame, rows) VALUES (?, ?, ?)",
                    (fg, *offline_frame),
                )
        return changed

    def get(self, fg: str, rid: str) -> StoredRecord | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT rid, event_time, features, expires_at, soft_deleted FROM records WHERE fg = ? AND rid = ?",
                (fg, rid),
            ).fetchone()
        return _record(row) if row else None

    def get_many(self, fg: str, rids: Sequence[str]) -> dict[str, StoredRecord]:
        marks = ",".join("?" * len(rids))
        with self._lock:
            rows = self._conn.execute(
                "SELECT rid, event_time, features, expires_at, soft_deleted FROM records "
                f"WHERE fg = ? AND rid IN ({marks})",
                (fg, *rids),
            ).fetchall()
        return {row[0]: _record(row) for row in rows}

    def soft_delete(
        self, fg: str, rid: str, event_time: float, kept: dict[str, Any], marker: bytes | None
    ) -> bool:
        """Null the features (keeping `kept`) if the delete's event time is later than the stored
        record's (an equal one deletes nothing); the offline delete marker is queued either way, as
        the service documents."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE records SET soft_deleted = 1, features = ?, event_time = ? "
                "WHERE fg = ? AND rid = ? AND event_time < ?",
                (orjson.dumps(kept), event_time, fg, rid, event_time),
            )
            self._queue(conn, fg, marker)
        return cursor.rowcount > 0

    def hard_delete(self, fg: str, rid: str, event_time: float, marker: bytes | None) -> bool | None:
        """Remove the row; True when removed, None when absent, False when the stored one is not older
        than the delete (then, as on the service, no delete marker is queued)."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT event_time FROM records WHERE fg = ? AND rid = ?", (fg, rid)
            ).fetchone()
            stale = row is not None and row[0] >= event_time
            if row is not None and not stale:
                conn.execute("DELETE FROM records WHERE fg = ? AND rid = ?", (fg, rid))
            if not stale:
                self._queue(conn, fg, marker)
        return None if row is None else not stale

    def expire(self, fg: str, rid: str, now: float, marker: bytes | None) -> bool:
        """Hard delete the row if it is (still) expired at `now`, queueing its delete marker; True if deleted."""
        with self._transaction() as conn:
            deleted = (
                conn.execute(
                    "DELETE FROM records WHERE fg = ? AND rid = ? AND soft_deleted = 0 AND expires_at <= ?",
                    (fg, rid, now),
                ).rowcount
                > 0
            )
            if deleted:
                self._queue(conn, fg, marker)
        return deleted

    def modify(
        self, fg: str, rid: str, change: Callable[[StoredRecord | None], tuple[StoredRecord, bytes | None]]
    ) -> None:
        """Read-modify-write of one row in one transaction: `change` gets the stored record (None when
        absent) and returns the new one and its offline row, or raises to leave everything as it was."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT rid, event_time, features, expires_at, soft_deleted FROM records WHERE fg = ? AND rid = ?",
                (fg, rid),
            ).fetchone()
            record, offline_row = change(_record(row) if row else None)
            conn.execute(
                "UPDATE records SET features = ?, event_time = ?, expires_at = ? WHERE fg = ? AND rid = ?",
                (orjson.dumps(record.features), record.event_time, record.expires_at, fg, rid),
            )
            self._queue(conn, fg, offline_row)

    def list_ids(
        self, fg: str, after: str | None, limit: int, include_soft_deleted: bool, now: float
    ) -> list[str]:
        query = "SELECT rid FROM records WHERE fg = ? AND rid > ? AND (expires_at IS NULL OR expires_at > ?)"
        if not include_soft_deleted:
            query += " AND soft_deleted = 0"
        with self._lock:
            rows = self._conn.execute(
                query + " ORDER BY rid LIMIT ?", (fg, after or "", now, limit)
            ).fetchall()
        return [rid for (rid,) in rows]

    def count(self, fg: str) -> tuple[int, int]:
        """Number of rows and their stored bytes (for OnlineStoreTotalSizeBytes)."""
        with self._lock:
            rows, size = self._conn.execute(
                "SELECT count(*), coalesce(sum(length(features) + length(rid)), 0) FROM records WHERE fg = ?",
                (fg,),
            ).fetchone()
        return int(rows), int(size)
