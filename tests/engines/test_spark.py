"""The generated Spark SQL on Apache Spark (pyspark local mode in .venv-engines) equals polars.

One Spark session runs every edge case and seeded random stream of both feature sets, through the
standalone job a user submits (SQL inlined, run with `python -I`, so not even fraudkit is importable);
the property test runs `compute_features(engine="spark")`, the CLI's path, on a few random streams.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from fraudkit.features import CARD_FEATURES, compute_features
from fraudkit.features.engine_spark import SparkRun, compute_many
from fraudkit.features.spark_job import standalone_source
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.engines.cases import (
    BASE,
    MINUTE,
    MS,
    TASKS,
    assert_same_features,
    card_frame,
    card_number,
    engine_input,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def standalone_run(tmp_path_factory: pytest.TempPathFactory) -> SparkRun:
    script = tmp_path_factory.mktemp("spark-job") / "features_job.py"
    script.write_text(standalone_source("cards", "handbook"))
    return compute_many([(engine_input(df, fs), fs) for df, fs in TASKS], job=["-I", str(script)])


@pytest.mark.parametrize("task", [0, 1], ids=["cards", "handbook"])
def test_spark_equals_polars_on_edges_and_random_streams(standalone_run: SparkRun, task: int) -> None:
    df, feature_set = TASKS[task]
    assert_same_features(standalone_run.features[task], df, feature_set, "spark")


def test_the_session_reports_start_up_apart_from_the_jobs(standalone_run: SparkRun) -> None:
    assert standalone_run.report["engine"] == "spark"
    assert standalone_run.report["startup_seconds"] > 0
    assert [job["features"] for job in standalone_run.report["jobs"]] == ["cards", "handbook"]


# a few cards, minutes around the 10-minute edge, millisecond nudges: ties and exact edges are common
stream = st.lists(
    st.tuples(
        st.integers(0, 3).map(card_number),
        st.builds(lambda m, nudge: BASE + m * MINUTE + nudge * MS, st.integers(0, 25), st.sampled_from([0, 0, 1])),
        st.integers(1, 100_000).map(lambda cents: cents / 100),
    ),
    min_size=1,
    max_size=60,
)


# each example starts a Spark session (about 10 s): few examples of many rows; no shrinking, which
# would start dozens more (the failing example is printed as drawn)
@settings(max_examples=2, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
@given(stream)
def test_compute_features_on_spark_keeps_rows_and_equals_polars(rows: list[tuple[str, dt.datetime, float]]) -> None:
    df = card_frame(rows)
    out = compute_features(df, CARD_FEATURES, "spark")
    assert out.select(df.columns).equals(df), "the input columns and row order are kept"
    assert_same_features(out.select(CARD_FEATURES.feature_names), df, CARD_FEATURES, "spark")
    assert out.schema["num_trans_last_10m"] == pl.Int64
