"""The SQL-warehouse path end to end on the real broker and DuckDB: tiny Handbook data streamed in, an
interrupted and restarted ingestion with repeated messages, views equal to the batch features, and the
prediction view's scores equal to the Python model's."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from fraudkit.config import Settings
from fraudkit.features import HANDBOOK_FEATURES, compute_features, feature_differences
from fraudkit.model.artifact import load_booster, load_model_card, model_path
from fraudkit.model.training import feature_matrix
from fraudkit.warehouse import (
    FEATURES_VIEW,
    PREDICTIONS_VIEW,
    connect,
    create_topic,
    create_views,
    ingest,
    load_customers,
    publish,
    train_and_evaluate,
)
from fraudkit.warehouse.model import MODEL_KIND

from data_gen import ensure_dataset


@pytest.fixture
def settings(broker: Settings, tmp_path: Path) -> Settings:
    return broker.replace(state_dir=tmp_path, transactions_topic=f"wh-{uuid.uuid4().hex[:8]}")


def test_stream_restart_views_and_model_in_sql(settings: Settings, tmp_path: Path) -> None:
    frame = pl.read_parquet(ensure_dataset("handbook", settings) / "transactions.parquet")
    create_topic(settings)
    half = frame.height // 2
    publish(settings, frame.head(half))

    connection = connect(settings)
    interrupted = ingest(settings, connection, batch_size=1_000, max_batches=2)  # stops mid-topic, like a kill
    assert interrupted.inserted == 2_000
    connection.close()

    publish(settings, frame.slice(half))
    publish(settings, frame.slice(500, 1_500))  # a producer's retries: every one of these is a repeat
    connection = connect(settings)  # the restart resumes from the offsets stored with the rows
    resumed = ingest(settings, connection, batch_size=1_000)
    stored = connection.sql("SELECT transaction_id FROM transactions ORDER BY transaction_id").pl()
    assert stored["transaction_id"].to_list() == sorted(frame["transaction_id"].to_list())  # none lost or doubled
    assert interrupted.inserted + resumed.inserted == frame.height
    assert resumed.duplicates == 1_500 and resumed.rejected == 0
    assert ingest(settings, connection).read == 0  # nothing left: the offsets moved with the rows

    create_views(connection)
    views = connection.sql(f"SELECT * FROM {FEATURES_VIEW} ORDER BY transaction_id").pl()
    batch = compute_features(frame.sort("transaction_id"), HANDBOOK_FEATURES, "polars")
    differences = feature_differences(batch, views.select(HANDBOOK_FEATURES.feature_names), HANDBOOK_FEATURES)
    assert differences["count_mismatches"] == 0 and differences["max_float_difference"] <= 1e-9
    connection.close()

    load_customers(settings)
    connection = connect(settings)
    report = train_and_evaluate(settings, connection, tmp_path / "reports" / "warehouse.json")
    assert report["split"]["test"] and 0.0 <= report["average_precision"] <= 1.0
    scored = connection.sql(f"SELECT * FROM {PREDICTIONS_VIEW} ORDER BY transaction_id").pl()
    connection.close()

    path = model_path(settings, MODEL_KIND)
    python_scores = load_booster(path).inplace_predict(feature_matrix(views, load_model_card(path)["features"]))
    np.testing.assert_array_equal(scored["score"].to_numpy(), np.asarray(python_scores, dtype=np.float64))
    assert scored["name"].str.ends_with("***").all() and scored["email"].str.starts_with("***@").all()

    # a new connection scores rows that arrive later: the view calls the registered model function
    reopened = connect(settings)
    assert reopened.execute(f"SELECT count(*) FROM {PREDICTIONS_VIEW}").fetchone() == (frame.height,)
    reopened.close()
