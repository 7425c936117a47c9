"""The warehouse's views, generated from the feature specification, and its SQL script.

`transaction_features` is the Handbook feature set compiled to DuckDB SQL (the same generator as the batch
DuckDB engine, so its values equal the polars engine's); it is a view, so every query sees the rows
ingested so far, as Redshift's views over its streaming materialized view do.
"""

from __future__ import annotations

import duckdb

from fraudkit.features.spec import HANDBOOK_FEATURES
from fraudkit.features.sql import duckdb_sql
from fraudkit.warehouse.ingest import RAW_TABLE, TABLE_DDL, ensure_tables
from fraudkit.warehouse.masking import CUSTOMERS_TABLE, MASKED_CUSTOMERS, PII_COLUMNS, PII_TYPE, masked_select

FEATURES_VIEW = "transaction_features"


def features_view_sql() -> str:
    return f"CREATE OR REPLACE VIEW {FEATURES_VIEW} AS\n{duckdb_sql(HANDBOOK_FEATURES, RAW_TABLE)}"


def create_views(connection: duckdb.DuckDBPyConnection) -> None:
    """Create the raw tables (if new) and the feature view."""
    ensure_tables(connection)
    connection.execute(features_view_sql())


def duckdb_statements(prediction_view: str | None = None) -> list[str]:
    """The local warehouse as DuckDB statements: tables, personal data and its masked copy, views.

    `prediction_view` is the prediction view's statement (it names the trained model's threshold).
    """
    columns = ", ".join(f"{column} {PII_TYPE}" for column in PII_COLUMNS)
    statements = [
        *TABLE_DDL,
        "ATTACH 'pii.duckdb' AS pii",
        f"CREATE TABLE IF NOT EXISTS pii.{CUSTOMERS_TABLE} (customer_id BIGINT PRIMARY KEY, {columns})",
        f"CREATE OR REPLACE TABLE {MASKED_CUSTOMERS} AS {masked_select(f'pii.{CUSTOMERS_TABLE}')}",
        "DETACH pii",
        features_view_sql(),
    ]
    return statements + ([prediction_view] if prediction_view else [])


def script(statements: list[str]) -> str:
    """Statements as one script, each ended by a semicolon."""
    return "".join(f"{statement};\n\n" for statement in statements).rstrip() + "\n"
