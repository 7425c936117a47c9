"""Features on disk: `settings.data_dir / kind / features.parquet`, rebuilt only when the data changed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import polars as pl

from fraudkit.config import Settings
from fraudkit.features.compute import compute_features
from fraudkit.features.spec import FEATURE_SETS

FEATURES_FILE = "features.parquet"
TRANSACTIONS_FILE = "transactions.parquet"


# Uncompressed: a features file is a local intermediate read back on the same machine, and most of its bytes
# (random transaction ids, float features) barely compress. For the 5.4 M card rows polars' default (zstd
# level 3) cost 5.5 s of CPU for 288 MB, zstd level 1 2.9 s for 297 MB, lz4 1.9 s for 432 MB, uncompressed
# 1.3 s for 522 MB, which also reads back fastest (docs/performance.md).
PARQUET_COMPRESSION: Literal["uncompressed"] = "uncompressed"


def write_parquet_atomically(frame: pl.DataFrame, path: Path) -> None:
    """Write to a temporary name next to `path`, then rename: readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        frame.write_parquet(partial, compression=PARQUET_COMPRESSION)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def build_features_file(kind: str, source: Path, target: Path, engine: str = "polars") -> Path:
    """Read the transactions at `source`, compute the `kind` features, write them (all columns) to `target`."""
    if kind not in FEATURE_SETS:
        raise ValueError(f"kind={kind!r} is not one of {tuple(FEATURE_SETS)}")
    features = compute_features(pl.read_parquet(source), FEATURE_SETS[kind], engine)
    write_parquet_atomically(features, target)
    return target


def ensure_features(kind: str, settings: Settings, engine: str = "polars") -> Path:
    """The features file of `kind` ("cards" or "handbook") at the settings' scale, computed if absent or stale."""
    from data_gen import ensure_dataset  # the data stage: generates the transactions if they are absent

    if kind not in FEATURE_SETS:
        raise ValueError(f"kind={kind!r} is not one of {tuple(FEATURE_SETS)}")
    source = ensure_dataset(kind, settings) / TRANSACTIONS_FILE
    target = settings.data_dir / kind / FEATURES_FILE
    if _is_current(target, source, FEATURE_SETS[kind].feature_names):
        return target
    return build_features_file(kind, source, target, engine)


def _is_current(target: Path, source: Path, feature_names: tuple[str, ...]) -> bool:
    """True when `target` is newer than its source and holds every feature the specification defines now."""
    if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
        return False
    return set(feature_names) <= set(pl.read_parquet_schema(target))
