"""The feature tables training and evaluation read, produced (or reused) by the features stage."""

from __future__ import annotations

import polars as pl

from fraudkit.config import Settings
from fraudkit.features import FEATURE_SETS, compute_features, ensure_features
from fraudkit.model.specs import DATASETS, DataKind


def load_features(kind: DataKind, settings: Settings) -> pl.DataFrame:
    """The `kind` transactions with their features, in time order, limited to the columns models need."""
    spec = DATASETS[kind]
    path = ensure_features(kind, settings)
    missing = [c for c in spec.columns if c not in pl.read_parquet_schema(path)]
    if missing:
        raise ValueError(f"the {kind} feature table lacks {missing}: recompute the features")
    return pl.read_parquet(path, columns=spec.columns).sort(spec.time_column)


def features_of(kind: DataKind, transactions: pl.DataFrame) -> pl.DataFrame:
    """The kit's `kind` features of transactions a user brought, computed in memory (nothing is written), in
    time order and limited to the columns models need, as load_features gives them."""
    spec = DATASETS[kind]
    return compute_features(transactions, FEATURE_SETS[kind]).select(spec.columns).sort(spec.time_column)


def example_rows(kind: DataKind, settings: Settings, per_class: int = 2) -> pl.DataFrame:
    """A few fraudulent and legitimate transactions of the test period's end, for showing predictions."""
    spec = DATASETS[kind]
    frame = load_features(kind, settings)
    label = pl.col(spec.label_column)
    return pl.concat([frame.filter(label == 1).tail(per_class), frame.filter(label == 0).tail(per_class)])
