"""The model in the warehouse: trained on a SQL query's result, applied in SQL by a vectorised function.

Training uses the kit's training module on the feature view's rows with the Handbook's time split, and the
report has the shape of `fraudkit.model.evaluate`'s (ours and the Handbook baseline on the same test week).
Scoring is a DuckDB function over Arrow batches (one XGBoost call per batch, not per row) registered on
every connection; `transaction_predictions` calls it, so rows ingested later are scored when queried, the
way Redshift ML's prediction function serves a view.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import xgboost as xgb
from duckdb.func import PythonUDFType
from duckdb.sqltypes import DOUBLE

from fraudkit.config import Settings
from fraudkit.model.artifact import load_booster, load_model_card, model_path, save_model
from fraudkit.model.evaluation import (
    PreparedData,
    compare_on_test,
    drop_known_compromised,
    train_ours,
    train_reference,
)
from fraudkit.model.specs import DATASETS, HANDBOOK_PUBLISHED_BASELINE
from fraudkit.model.splits import split_for, split_parts
from fraudkit.warehouse.masking import MASKED_CUSTOMERS
from fraudkit.warehouse.views import FEATURES_VIEW

MODEL_KIND = "warehouse"
SCORE_FUNCTION = "fraud_score"
PREDICTIONS_VIEW = "transaction_predictions"
SPEC = DATASETS["handbook"]


def training_query() -> str:
    """The rows training reads: time, entity, label and the model's features from the feature view."""
    columns = ", ".join(dict.fromkeys(["transaction_id", *SPEC.columns]))
    return f"SELECT {columns} FROM {FEATURES_VIEW} ORDER BY {SPEC.time_column}, transaction_id"


def prepare(connection: duckdb.DuckDBPyConnection) -> PreparedData:
    """The feature view's rows cut by the Handbook split (test rows of known-compromised customers left out)."""
    frame = connection.sql(training_query()).pl()
    if frame.is_empty():
        raise ValueError(f"{FEATURES_VIEW} has no rows: ingest the transactions first")
    times = frame[SPEC.time_column]
    split = split_for("handbook", times.min(), times.max())
    parts = split_parts(frame, split, SPEC.time_column)
    parts["test"] = drop_known_compromised(frame, split, SPEC, SPEC.known_compromised_days or 0)
    return PreparedData(SPEC, split, frame, parts)


def _scorer(booster: xgb.Booster, arity: int) -> Any:
    def score(*columns: pa.Array | pa.ChunkedArray) -> pa.Array:
        # float32, in the model's column order: exactly the matrix `TrainedModel.predict` builds
        matrix = np.column_stack([np.asarray(c.to_numpy(zero_copy_only=False), dtype=np.float32) for c in columns])
        return pa.array(np.asarray(booster.inplace_predict(matrix), dtype=np.float64))

    # DuckDB checks the declared parameter types against the function's signature
    parameters = [inspect.Parameter(f"x{i}", inspect.Parameter.POSITIONAL_ONLY) for i in range(arity)]
    score.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return score


def register_scorer(connection: duckdb.DuckDBPyConnection, booster: xgb.Booster, features: list[str]) -> None:
    """Register `fraud_score(<features as DOUBLE>)`, vectorised over Arrow batches, on `connection`."""
    with contextlib.suppress(duckdb.InvalidInputException):  # not registered yet on this connection
        connection.remove_function(SCORE_FUNCTION)
    connection.create_function(
        SCORE_FUNCTION, _scorer(booster, len(features)), [DOUBLE] * len(features), DOUBLE,
        type=PythonUDFType.ARROW, side_effects=False,
    )


def register_trained_scorer(connection: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Register the trained warehouse model's scorer if there is one; False when none is trained yet."""
    path = model_path(settings, MODEL_KIND)
    if not path.is_file():
        return False
    register_scorer(connection, load_booster(path), load_model_card(path)["features"])
    return True


def prediction_view_sql(features: list[str], threshold: float) -> str:
    """Each transaction with the customer's masked identity, its score and the decision at `threshold`."""
    arguments = ", ".join(f"CAST(f.{name} AS DOUBLE)" for name in features)
    return (
        f"CREATE OR REPLACE VIEW {PREDICTIONS_VIEW} AS\n"
        "SELECT *, score >= " + repr(threshold) + " AS flagged FROM (\n"
        "    SELECT f.transaction_id, f.tx_datetime, f.customer_id, c.name, c.email, c.phone, f.terminal_id,\n"
        f"        f.tx_amount, f.tx_fraud, {SCORE_FUNCTION}({arguments}) AS score\n"
        f"    FROM {FEATURES_VIEW} AS f LEFT JOIN {MASKED_CUSTOMERS} AS c ON c.customer_id = f.customer_id\n"
        ")"
    )


def train_and_evaluate(settings: Settings, connection: duckdb.DuckDBPyConnection, out: Path) -> dict[str, Any]:
    """Train ours and the Handbook baseline from the feature view, save ours, create the prediction view,
    and write the report (JSON) with its plots next to `out`."""
    prepared = prepare(connection)
    ours = train_ours(prepared, settings.seed)
    reference = train_reference(prepared, settings.seed)
    facts = {"data": "handbook", "source": training_query(), "seed": settings.seed, "scale": settings.scale,
             "split": prepared.split.describe()}
    artifact = save_model(ours, model_path(settings, MODEL_KIND), extra=facts)
    register_scorer(connection, ours.booster, ours.features)
    connection.execute(prediction_view_sql(ours.features, ours.threshold))

    report: dict[str, Any] = {
        "data": "handbook",
        "path": "warehouse",
        **compare_on_test(prepared, ours, reference, settings, out),
        "published_baseline": HANDBOOK_PUBLISHED_BASELINE,
    }
    report["model"]["artifact"] = artifact.name
    out.write_text(json.dumps(report, indent=2, sort_keys=True))
    return report


def predictions(connection: duckdb.DuckDBPyConnection, limit: int | None = None, flagged_only: bool = False) -> pl.DataFrame:
    """The latest rows of the prediction view (newest first)."""
    where = " WHERE flagged" if flagged_only else ""
    tail = f" LIMIT {int(limit)}" if limit is not None else ""
    return connection.sql(
        f"SELECT * FROM {PREDICTIONS_VIEW}{where} ORDER BY tx_datetime DESC, transaction_id DESC{tail}"
    ).pl()
