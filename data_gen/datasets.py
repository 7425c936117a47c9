"""The two data sets by name, sized by a scale preset: what the notebooks and the CLI both generate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from fraudkit.config import Scale, Settings

from data_gen import cards, handbook
from data_gen.output import publish_directory, staging_directory, write_tables
from data_gen.progress import Advance, no_progress

# the Parquet files of each kind, without extension
DATASET_TABLES: dict[str, tuple[str, ...]] = {
    "cards": ("transactions",),
    "handbook": ("customers", "terminals", "transactions"),
}
GENERATOR_STAGES = {"cards": cards.STAGES, "handbook": handbook.STAGES}


def generate_tables(
    kind: str, sizes: Scale, seed: int, start: dt.date = handbook.START, progress: Advance = no_progress
) -> dict[str, pl.DataFrame]:
    """The tables of data set `kind` ("cards" or "handbook") at `sizes`; `start` is the handbook's first day."""
    if kind == "cards":
        return {"transactions": cards.generate(sizes.card_transactions, sizes.cards, seed, progress=progress)}
    if kind == "handbook":
        return handbook.generate(sizes.customers, sizes.terminals, sizes.days, start, seed, progress=progress)
    raise ValueError(f"kind must be one of {sorted(DATASET_TABLES)}, got {kind!r}")


def dataset_is_complete(kind: str, directory: Path) -> bool:
    """True when every Parquet file of `kind` is present in `directory`."""
    return all((directory / f"{table}.parquet").is_file() for table in DATASET_TABLES[kind])


def ensure_dataset(kind: str, settings: Settings) -> Path:
    """`settings.data_dir / kind` holding the data set's Parquet files, generated only when one is missing.

    Sized by `settings.sizes`, seeded by `settings.seed`; generated in a temporary directory and renamed into
    place, so an interrupted run never leaves a half-written data set behind.
    """
    if kind not in DATASET_TABLES:
        raise ValueError(f"kind must be one of {sorted(DATASET_TABLES)}, got {kind!r}")
    target = settings.data_dir / kind
    if dataset_is_complete(kind, target):
        return target
    tables = generate_tables(kind, settings.sizes, settings.seed)
    with staging_directory(settings.data_dir) as staging:
        write_tables(tables, staging)
        publish_directory(staging, target)
    return target
