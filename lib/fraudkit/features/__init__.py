"""Batch features from one declarative specification (see `spec`), on polars, DuckDB or pandas.

The same specification also generates the Flink SQL (streaming, AWS) and Spark SQL (batch backfill) text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fraudkit.features.spec import (
    CARD_FEATURES,
    CARD_WINDOWS,
    CUSTOMER_WINDOWS,
    FEATURE_SETS,
    HANDBOOK_FEATURES,
    TERMINAL_WINDOWS,
    UNDEFINED_RATIO,
    WINDOW_1W,
    WINDOW_10M,
    FeatureSet,
    Ratio,
    TimeFlag,
    Window,
    WindowAggregate,
    add_card_ratios,
    card_ratios,
)
from fraudkit.features.sql import duckdb_sql, flink_sql, spark_sql
from fraudkit.lazy import submodule_attributes

if TYPE_CHECKING:
    from fraudkit.features.compute import (
        ENGINES,
        FeatureInputError,
        compute_card_features,
        compute_features,
        compute_handbook_features,
        feature_differences,
        output_schema,
    )
    from fraudkit.features.store import ensure_features

# the batch engines (pandas, DuckDB) and the feature files load when first asked for
__getattr__ = submodule_attributes(
    __name__,
    __path__,
    {
        "compute": (
            "ENGINES",
            "FeatureInputError",
            "compute_card_features",
            "compute_features",
            "compute_handbook_features",
            "feature_differences",
            "output_schema",
        ),
        "store": ("ensure_features",),
    },
)

__all__ = [
    "CARD_FEATURES",
    "CARD_WINDOWS",
    "CUSTOMER_WINDOWS",
    "ENGINES",
    "FEATURE_SETS",
    "HANDBOOK_FEATURES",
    "TERMINAL_WINDOWS",
    "UNDEFINED_RATIO",
    "WINDOW_1W",
    "WINDOW_10M",
    "FeatureInputError",
    "FeatureSet",
    "Ratio",
    "TimeFlag",
    "Window",
    "WindowAggregate",
    "add_card_ratios",
    "card_ratios",
    "compute_card_features",
    "compute_features",
    "compute_handbook_features",
    "duckdb_sql",
    "ensure_features",
    "feature_differences",
    "flink_sql",
    "output_schema",
    "spark_sql",
]
