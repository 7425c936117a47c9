"""The DuckDB engine: runs the SQL generated from the specification (the same text shape as Spark/Flink)."""

from __future__ import annotations

import duckdb
import polars as pl

from fraudkit.features.spec import FeatureSet
from fraudkit.features.sql import duckdb_sql

_ROW = "__row"
_SOURCE = "transactions"


def compute(df: pl.DataFrame, feature_set: FeatureSet) -> pl.DataFrame:
    """The feature columns of `feature_set` for `df`, in the input's row order."""
    features = ", ".join(feature_set.feature_names)
    query = f"SELECT {features} FROM (\n{duckdb_sql(feature_set, _SOURCE)}\n) ORDER BY {_ROW}"
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")  # calendar flags of tz-aware timestamps are read in UTC
        connection.register(_SOURCE, df.with_row_index(_ROW))
        return connection.sql(query).pl()
