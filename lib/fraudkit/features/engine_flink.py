"""The Flink engine: the generated Flink SQL on PyFlink's mini-cluster in streaming mode (`flink_job`).

The kit writes the transactions as CSV in event-time order (a replay of the `transactions` topic), runs
`flink_job` in `.venv-engines`, and joins each window's output back to the rows by (key, event time):
peers share one value, so the pair identifies a row's window. Ratios mix windows, which one Flink OVER
statement cannot; they are computed here by the polars engine's expressions, as the scoring handler does
on AWS. Flink's event time has millisecond precision, so sub-millisecond times are refused.

Rows later than the allowed lateness are not lost: the job writes them to a late sink, `FlinkRun.late`
holds their row numbers, and `compute` refuses to return features with rows missing.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from fraudkit.features.engine_polars import ratio_expr
from fraudkit.features.engines_venv import EngineError, run_job
from fraudkit.features.spec import FeatureSet

ROW = "__row"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S%.3f"


@dataclass
class FlinkRun:
    """Per task: the features in input order (null where a row came too late), and the late rows' numbers."""

    features: list[pl.DataFrame] = field(default_factory=list)
    late: list[list[int]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def _flink_type(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "BIGINT"
    if dtype.is_float():
        return "DOUBLE"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP(3)"
    return "STRING"


def _stream_file(df: pl.DataFrame, feature_set: FeatureSet, path: Path, in_event_time_order: bool) -> pl.DataFrame:
    """Write the rows as the job's CSV (row number first, UTC wall time to the millisecond); return the frame."""
    ts = feature_set.timestamp
    dtype = df.schema[ts]
    aware = isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    moments = df[ts].dt.convert_time_zone("UTC") if aware else df[ts]
    if (moments.dt.microsecond() % 1000 != 0).any():
        raise EngineError(f"column {ts} has sub-millisecond times; Flink's event time has millisecond precision")
    frame = df.with_row_index(ROW).with_columns(moments.dt.replace_time_zone(None).alias(ts))
    if in_event_time_order:
        frame = frame.sort(ts, maintain_order=True)
    frame.write_csv(path, include_header=False, datetime_format=TIME_FORMAT)
    return frame


_POLARS_TYPES = {"BIGINT": pl.Int64, "INT": pl.Int64, "DOUBLE": pl.Float64}


def _read_frame(path: Path, columns: list[tuple[str, str]], timestamp: str) -> pl.DataFrame:
    """A sink directory's CSV rows; Flink writes times with as few fraction digits as needed."""
    files = sorted(p for p in path.glob("*") if p.is_file() and not p.name.startswith("."))
    schema = {name: _POLARS_TYPES.get(kind, pl.String) for name, kind in columns}
    if not files:
        return pl.DataFrame(schema=schema)
    frame = pl.concat([pl.read_csv(f, has_header=False, new_columns=list(schema), schema=schema) for f in files])
    text = pl.col(timestamp)
    millis = text.str.slice(20).str.pad_end(3, "0").str.slice(0, 3).cast(pl.Int64)
    moment = text.str.slice(0, 19).str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us") + pl.duration(milliseconds=millis)
    return frame.with_columns(moment.alias(timestamp))


def compute_many(tasks: list[tuple[pl.DataFrame, FeatureSet]], lateness: timedelta | None = None,
                 in_event_time_order: bool | Sequence[bool] = True, parallelism: int = 1) -> FlinkRun:
    """Run every (transactions, feature set) task in one Flink job.

    `lateness` defaults to the stream aggregator's; `in_event_time_order=False` (for all tasks, or one flag
    per task) streams the rows in the given order, so rows later than `lateness` meet the watermark.
    """
    from fraudkit.features import flink_job  # the statements' shapes; pyflink is imported only in its main()
    from fraudkit.streaming.aggregator import DEFAULT_LATENESS

    lateness = DEFAULT_LATENESS if lateness is None else lateness
    ordered = [in_event_time_order] * len(tasks) if isinstance(in_event_time_order, bool) else list(in_event_time_order)

    run = FlinkRun()
    with tempfile.TemporaryDirectory(prefix="fraudkit-flink-") as tmp:
        jobs, frames = [], []
        for index, (df, feature_set) in enumerate(tasks):
            source = Path(tmp) / f"in{index}.csv"
            frame = _stream_file(df, feature_set, source, ordered[index])
            columns = [(name, _flink_type(frame.schema[name])) for name in frame.columns]
            jobs.append(flink_job.Task(feature_set.name, str(source), f"{tmp}/out{index}", columns))
            frames.append(frame)
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps({"tasks": [asdict(job) for job in jobs], "parallelism": parallelism,
                                         "lateness_ms": lateness // timedelta(milliseconds=1)}))
        run.report = run_job(["-m", "fraudkit.features.flink_job", "--spec", str(spec_path)])
        for task, frame, (_, feature_set) in zip(jobs, frames, tasks, strict=True):
            late = _read_frame(Path(task.output) / "late", task.columns, feature_set.timestamp)
            run.late.append(sorted(int(r) for r in late[ROW].to_list()))
            features = frame.select(ROW, *feature_set.keys, feature_set.timestamp, *feature_set.value_columns)
            for (key, window), members in feature_set.frames().items():
                columns = flink_job.frame_sink_columns(task, key, window, members)
                output = _read_frame(Path(flink_job.frame_output(task, key, window)), columns, feature_set.timestamp)
                output = output.unique(subset=[key, feature_set.timestamp], keep="first")
                if not window.delay:  # every undelayed frame carries the flags: keep the first one's
                    output = output.drop([f.name for f in feature_set.flags if f.name in features.columns])
                features = features.join(output, on=[key, feature_set.timestamp], how="left")
            features = features.sort(ROW).with_columns(ratio_expr(r) for r in feature_set.ratios)
            run.features.append(features.select(feature_set.feature_names))
    return run


def compute(df: pl.DataFrame, feature_set: FeatureSet) -> pl.DataFrame:
    """The feature columns of `feature_set` for `df`, in the input's row order (one Flink job)."""
    run = compute_many([(df, feature_set)])
    if run.late[0]:
        raise EngineError(f"Flink placed {len(run.late[0])} rows behind its watermark (rows {run.late[0][:10]} ...)")
    return run.features[0]
