"""SQL text compiled from the feature specification: DuckDB (run locally), Spark SQL and Flink SQL (AWS path),
and Redshift SQL (the SQL-warehouse path).

One generator renders every dialect; a `Dialect` only says how to spell the time order, a window offset, and
the calendar functions. Offsets are exact durations (microseconds, or Flink's day-time intervals), never
calendar intervals, so a "1 day" window is 86,400 s even across a daylight-saving change.

Redshift's window frames are ROWS only (no RANGE with an offset), so its windows are range self-joins over
each distinct (key, event time): same window rule, same peers, no calendar anchoring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from fraudkit.features.spec import (
    EMPTY_WINDOW_MEAN,
    NIGHT_LAST_HOUR,
    UNDEFINED_RATIO,
    FeatureSet,
    Ratio,
    TimeFlag,
    Window,
    WindowAggregate,
)

_MICROS = timedelta(microseconds=1)


def _micros(duration: timedelta) -> int:
    return duration // _MICROS


def _flink_interval(duration: timedelta) -> str:
    """A Flink day-time interval literal in the largest unit that divides the duration exactly."""
    units = (("DAY", timedelta(days=1)), ("HOUR", timedelta(hours=1)), ("MINUTE", timedelta(minutes=1)),
             ("SECOND", timedelta(seconds=1)))
    for unit, size in units:
        if duration % size == timedelta(0):
            amount = duration // size
            # Flink's default leading precision is 2 digits; wider values need an explicit precision
            precision = f"({len(str(amount))})" if amount > 99 else ""
            return f"INTERVAL '{amount}' {unit}{precision}"
    raise ValueError(f"Flink windows need whole seconds, got {duration}")


@dataclass(frozen=True)
class Dialect:
    """How one SQL engine spells the few things that differ between engines."""

    name: str
    order_key: Callable[[str], str]
    offset: Callable[[timedelta], str]
    is_weekend: Callable[[str], str]
    hour: Callable[[str], str]


DUCKDB = Dialect(
    name="duckdb",
    order_key=lambda ts: ts,
    offset=lambda d: f"INTERVAL {_micros(d)} MICROSECONDS",
    is_weekend=lambda ts: f"isodow({ts}) >= 6",  # ISO: Monday 1 ... Sunday 7
    hour=lambda ts: f"hour({ts})",
)
SPARK = Dialect(
    name="spark",
    # Spark's RANGE offsets need a numeric ORDER BY: order by microseconds since the epoch
    order_key=lambda ts: f"unix_micros({ts})",
    offset=lambda d: str(_micros(d)),
    is_weekend=lambda ts: f"weekday({ts}) >= 5",  # Spark weekday(): Monday 0 ... Sunday 6
    hour=lambda ts: f"hour({ts})",
)
FLINK = Dialect(
    name="flink",
    order_key=lambda ts: ts,
    offset=_flink_interval,
    is_weekend=lambda ts: f"DAYOFWEEK(CAST({ts} AS DATE)) IN (1, 7)",  # Flink DAYOFWEEK: Sunday 1 ... Saturday 7
    hour=lambda ts: f"HOUR({ts})",
)


def window_name(key: str, window: Window) -> str:
    return f"w_{key}_{window.label}"


def frame_clause(dialect: Dialect, timestamp: str, key: str, window: Window) -> str:
    """`PARTITION BY key ORDER BY time RANGE BETWEEN <delay + width> PRECEDING AND <delay or CURRENT ROW>`."""
    end = f"{dialect.offset(window.delay)} PRECEDING" if window.delay else "CURRENT ROW"
    return (
        f"PARTITION BY {key} ORDER BY {dialect.order_key(timestamp)} "
        f"RANGE BETWEEN {dialect.offset(window.start_offset)} PRECEDING AND {end}"
    )


def _whole_seconds(duration: timedelta) -> int:
    if duration % timedelta(seconds=1):
        raise ValueError(f"Redshift windows need whole seconds, got {duration}")
    return duration // timedelta(seconds=1)


REDSHIFT = Dialect(
    name="redshift",
    order_key=lambda ts: ts,
    # a shift back by an exact number of seconds: DATEADD(second, ...) never rounds to calendar units
    offset=lambda d: f"DATEADD(second, -{_whole_seconds(d)}, %s)",
    is_weekend=lambda ts: f"DATE_PART(dayofweek, {ts}) IN (0, 6)",  # Redshift dayofweek: Sunday 0 ... Saturday 6
    hour=lambda ts: f"DATE_PART(hour, {ts})",
)
REDSHIFT_DOUBLE = "DOUBLE PRECISION"  # Redshift has no plain DOUBLE type; AVG of an integer is an integer there


def aggregate_sql(aggregate: WindowAggregate) -> str:
    over = f"OVER {window_name(aggregate.key, aggregate.window)}"
    if aggregate.value is None:
        return f"COUNT(*) {over} AS {aggregate.name}"
    # CAST first: AVG of an integer column is an integer in some engines (Flink)
    return f"COALESCE(AVG(CAST({aggregate.value} AS DOUBLE)) {over}, {EMPTY_WINDOW_MEAN!r}) AS {aggregate.name}"


def ratio_sql(ratio: Ratio, double: str = "DOUBLE") -> str:
    numerator, denominator = ratio.numerator, ratio.denominator
    return (
        f"CASE WHEN {numerator} IS NOT NULL AND {denominator} <> 0 "
        f"THEN CAST({numerator} AS {double}) / CAST({denominator} AS {double}) ELSE {UNDEFINED_RATIO!r} END AS {ratio.name}"
    )


def flag_sql(dialect: Dialect, flag: TimeFlag, timestamp: str) -> str:
    if flag.kind == "weekend":
        condition = dialect.is_weekend(timestamp)
    else:
        condition = f"{dialect.hour(timestamp)} <= {NIGHT_LAST_HOUR}"
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END AS {flag.name}"


def _windowed_select(
    feature_set: FeatureSet, dialect: Dialect, source: str, columns: list[str], aggregates: tuple[WindowAggregate, ...]
) -> str:
    frames = dict.fromkeys((a.key, a.window) for a in aggregates)
    windows = ",\n    ".join(
        f"{window_name(key, window)} AS ({frame_clause(dialect, feature_set.timestamp, key, window)})"
        for key, window in frames
    )
    select_list = ",\n    ".join([*columns, *(aggregate_sql(a) for a in aggregates)])
    return f"SELECT\n    {select_list}\nFROM {source}\nWINDOW\n    {windows}"


def batch_sql(feature_set: FeatureSet, dialect: Dialect, source: str = "transactions") -> str:
    """Every input column plus every feature, one output row per input row."""
    windowed = _windowed_select(feature_set, dialect, source, ["*"], feature_set.aggregates)
    derived = [ratio_sql(r) for r in feature_set.ratios]
    derived += [flag_sql(dialect, f, feature_set.timestamp) for f in feature_set.flags]
    if not derived:
        return windowed
    indented = windowed.replace("\n", "\n    ")
    derived_list = ",\n    ".join(["*", *derived])
    return f"WITH windowed AS (\n    {indented}\n)\nSELECT\n    {derived_list}\nFROM windowed"


def duckdb_sql(feature_set: FeatureSet, source: str = "transactions") -> str:
    return batch_sql(feature_set, DUCKDB, source)


def spark_sql(feature_set: FeatureSet, source: str = "transactions") -> str:
    """Spark SQL for a batch backfill (SageMaker Processing or EMR), e.g. the 1-week feature group."""
    return batch_sql(feature_set, SPARK, source)


def flink_sql(
    feature_set: FeatureSet, window: Window, source: str = "transactions", sink: str | None = None, carry: tuple[str, ...] = ()
) -> str:
    """Flink SQL computing the aggregates of one window, and the calendar flags, on a stream.

    Flink streaming OVER windows must all be identical in one SELECT and end at CURRENT ROW, so one statement
    covers one undelayed window (e.g. the 10-minute card features); ratios, which mix windows, are computed by
    the scoring handler instead. The source table must declare `feature_set.timestamp` as its event-time
    attribute (with a watermark). `carry` names source columns passed through unchanged (the Managed Flink
    application carries the transaction id and amount the scoring handler needs).
    """
    if window.delay:
        raise ValueError(f"window {window.label!r} is delayed; Flink OVER windows must end at CURRENT ROW")
    aggregates = tuple(a for a in feature_set.aggregates if a.window == window)
    keys = {a.key for a in aggregates}
    if len(keys) != 1:
        raise ValueError(f"window {window.label!r} must have aggregates over exactly one key, got {sorted(keys)}")
    flags = [flag_sql(FLINK, f, feature_set.timestamp) for f in feature_set.flags]
    select = _windowed_select(feature_set, FLINK, source, [*carry, *keys, feature_set.timestamp, *flags], aggregates)
    return select if sink is None else f"INSERT INTO {sink}\n{select}"


def _shifted(column: str, duration: timedelta) -> str:
    return REDSHIFT.offset(duration) % column if duration else column


def _window_join(feature_set: FeatureSet, key: str, window: Window, members: tuple[WindowAggregate, ...], source: str) -> str:
    """One frame as a CTE: per distinct (key, t), the aggregates over [t - delay - width, t - delay].

    A LEFT JOIN keeps keys whose (delayed) window is empty: COUNT of the joined side is 0 and the mean
    EMPTY_WINDOW_MEAN, as in every other engine.
    """
    ts = feature_set.timestamp
    columns = []
    for aggregate in members:
        if aggregate.value is None:
            columns.append(f"COUNT(prev.{ts}) AS {aggregate.name}")
        else:
            mean = f"AVG(CAST(prev.{aggregate.value} AS {REDSHIFT_DOUBLE}))"
            columns.append(f"COALESCE({mean}, {EMPTY_WINDOW_MEAN!r}) AS {aggregate.name}")
    select_list = ",\n        ".join([f"cur.{key}", f"cur.{ts}", *columns])
    return (
        f"{window_name(key, window)} AS (\n"
        f"    SELECT\n        {select_list}\n"
        f"    FROM (SELECT DISTINCT {key}, {ts} FROM {source}) AS cur\n"
        f"    LEFT JOIN {source} AS prev\n"
        f"        ON prev.{key} = cur.{key}\n"
        f"        AND prev.{ts} BETWEEN {_shifted(f'cur.{ts}', window.start_offset)} AND {_shifted(f'cur.{ts}', window.delay)}\n"
        f"    GROUP BY cur.{key}, cur.{ts}\n)"
    )


def redshift_sql(feature_set: FeatureSet, source: str = "transactions") -> str:
    """Redshift SQL with every input column plus every feature, one output row per input row (range joins)."""
    ts = feature_set.timestamp
    frames = feature_set.frames()
    ctes = [_window_join(feature_set, key, window, members, source) for (key, window), members in frames.items()]
    picked = ["src.*"] + [f"{window_name(k, w)}.{a.name}" for (k, w), members in frames.items() for a in members]
    joins = "".join(
        f"\n    LEFT JOIN {window_name(k, w)} ON {window_name(k, w)}.{k} = src.{k} AND {window_name(k, w)}.{ts} = src.{ts}"
        for k, w in frames
    )
    picked_list = ",\n        ".join(picked)
    ctes.append(f"joined AS (\n    SELECT\n        {picked_list}\n    FROM {source} AS src{joins}\n)")
    derived = [ratio_sql(r, REDSHIFT_DOUBLE) for r in feature_set.ratios]
    derived += [flag_sql(REDSHIFT, f, ts) for f in feature_set.flags]
    derived_list = ",\n    ".join(["*", *derived])
    return "WITH " + ",\n".join(ctes) + f"\nSELECT\n    {derived_list}\nFROM joined"
