"""Where the local warehouse lives and how it is opened.

Two DuckDB files under the state directory: `warehouse.duckdb` (transactions, offsets, views, masked
customers) for every reader, and `pii.duckdb` (the customers' unmasked personal fields, mode 0600) that only
the privileged path attaches. An analyst's connection cannot read what its file does not hold, which is a
stronger guarantee than a view that hides a table living next to it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from fraudkit.config import Settings

PII_CATALOG = "pii"


def warehouse_path(settings: Settings) -> Path:
    return settings.state_dir / "warehouse" / settings.scale / "warehouse.duckdb"


def pii_path(settings: Settings) -> Path:
    return warehouse_path(settings).with_name("pii.duckdb")


def connect(settings: Settings, privileged: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse with the scoring function registered when a model is trained.

    `privileged` also attaches the personal data as catalog `pii` (the explicit path to unmasked fields).
    """
    path = warehouse_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path))
    connection.execute("SET TimeZone = 'UTC'")  # calendar flags are read in UTC, as in every engine
    if privileged:
        pii = pii_path(settings)
        connection.execute(f"ATTACH '{pii}' AS {PII_CATALOG}")
        pii.chmod(0o600)
    from fraudkit.warehouse.model import register_trained_scorer  # the model module imports this one

    register_trained_scorer(connection, settings)
    return connection
