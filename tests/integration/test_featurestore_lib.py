"""`fraudkit.featurestore` helpers and the `sagemaker` SDK's feature-store helpers against the emulator."""

from __future__ import annotations

import datetime as dt
import uuid

import pandas as pd
import polars as pl
import pytest
from fraudkit.featurestore import (
    FeatureGroupSpec,
    batch_group,
    create_feature_groups,
    delete_feature_groups,
    get_record,
    ingest,
    latest_snapshot,
    point_in_time_join,
    put_records,
    read_online,
)

pytestmark = pytest.mark.integration
UTC = dt.UTC


def card_features() -> pl.DataFrame:
    """Three cards, a few transactions each, with 1-week aggregates as the features stage writes them."""
    start = dt.datetime(2024, 3, 1, tzinfo=UTC)
    rows = [
        ("4000000000000001", start, 1, 10.0),
        ("4000000000000001", start + dt.timedelta(hours=2), 2, 15.0),
        ("4000000000000001", start + dt.timedelta(hours=30), 3, 20.0),
        ("4000000000000002", start + dt.timedelta(minutes=5), 1, 7.5),
        ("4000000000000003", start + dt.timedelta(hours=1), 1, 100.0),
        ("4000000000000003", start + dt.timedelta(hours=1, minutes=1), 2, 60.0),
    ]
    return pl.DataFrame(
        rows,
        schema={"cc_num": pl.Utf8, "event_time": pl.Datetime("us", "UTC"), "num_trans_last_1w": pl.Int64, "avg_amt_last_1w": pl.Float64},
        orient="row",
    )


@pytest.fixture
def batch_spec(emulator) -> FeatureGroupSpec:
    spec = batch_group(emulator.replace(batch_feature_group=f"batch-{uuid.uuid4().hex[:8]}"))
    create_feature_groups(emulator, [spec])
    return spec


def test_create_is_idempotent_and_delete_waits(emulator) -> None:
    spec = batch_group(emulator.replace(batch_feature_group=f"idem-{uuid.uuid4().hex[:8]}"))
    first = create_feature_groups(emulator, [spec])
    assert create_feature_groups(emulator, [spec]) == first
    assert delete_feature_groups(emulator, [spec.name]) == [spec.name]
    assert delete_feature_groups(emulator, [spec.name]) == []


def test_bulk_ingest_gives_latest_online_and_full_offline_history(emulator, batch_spec) -> None:
    frame = batch_spec.frame_from(card_features())
    assert ingest(emulator, batch_spec.name, frame) == 6
    assert get_record(emulator, batch_spec.name, "4000000000000001") == {
        "cc_num": "4000000000000001",
        "num_trans_last_1w": 3,
        "avg_amt_last_1w": 20.0,
        "trans_time": frame["trans_time"][2],
    }
    online = read_online(emulator, batch_spec.name, ["4000000000000003", "4000000000000002", "nobody"]).sort("cc_num")
    assert online["num_trans_last_1w"].to_list() == [1, 2]
    snapshot = latest_snapshot(emulator, batch_spec.name)
    assert snapshot["num_trans_last_1w"].to_list() == [3, 1, 2]
    as_of = latest_snapshot(emulator, batch_spec.name, as_of=dt.datetime(2024, 3, 1, 3, tzinfo=UTC))
    assert dict(zip(as_of["cc_num"], as_of["num_trans_last_1w"], strict=True))["4000000000000001"] == 2


def test_bulk_and_put_record_paths_reach_the_same_state(emulator) -> None:
    names = {path: f"{path}-{uuid.uuid4().hex[:8]}" for path in ("bulk", "put")}
    specs = {path: batch_group(emulator.replace(batch_feature_group=name)) for path, name in names.items()}
    create_feature_groups(emulator, list(specs.values()))
    frame = specs["bulk"].frame_from(card_features()).reverse()  # arrival order must not matter
    ingest(emulator, names["bulk"], frame)
    put_records(emulator, names["put"], frame, workers=4)
    ids = frame["cc_num"].unique().sort().to_list()
    assert read_online(emulator, names["bulk"], ids).sort("cc_num").equals(read_online(emulator, names["put"], ids).sort("cc_num"))
    columns = ["cc_num", "num_trans_last_1w", "avg_amt_last_1w", "trans_time", "is_deleted"]
    assert latest_snapshot(emulator, names["bulk"]).select(columns).equals(latest_snapshot(emulator, names["put"]).select(columns))


def test_point_in_time_join_never_uses_future_features(emulator, batch_spec) -> None:
    ingest(emulator, batch_spec.name, batch_spec.frame_from(card_features()))
    start = dt.datetime(2024, 3, 1, tzinfo=UTC)
    labels = pl.DataFrame(
        {
            "cc_num": ["4000000000000001", "4000000000000001", "4000000000000002", "4000000000000009"],
            "event_time": [start + dt.timedelta(hours=3), start - dt.timedelta(hours=1), start + dt.timedelta(days=9), start],
            "fraud_label": [0, 1, 0, 1],
        }
    )
    joined = point_in_time_join(emulator, labels, batch_spec.name, "cc_num", "event_time", ["num_trans_last_1w"])
    assert joined["fraud_label"].to_list() == [0, 1, 0, 1]  # input order kept
    assert joined["num_trans_last_1w"].to_list() == [2, None, 1, None]


def test_bulk_ingest_rejects_wrong_columns(emulator, batch_spec) -> None:
    from fraudkit.featurestore import IngestError

    with pytest.raises(IngestError, match="ValidationError"):
        ingest(emulator, batch_spec.name, pl.DataFrame({"cc_num": ["1"], "unknown": [1.0], "trans_time": [1.0]}))
    with pytest.raises(IngestError, match="ValidationError"):
        ingest(emulator, batch_spec.name, pl.DataFrame({"cc_num": ["1"], "num_trans_last_1w": ["many"], "trans_time": [1.0]}))


def test_sagemaker_sdk_feature_store_helpers_work_unchanged(emulator) -> None:
    from sagemaker.mlops.feature_store import (
        FeatureGroup,
        OfflineStoreConfig,
        OnlineStoreConfig,
        S3StorageConfig,
        ingest_dataframe,
        load_feature_definitions_from_dataframe,
    )

    name = f"sdk-{uuid.uuid4().hex[:8]}"
    frame = pd.DataFrame(
        {"cc_num": ["a", "b", "c", "a"], "num_trans": [1, 2, 3, 4], "avg_amt": [1.5, 2.5, 3.5, 4.5], "trans_time": [1.0, 2.0, 3.0, 4.0]}
    )
    frame["cc_num"] = frame["cc_num"].astype("string")
    definitions = load_feature_definitions_from_dataframe(frame)
    group = FeatureGroup.create(
        feature_group_name=name,
        record_identifier_feature_name="cc_num",
        event_time_feature_name="trans_time",
        feature_definitions=definitions,
        online_store_config=OnlineStoreConfig(enable_online_store=True),
        offline_store_config=OfflineStoreConfig(s3_storage_config=S3StorageConfig(s3_uri="s3://sdk-bucket/fs")),
        role_arn="arn:aws:iam::000000000000:role/sdk",
        region=emulator.region,
    )
    group.wait_for_status("Created", poll=1, timeout=30)
    manager = ingest_dataframe(name, frame, max_workers=2, region=emulator.region)
    assert not manager.failed_rows
    record = group.get_record(record_identifier_value_as_string="a", region=emulator.region)
    values = {f.feature_name: f.value_as_string for f in record.record}
    assert values == {"cc_num": "a", "num_trans": "4", "avg_amt": "4.5", "trans_time": "4.0"}
