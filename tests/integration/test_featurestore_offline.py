"""The offline store keeps replayed puts (append-only, as on AWS); the reads used for training do not repeat them."""

from __future__ import annotations

import datetime as dt
import uuid

import polars as pl
import pytest
from fraudkit.config import Settings
from fraudkit.featurestore import (
    FeatureGroupSpec,
    batch_group,
    create_feature_groups,
    latest_snapshot,
    offline_connection,
    point_in_time_join,
    put_records,
)

pytestmark = pytest.mark.integration
START = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
CARD_A, CARD_B = "4000000000000001", "4000000000000002"


def features(rows: list[tuple[str, dt.datetime, int, float]]) -> pl.DataFrame:
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "cc_num": pl.Utf8,
        "event_time": pl.Datetime("us", "UTC"),
        "num_trans_last_1w": pl.Int64,
        "avg_amt_last_1w": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


@pytest.fixture
def spec(emulator: Settings) -> FeatureGroupSpec:
    spec = batch_group(emulator.replace(batch_feature_group=f"replay-{uuid.uuid4().hex[:8]}"))
    create_feature_groups(emulator, [spec])
    return spec


def test_a_replayed_put_is_kept_offline_but_read_once_for_training(
    emulator: Settings, spec: FeatureGroupSpec
) -> None:
    later = START + dt.timedelta(hours=2)
    written = spec.frame_from(
        features([(CARD_A, START, 1, 10.0), (CARD_A, later, 2, 15.0), (CARD_B, START, 1, 7.5)])
    )
    put_records(emulator, spec.name, written, workers=1)
    put_records(emulator, spec.name, written, workers=1)  # the replay: the same three puts again
    # a last write of the same record and event time with another value: the newest write must win
    put_records(emulator, spec.name, spec.frame_from(features([(CARD_A, later, 2, 16.0)])), workers=1)

    raw = offline_connection(emulator, [spec.name]).sql(f'SELECT cc_num FROM "{spec.name}"').pl()
    assert raw.height == 7  # append-only, as AWS documents: every put is a row

    labels = pl.DataFrame(
        {
            "cc_num": [CARD_A, CARD_A, CARD_B],
            "event_time": [START + dt.timedelta(minutes=5), later + dt.timedelta(minutes=5), START],
            "fraud_label": [0, 1, 0],
        }
    )
    training = point_in_time_join(
        emulator, labels, spec.name, "cc_num", "event_time", ["num_trans_last_1w", "avg_amt_last_1w"]
    )
    assert training.height == labels.height
    assert training["num_trans_last_1w"].to_list() == [1, 2, 1]
    assert training["avg_amt_last_1w"].to_list() == [10.0, 16.0, 7.5]

    snapshot = latest_snapshot(emulator, spec.name)
    assert snapshot.select("cc_num", "avg_amt_last_1w").rows() == [(CARD_A, 16.0), (CARD_B, 7.5)]
