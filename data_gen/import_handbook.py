"""The Fraud Detection Handbook's published daily files (pandas pickles) as the kit's `transactions.parquet`.

The Handbook publishes its simulated data set (repository Fraud-Detection-Handbook/simulated-data-raw) as one
pickled pandas DataFrame per day, `data/YYYY-MM-DD.pkl`. Unpickling runs whatever code the file names, so the
files are read only when the caller says it trusts them (`trust_pickle=True`, `--trust-pickle`). The result has
the kit's lower-case column names and types (those `python -m data_gen handbook` writes), so every kit command
reads it as it reads generated data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
from fraudkit.model.inputs import InputDataError, lower_names, to_kit_schema

from data_gen.progress import Advance, no_progress

PICKLE_SUFFIX = ".pkl"
# the types of `python -m data_gen handbook`'s transactions, so both sources give the same Parquet schema
KIT_TYPES: dict[str, pl.DataType] = {"tx_fraud": pl.Int8(), "tx_fraud_scenario": pl.Int8()}


class PickleNotTrusted(PermissionError):
    """Pickles were about to be loaded without the caller's consent."""


def untrusted_message(directory: Path) -> str:
    """The one line that says why the pickles were not read and how to read them."""
    return (
        f"refusing to read {directory}: loading a pickle can run arbitrary code; "
        "pass --trust-pickle only for files from a source you trust"
    )


def daily_files(directory: Path) -> list[Path]:
    """The `*.pkl` files of `directory` (or of its `data/` folder, the repository's layout), in name order."""
    if not directory.is_dir():
        raise InputDataError(f"{directory}: not a directory")
    for folder in (directory, directory / "data"):
        files = sorted(folder.glob(f"*{PICKLE_SUFFIX}")) if folder.is_dir() else []
        if files:
            return files
    raise InputDataError(f"{directory}: holds no {PICKLE_SUFFIX} files (nor does its data/ folder)")


def read_pickle(path: Path) -> pl.DataFrame:
    """One daily file as polars with lower-case names; its object columns (ids, times) become numbers."""
    frame = pd.read_pickle(path)  # only reached with the caller's consent
    if not isinstance(frame, pd.DataFrame):
        raise InputDataError(f"{path}: holds a {type(frame).__name__}, not a pandas DataFrame")
    frame = frame.reset_index(drop=True)
    for column in [c for c in frame.columns if pd.api.types.is_object_dtype(frame[c])]:
        converted = pd.to_numeric(frame[column], errors="coerce")
        if converted.notna().sum() == frame[column].notna().sum():
            frame[column] = converted
    return lower_names(pl.from_pandas(frame), path)


def read_handbook_pickles(
    directory: Path, *, trust_pickle: bool, progress: Advance = no_progress
) -> pl.DataFrame:
    """Every daily file of `directory` as one table in the kit's schema, in transaction order.

    PickleNotTrusted unless `trust_pickle`; InputDataError when a file is not a Handbook day.
    """
    if not trust_pickle:
        raise PickleNotTrusted(untrusted_message(directory))
    files = daily_files(directory)
    frames = []
    for path in files:
        frames.append(read_pickle(path))
        progress(path.stem)
    frame = to_kit_schema(pl.concat(frames, how="diagonal_relaxed"), "handbook", directory)
    order = [c for c in ("transaction_id",) if c in frame.columns] or ["tx_datetime"]
    return frame.sort(order).with_columns(pl.col(name).cast(dtype) for name, dtype in KIT_TYPES.items() if name in frame.columns)
