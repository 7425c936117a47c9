"""Offline (historical) queries with DuckDB in place of Athena.

Each feature group becomes a DuckDB view over its offline-store Parquet files (hive partitions
year/month/day/hour included), named like the group. The backend opens the connection and names the
files (`Backend.offline_connection`, `offline_glob`): on the local backend they live under the
emulator's S3 directory and the emulator is asked to flush its buffered rows first; on aws the view
reads the group's ResolvedOutputS3Uri straight from S3 (DuckDB's httpfs), not through Athena.

The offline store is append-only, on AWS as in the emulator: every PutRecord and DeleteRecord adds a
row, so a replayed put (a stream stage redoing its last batch after a restart, a re-run ingestion)
leaves two rows with the same record id and event time, told apart only by `api_invocation_time`
and `write_time`. The views of `offline_connection` show these raw rows, as Athena's table does.
The reads meant for training de-duplicate the way AWS documents for its "latest snapshot" query and
the SageMaker SDK's dataset builder: `latest_snapshot` keeps one row per record id, and
`point_in_time_join` one row per (record id, event time), the newest by `api_invocation_time`, then
`write_time`.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections.abc import Sequence
from typing import Any

import duckdb
import polars as pl

from fraudkit.config import Settings
from fraudkit.featurestore.admin import describe

DUCKDB_TYPES = {"Integral": "BIGINT", "Fractional": "DOUBLE", "String": "VARCHAR"}
ADDED_COLUMNS = (
    ("write_time", "TIMESTAMPTZ"),
    ("api_invocation_time", "TIMESTAMPTZ"),
    ("is_deleted", "BOOLEAN"),
)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def flush_local(settings: Settings) -> None:
    """Ask the local emulator to write its buffered offline rows now (Feature Store batches them)."""
    request = urllib.request.Request(f"{settings.emulator_url}/_fraudkit/flush", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        json.loads(response.read())


def _group(settings: Settings, name: str) -> dict[str, Any]:
    found = describe(settings, name)
    if found is None or "OfflineStoreConfig" not in found:
        raise KeyError(f"feature group {name} does not exist or has no offline store")
    return found


def offline_connection(settings: Settings, names: Sequence[str]) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per feature group (named like the group) over its offline store.

    The views hold every row ever written, replays and superseded writes included (see the module
    docstring); query through `latest_snapshot` or `point_in_time_join` to get one row per record.
    """
    con = settings.provider.offline_connection()
    for name in names:
        group = _group(settings, name)
        source = settings.provider.offline_glob(group["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"])
        if source is None:  # an empty table with the group's schema
            columns = ", ".join(
                f"CAST(NULL AS {DUCKDB_TYPES[d['FeatureType']]}) AS {_quote(d['FeatureName'])}"
                for d in group["FeatureDefinitions"]
            )
            added = ", ".join(f"CAST(NULL AS {kind}) AS {column}" for column, kind in ADDED_COLUMNS)
            body = f"SELECT {columns}, {added} WHERE false"
        else:
            body = f"SELECT * FROM read_parquet({_literal(source)}, hive_partitioning = true, union_by_name = true)"
        con.execute(f"CREATE VIEW {_quote(name)} AS {body}")
    return con


def _event_timestamp(group: dict[str, Any]) -> str:
    """SQL turning the group's event time feature into a TIMESTAMPTZ."""
    column = _quote(group["EventTimeFeatureName"])
    kind = {d["FeatureName"]: d["FeatureType"] for d in group["FeatureDefinitions"]}[
        group["EventTimeFeatureName"]
    ]
    if kind == "Fractional":
        return f"to_timestamp({column})"
    return f"CAST({column} AS TIMESTAMPTZ)"


def latest_snapshot(settings: Settings, name: str, as_of: dt.datetime | None = None) -> pl.DataFrame:
    """One row per record id: its newest record (by event time, then api_invocation_time, write_time),
    deleted ones left out, as of `as_of` (event time) if given — the documented Athena query.

    Replayed puts, which the append-only offline store keeps as extra rows, collapse to one row here.
    """
    group = _group(settings, name)
    con = offline_connection(settings, [name])
    record_id = _quote(group["RecordIdentifierFeatureName"])
    event = _event_timestamp(group)
    where = "WHERE " + event + " <= ?" if as_of is not None else ""
    sql = f"""
        SELECT * EXCLUDE (row_num) FROM (
            SELECT *, row_number() OVER (
                PARTITION BY {record_id}
                ORDER BY {event} DESC, api_invocation_time DESC, write_time DESC) AS row_num
            FROM {_quote(name)} {where})
        WHERE row_num = 1 AND NOT is_deleted
        ORDER BY {record_id}
    """
    return con.sql(sql, params=[as_of] if as_of is not None else None).pl()


def point_in_time_join(
    settings: Settings,
    events: pl.DataFrame,
    name: str,
    id_column: str,
    time_column: str,
    features: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Each event row with the group's features as they were at the event's time (no future leakage).

    For every event (e.g. a labelled transaction) the latest feature record of the same id whose
    event time is <= the event's time; a later delete marker before the event yields nulls. The
    offline rows are first reduced to one per (record id, event time), the last written (newest
    api_invocation_time, then write_time), as the SageMaker SDK's dataset builder does: the ASOF join
    gives each event one row, and without this reduction that row would be any of a record's
    duplicates, an older write included.
    """
    group = _group(settings, name)
    con = offline_connection(settings, [name])
    record_id = group["RecordIdentifierFeatureName"]
    wanted = [
        f for f in (features or [d["FeatureName"] for d in group["FeatureDefinitions"]]) if f != record_id
    ]
    con.register("events", events.with_row_index("__event_row"))
    picked = ", ".join(f"f.{_quote(f)}" for f in wanted)
    sql = f"""
        WITH history AS (
            SELECT *, {_event_timestamp(group)} AS __feature_time FROM {_quote(name)}
            QUALIFY row_number() OVER (
                PARTITION BY {_quote(record_id)}, __feature_time
                ORDER BY api_invocation_time DESC, write_time DESC) = 1)
        SELECT e.* EXCLUDE (__event_row), {picked}
        FROM events e ASOF LEFT JOIN history f
          ON CAST(e.{_quote(id_column)} AS VARCHAR) = CAST(f.{_quote(record_id)} AS VARCHAR)
         AND CAST(e.{_quote(time_column)} AS TIMESTAMPTZ) >= f.__feature_time
        ORDER BY e.__event_row
    """
    return con.sql(sql).pl()
