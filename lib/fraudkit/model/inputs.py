"""Transactions a user brings (Parquet or CSV, one file or a directory), checked and put in the kit's schema.

Every check runs before anything is computed or written, and a failure is one `InputDataError` naming every
missing or mistyped column at once, so a user fixes a file in one round. The Handbook's files name their
columns in upper case (TX_DATETIME ...), the kit's in lower case: both are accepted.

A directory is read as its `transactions.parquet` (or `.csv`) when it has one (the kit's data layout and
`python -m data_gen import-handbook`), else as every Parquet or CSV file in it, in name order (daily exports).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
import polars.exceptions as ple

from fraudkit.model.specs import DataKind

# identifier: integers or text, kept as read; text: integers or text, kept as text (card numbers: a CSV reader
# takes 4000... for a number)
ColumnType = Literal["datetime", "integer", "number", "identifier", "text"]
SUFFIXES = (".parquet", ".csv")
TRANSACTIONS_STEM = "transactions"


@dataclass(frozen=True)
class InputSchema:
    """The columns of one data kind in the kit's order, what each must hold, and which may be absent."""

    columns: dict[str, ColumnType]
    optional: frozenset[str]
    time_column: str
    time_zone: str | None  # the kit's time zone for the time column (None: naive, as the Handbook's)
    label_column: str

    @property
    def required(self) -> list[str]:
        return [name for name in self.columns if name not in self.optional]


INPUT_SCHEMAS: dict[DataKind, InputSchema] = {
    "cards": InputSchema(
        columns={"tid": "text", "event_time": "datetime", "cc_num": "text", "amount": "number",
                 "fraud_label": "integer"},
        optional=frozenset({"tid"}),
        time_column="event_time",
        time_zone="UTC",
        label_column="fraud_label",
    ),
    # the Handbook's nine columns; its features and protocol need five of them
    "handbook": InputSchema(
        columns={
            "transaction_id": "identifier",
            "tx_datetime": "datetime",
            "customer_id": "identifier",
            "terminal_id": "identifier",
            "tx_amount": "number",
            "tx_time_seconds": "integer",
            "tx_time_days": "integer",
            "tx_fraud": "integer",
            "tx_fraud_scenario": "integer",
        },
        optional=frozenset({"transaction_id", "tx_time_seconds", "tx_time_days", "tx_fraud_scenario"}),
        time_column="tx_datetime",
        time_zone=None,
        label_column="tx_fraud",
    ),
}


class InputDataError(ValueError):
    """The file or directory given cannot be evaluated; the message says what to fix."""


@dataclass(frozen=True)
class InputData:
    """Checked transactions in the kit's schema and the facts a report states about where they came from."""

    frame: pl.DataFrame
    description: dict[str, Any]


def input_files(path: Path) -> list[Path]:
    """The files `path` stands for (see the module docstring); InputDataError when there are none."""
    if not path.exists():
        raise InputDataError(f"{path}: no such file or directory")
    if path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise InputDataError(f"{path}: not a Parquet or CSV file (give a .parquet or .csv)")
        return [path]
    for suffix in SUFFIXES:
        if (path / f"{TRANSACTIONS_STEM}{suffix}").is_file():
            return [path / f"{TRANSACTIONS_STEM}{suffix}"]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise InputDataError(f"{path}: the directory holds no .parquet or .csv file")
    return files


def _read_one(path: Path) -> pl.DataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            return pl.read_parquet(path)
        return pl.read_csv(path, try_parse_dates=True, infer_schema_length=10_000)
    except (ple.ComputeError, ple.NoDataError, ple.SchemaError, OSError) as error:
        kind = "Parquet" if path.suffix.lower() == ".parquet" else "CSV"
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputDataError(f"{path}: cannot be read as {kind} ({first_line})") from None


def lower_names(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    lowered = [name.lower() for name in frame.columns]
    if len(set(lowered)) != len(lowered):
        raise InputDataError(f"{path}: column names repeat when upper and lower case are the same")
    return frame.rename(dict(zip(frame.columns, lowered, strict=True)))


def _parses_as_datetime(series: pl.Series) -> bool:
    """True when every value of a text column reads as a date-time (one format for the whole column)."""
    try:
        return series.str.to_datetime(strict=False).null_count() == series.null_count()
    except ple.ComputeError:  # no format fits the first values
        return False


def _type_problem(series: pl.Series, expected: ColumnType) -> str | None:
    """Why `series` cannot hold `expected` values, or None when it can."""
    dtype = series.dtype
    if expected == "datetime":
        ok = isinstance(dtype, pl.Datetime | pl.Date) or (dtype == pl.String and _parses_as_datetime(series))
        return None if ok else f"{series.name} must be a date-time, not {dtype}"
    if expected in ("identifier", "text"):
        return None if dtype.is_integer() or dtype == pl.String else f"{series.name} must be an integer or text, not {dtype}"
    if expected == "integer":
        return None if dtype.is_integer() or dtype == pl.Boolean else f"{series.name} must be an integer, not {dtype}"
    return None if dtype.is_numeric() else f"{series.name} must be a number, not {dtype}"


def schema_problems(frame: pl.DataFrame, schema: InputSchema) -> list[str]:
    """Every missing required column and every column of the wrong type, in schema order."""
    missing = [name for name in schema.required if name not in frame.columns]
    problems = [f"missing column(s) {', '.join(missing)}"] if missing else []
    for name, expected in schema.columns.items():
        if name in frame.columns:
            problem = _type_problem(frame[name], expected)
            problems += [problem] if problem else []
    for name in schema.required:
        if name in frame.columns and frame[name].null_count():
            problems.append(f"{name} has {frame[name].null_count()} empty value(s)")
    label = schema.label_column
    if label in frame.columns and frame[label].dtype.is_integer() and not frame[label].is_in([0, 1]).all():
        problems.append(f"{label} must be 0 or 1")
    return problems


def kit_time(series: pl.Series, zone: str | None) -> pl.Series:
    """Date-times at microsecond precision in `zone`: naive values are taken to be in it already, aware ones
    converted (to UTC and then made naive when `zone` is None)."""
    if series.dtype == pl.String:
        series = series.str.to_datetime()
    current = series.dtype.time_zone if isinstance(series.dtype, pl.Datetime) else None
    series = series.cast(pl.Datetime("us", current))
    if zone is None:
        return series if current is None else series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return series.dt.replace_time_zone(zone) if current is None else series.dt.convert_time_zone(zone)


def _to_kit_types(frame: pl.DataFrame, schema: InputSchema) -> pl.DataFrame:
    """The schema's columns in the kit's types and order; other columns are dropped."""
    casts: dict[ColumnType, pl.DataType] = {"integer": pl.Int64(), "number": pl.Float64(), "text": pl.String()}
    frame = frame.with_columns(
        kit_time(frame[schema.time_column], schema.time_zone),
        *(pl.col(name).cast(casts[kind]) for name, kind in schema.columns.items() if name in frame.columns and kind in casts),
    )
    return frame.select(name for name in schema.columns if name in frame.columns)


def to_kit_schema(frame: pl.DataFrame, kind: DataKind, source: Path) -> pl.DataFrame:
    """`frame` (lower-case names) checked against `kind`'s schema, cast to the kit's types, sorted by time;
    InputDataError naming `source` and every problem."""
    schema = INPUT_SCHEMAS[kind]
    if frame.is_empty():
        raise InputDataError(f"{source}: holds no transactions")
    problems = schema_problems(frame, schema)
    if problems:
        raise InputDataError(f"{source}: not {kind} transactions: {'; '.join(problems)}")
    return _to_kit_types(frame, schema).sort(schema.time_column, maintain_order=True)


def file_digest(files: list[Path], root: Path) -> str:
    """SHA-256 over every file's name (relative to `root`) and bytes: the same data gives the same hash."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root) if path != root else path.name).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def input_kind(path: Path) -> DataKind:
    """The data kind whose required columns (either case) the file or directory at `path` has."""
    columns = {name.lower() for name in _read_one(input_files(path)[0]).columns}
    kinds = [kind for kind, schema in INPUT_SCHEMAS.items() if set(schema.required) <= columns]
    if len(kinds) != 1:
        wanted = "; ".join(f"{kind}: {', '.join(schema.required)}" for kind, schema in INPUT_SCHEMAS.items())
        raise InputDataError(f"{path}: has the columns of {len(kinds)} of the known schemas, not one ({wanted})")
    return kinds[0]


def load_transactions(kind: DataKind, path: Path) -> InputData:
    """The transactions at `path` checked against `kind`'s schema, in the kit's types, sorted by time.

    InputDataError (one message, every problem named) when the path, the format or the columns are wrong, or
    when the data holds no transaction.
    """
    schema = INPUT_SCHEMAS[kind]
    files = input_files(path)
    frames = [lower_names(_read_one(file), file) for file in files]
    columns = {tuple(sorted(frame.columns)) for frame in frames}
    if len(columns) > 1:
        raise InputDataError(f"{path}: the files do not all have the same columns")
    frame = pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]
    frame = to_kit_schema(frame, kind, path)
    times = frame[schema.time_column]
    description = {
        "path": str(path.resolve()),
        "files": len(files),
        "rows": frame.height,
        "frauds": int(frame[schema.label_column].sum()),
        "first": str(times.min()),
        "last": str(times.max()),
        "sha256": file_digest(files, path),
    }
    return InputData(frame, description)
