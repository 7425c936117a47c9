"""The streaming features as a PyFlink job: the generated Flink SQL on a local mini-cluster (`.venv-engines`).

Runs in streaming mode over CSV files of transactions, the way the Managed Flink application reads the
`transactions` topic: an event-time attribute with a watermark from the kit's allowed lateness (so
same-timestamp peers and rows up to that late are kept), emitted after every row, one OVER window per
statement (`sql.flink_sql`, the text the AWS application deploys), all statements in one job.

Late rows are accounted for, not lost: Flink's OVER windows drop rows behind the watermark, so the
job routes rows with `ts <= CURRENT_WATERMARK(ts)` to a late sink and feeds only the others to the
windows; every input row is in exactly one of the two (the kit's aggregator dead-letters the same way).

Delayed windows (the Handbook's terminal features, [t - 7 d - w, t - 7 d]) cannot be OVER windows in
Flink (a streaming frame must end at CURRENT ROW). They run as undelayed windows over the transactions
plus one *probe* per transaction at t - delay, read from the same file with its own watermark: the
probe's window [t - delay - w, t - delay] holds exactly the delayed window, peers included.

Imported only inside `.venv-engines` (pyflink is not in the workshop's `.venv`); the kit runs it with
`python -m fraudkit.features.flink_job --spec spec.json` (see `engine_flink`).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fraudkit.features.spec import EMPTY_WINDOW_MEAN, FEATURE_SETS, FeatureSet, Window, WindowAggregate
from fraudkit.features.sql import FLINK, flink_sql, window_name

PROBE_TIME = "probe_time"  # a probe's own event time (t - delay); its transaction's time keeps the usual name
DATA_MARKER = "is_data"  # 1 on transactions, NULL on probes: COUNT(is_data) counts transactions only


@dataclass(frozen=True)
class Task:
    """One feature set over one CSV file of transactions (no header; columns in `columns` order)."""

    features: str
    input: str
    output: str
    columns: list[tuple[str, str]]  # (name, Flink SQL type) in file order

    @property
    def feature_set(self) -> FeatureSet:
        return FEATURE_SETS[self.features]


def csv_options(path: str) -> str:
    return f"'connector' = 'filesystem', 'path' = '{path}', 'format' = 'csv'"


def source_ddl(table: str, columns: list[tuple[str, str]], timestamp: str, lateness: timedelta, options: str,
               shifted_by: timedelta | None = None) -> str:
    """A transactions table with `timestamp` as event time and a watermark `lateness` behind it.

    With `shifted_by`, the file's timestamp column is read as-is and the event time is a computed column
    `PROBE_TIME = timestamp - shifted_by` (the probes of a delayed window).
    """
    fields = [f"{name} {kind}" for name, kind in columns]
    rowtime = timestamp
    if shifted_by is not None:
        rowtime = PROBE_TIME
        fields.append(f"{PROBE_TIME} AS {timestamp} - {FLINK.offset(shifted_by)}")
    # one millisecond (Flink's event-time precision) more than the lateness: a row exactly `lateness` behind
    # the newest is on time, as in the kit's aggregator, and same-timestamp peers are never late
    fields.append(f"WATERMARK FOR {rowtime} AS {rowtime} - {FLINK.offset(lateness)} - INTERVAL '0.001' SECOND")
    body = ",\n    ".join(fields)
    return f"CREATE TEMPORARY TABLE {table} (\n    {body}\n) WITH ({options})"


def on_time_view(view: str, table: str, rowtime: str) -> str:
    """The rows of `table` ahead of its watermark: what the OVER windows may still place."""
    return (f"CREATE TEMPORARY VIEW {view} AS SELECT * FROM {table} "
            f"WHERE CURRENT_WATERMARK({rowtime}) IS NULL OR {rowtime} > CURRENT_WATERMARK({rowtime})")


def late_rows_sql(sink: str, table: str, rowtime: str) -> str:
    return f"INSERT INTO {sink} SELECT * FROM {table} WHERE {rowtime} <= CURRENT_WATERMARK({rowtime})"


def _delayed_aggregate(aggregate: WindowAggregate, over: str) -> str:
    if aggregate.value is None:
        return f"COUNT({DATA_MARKER}) OVER {over} AS {aggregate.name}"
    return f"COALESCE(AVG(CAST({aggregate.value} AS DOUBLE)) OVER {over}, {EMPTY_WINDOW_MEAN!r}) AS {aggregate.name}"


def delayed_window_sql(feature_set: FeatureSet, key: str, window: Window, members: tuple[WindowAggregate, ...],
                       transactions: str, probes: str, sink: str) -> str:
    """INSERT the aggregates of one delayed frame, per transaction (key, time), via probes at time - delay.

    `probes` has the transactions' columns plus the event time PROBE_TIME = time - delay.
    """
    ts = feature_set.timestamp
    values = sorted({a.value for a in members if a.value})
    undelayed = Window(window.label, window.width)
    over = window_name(key, window)
    data = ", ".join([key, f"{ts} AS {PROBE_TIME}", f"{ts} AS at_time", *(f"CAST({v} AS DOUBLE) AS {v}" for v in values),
                      f"1 AS {DATA_MARKER}"])
    probe = ", ".join([key, PROBE_TIME, f"{ts} AS at_time", *(f"CAST(NULL AS DOUBLE) AS {v}" for v in values),
                       f"CAST(NULL AS INT) AS {DATA_MARKER}"])
    aggregates = ", ".join(_delayed_aggregate(a, over) for a in members)
    frame = FLINK.order_key(PROBE_TIME)
    clause = (f"PARTITION BY {key} ORDER BY {frame} RANGE BETWEEN {FLINK.offset(undelayed.start_offset)} "
              "PRECEDING AND CURRENT ROW")
    return (
        f"INSERT INTO {sink}\n"
        f"SELECT {key}, at_time AS {ts}, {', '.join(a.name for a in members)} FROM (\n"
        f"    SELECT {key}, at_time, {DATA_MARKER}, {aggregates}\n"
        f"    FROM (SELECT {data} FROM {transactions}\n"
        f"          UNION ALL\n"
        f"          SELECT {probe} FROM {probes})\n"
        f"    WINDOW {over} AS ({clause})\n"
        f") WHERE {DATA_MARKER} IS NULL"
    )


def frame_sink_columns(task: Task, key: str, window: Window, members: tuple[WindowAggregate, ...]) -> list[tuple[str, str]]:
    """The sink's columns for one frame: key, time, (flags on undelayed frames), aggregates."""
    feature_set = task.feature_set
    types = dict(task.columns)
    columns = [(key, types[key]), (feature_set.timestamp, "TIMESTAMP(3)")]
    if not window.delay:
        columns += [(flag.name, "INT") for flag in feature_set.flags]
    columns += [(a.name, "BIGINT" if a.function == "count" else "DOUBLE") for a in members]
    return columns


def sink_ddl(table: str, columns: list[tuple[str, str]], path: str) -> str:
    body = ", ".join(f"{name} {kind}" for name, kind in columns)
    return f"CREATE TEMPORARY TABLE {table} ({body}) WITH ({csv_options(path)})"


def frame_output(task: Task, key: str, window: Window) -> str:
    return f"{task.output}/{key}_{window.label}"


def task_statements(index: int, task: Task, lateness: timedelta) -> tuple[list[str], list[str]]:
    """(DDL, INSERT statements) for one task: its sources, on-time views, sinks, windows and late rows."""
    feature_set, ts = task.feature_set, task.feature_set.timestamp
    source, transactions = f"source_{index}", f"transactions_{index}"
    ddl = [source_ddl(source, task.columns, ts, lateness, csv_options(task.input)), on_time_view(transactions, source, ts),
           sink_ddl(f"late_{index}", task.columns, f"{task.output}/late")]
    inserts = [late_rows_sql(f"late_{index}", source, ts)]
    for number, ((key, window), members) in enumerate(feature_set.frames().items()):
        sink = f"frame_{index}_{number}"
        ddl.append(sink_ddl(sink, frame_sink_columns(task, key, window, members), frame_output(task, key, window)))
        if not window.delay:
            inserts.append(flink_sql(feature_set, window, transactions, sink))
            continue
        probe_source, probes = f"probe_source_{index}_{number}", f"probes_{index}_{number}"
        ddl += [source_ddl(probe_source, task.columns, ts, lateness, csv_options(task.input), shifted_by=window.delay),
                on_time_view(probes, probe_source, PROBE_TIME)]
        inserts.append(delayed_window_sql(feature_set, key, window, members, transactions, probes, sink))
    return ddl, inserts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the generated Flink SQL over CSV transactions (streaming mode).")
    parser.add_argument("--spec", required=True, help="JSON: {tasks: [{features, input, output, columns}], lateness_ms, parallelism}")
    args = parser.parse_args(argv)
    with open(args.spec, encoding="utf-8") as handle:
        spec: dict[str, Any] = json.load(handle)
    tasks = [Task(t["features"], t["input"], t["output"], [(name, kind) for name, kind in t["columns"]]) for t in spec["tasks"]]
    lateness = timedelta(milliseconds=spec["lateness_ms"])

    from pyflink.table import EnvironmentSettings, TableEnvironment

    started = time.perf_counter()
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = env.get_config()
    config.set("parallelism.default", str(spec.get("parallelism", 1)))
    config.set("table.local-time-zone", "UTC")  # calendar flags in UTC, as every other engine
    # a watermark after every row, not every 200 ms of wall time: which rows are late depends on the
    # stream only (reproducible), and is the aggregator's rule, older than newest - lateness
    config.set("pipeline.auto-watermark-interval", "0 ms")
    statements = env.create_statement_set()
    for index, task in enumerate(tasks):
        ddl, inserts = task_statements(index, task, lateness)
        for statement in ddl:
            env.execute_sql(statement)
        for insert in inserts:
            statements.add_insert_sql(insert)
    startup = time.perf_counter() - started
    began = time.perf_counter()
    statements.execute().wait()
    compute = time.perf_counter() - began
    print(json.dumps({"engine": "flink", "startup_seconds": round(startup, 3), "compute_seconds": round(compute, 3)}))


if __name__ == "__main__":
    main()
