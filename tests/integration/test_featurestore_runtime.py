"""Every runtime operation of `sagemaker-featurestore-runtime` and its rules, through unmodified boto3."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest
from botocore.exceptions import ClientError
from fraudkit.config import Settings
from fraudkit.featurestore import flush_local
from fraudkit.storage import local_object_path

pytestmark = pytest.mark.integration


def record(cc: str, num: int | None, avg: float | None, at: float | str) -> list[dict[str, str]]:
    values = {"cc_num": cc, "num_trans": num, "avg_amt": avg, "trans_time": at}
    return [{"FeatureName": k, "ValueAsString": str(v)} for k, v in values.items() if v is not None]


def as_dict(response: dict[str, Any]) -> dict[str, str]:
    return {f["FeatureName"]: f["ValueAsString"] for f in response.get("Record", [])}


def error_of(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def all_record_ids(runtime_client: Any, name: str, page_size: int, **options: Any) -> list[str]:
    """Every ListRecords page, following NextToken."""
    seen: list[str] = []
    token = None
    while True:
        page = runtime_client.list_records(
            FeatureGroupName=name, MaxResults=page_size, **options, **({"NextToken": token} if token else {})
        )
        seen += page["RecordIdentifiers"]
        token = page.get("NextToken")
        if not token:
            return seen


def offline_rows(settings: Settings, sagemaker_client: Any, name: str) -> pl.DataFrame:
    flush_local(settings)
    uri = sagemaker_client.describe_feature_group(FeatureGroupName=name)["OfflineStoreConfig"]["S3StorageConfig"][
        "ResolvedOutputS3Uri"
    ]
    files = sorted(local_object_path(settings.emulator_dir, uri).glob("year=*/month=*/day=*/hour=*/*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal") if files else pl.DataFrame()


def test_put_then_get_returns_the_strings_sent(new_feature_group, runtime_client) -> None:
    name = new_feature_group()
    runtime_client.put_record(FeatureGroupName=name, Record=record("4000", 3, 12.5, 1700000000.25))
    got = runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="4000")
    assert as_dict(got) == {"cc_num": "4000", "num_trans": "3", "avg_amt": "12.5", "trans_time": "1700000000.25"}


def test_get_unknown_identifier_is_200_without_record(new_feature_group, runtime_client) -> None:
    name = new_feature_group()
    got = runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="nobody")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Record" not in got


def test_get_projects_feature_names_and_rejects_unknown_ones(new_feature_group, runtime_client) -> None:
    name = new_feature_group()
    runtime_client.put_record(FeatureGroupName=name, Record=record("1", 2, 3.0, 100))
    got = runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="1", FeatureNames=["avg_amt"])
    assert as_dict(got) == {"avg_amt": "3.0"}
    code, status = error_of(
        lambda: runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="1", FeatureNames=["nope"])
    )
    assert (code, status) == ("ValidationError", 400)


def test_newer_event_time_replaces_the_whole_row_older_goes_offline_only(
    emulator, new_feature_group, runtime_client, sagemaker_client
) -> None:
    name = new_feature_group()
    runtime_client.put_record(FeatureGroupName=name, Record=record("7", 1, 10.0, 200))
    runtime_client.put_record(FeatureGroupName=name, Record=record("7", 5, None, 300))  # newer: avg becomes null
    runtime_client.put_record(FeatureGroupName=name, Record=record("7", 9, 99.0, 250))  # older: ignored online
    assert as_dict(runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="7")) == {
        "cc_num": "7", "num_trans": "5", "trans_time": "300",
    }
    runtime_client.put_record(FeatureGroupName=name, Record=record("7", 6, 1.0, 300))  # equal time: replaces
    assert as_dict(runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="7"))["num_trans"] == "6"
    history = offline_rows(emulator, sagemaker_client, name)
    assert sorted(history["num_trans"].to_list()) == [1, 5, 6, 9]
    assert history.schema["num_trans"] == pl.Int64 and history.schema["avg_amt"] == pl.Float64
    assert set(history.columns) >= {"write_time", "api_invocation_time", "is_deleted"}
    assert not history["is_deleted"].any()


def test_string_event_times_in_iso_format(new_feature_group, runtime_client) -> None:
    name = new_feature_group(
        FeatureDefinitions=[{"FeatureName": "cc_num", "FeatureType": "String"}, {"FeatureName": "t", "FeatureType": "String"}],
        EventTimeFeatureName="t",
    )
    put = runtime_client.put_record
    put(FeatureGroupName=name, Record=[{"FeatureName": "cc_num", "ValueAsString": "a"}, {"FeatureName": "t", "ValueAsString": "2024-01-01T00:00:01Z"}])
    put(FeatureGroupName=name, Record=[{"FeatureName": "cc_num", "ValueAsString": "a"}, {"FeatureName": "t", "ValueAsString": "2024-01-01T00:00:00.500Z"}])
    assert as_dict(runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="a"))["t"] == "2024-01-01T00:00:01Z"
    for bad in ("2024-01-01 00:00:00", "2024-13-01T00:00:00Z", "yesterday", "1700000000"):
        code, status = error_of(
            lambda bad=bad: put(FeatureGroupName=name, Record=[{"FeatureName": "cc_num", "ValueAsString": "a"}, {"FeatureName": "t", "ValueAsString": bad}])
        )
        assert (code, status) == ("ValidationError", 400), bad


@pytest.mark.parametrize(
    "bad_record",
    [
        record("1", None, None, "not-a-number"),  # Fractional event time
        [*record("1", None, None, 5)[:1], {"FeatureName": "num_trans", "ValueAsString": "1.5"}, *record("1", None, None, 5)[1:]],
        [*record("1", None, None, 5), {"FeatureName": "avg_amt", "ValueAsString": "abc"}],
        [*record("1", 1, None, 5), {"FeatureName": "unknown", "ValueAsString": "x"}],
        [*record("1", 1, None, 5), {"FeatureName": "num_trans", "ValueAsString": "2"}],  # duplicate
        record("1", 1, 2.0, None),  # no event time
        [{"FeatureName": "num_trans", "ValueAsString": "1"}, {"FeatureName": "trans_time", "ValueAsString": "5"}],
        [*record("1", None, None, 5), {"FeatureName": "num_trans", "ValueAsString": "99999999999999999999"}],
    ],
)
def test_put_rejects_wrongly_typed_or_incomplete_records(new_feature_group, runtime_client, bad_record) -> None:
    name = new_feature_group()
    assert error_of(lambda: runtime_client.put_record(FeatureGroupName=name, Record=bad_record)) == ("ValidationError", 400)
    assert "Record" not in runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="1")


def test_unknown_feature_group_is_resource_not_found_404(emulator, runtime_client) -> None:
    assert error_of(lambda: runtime_client.put_record(FeatureGroupName="missing-fg", Record=record("1", 1, 1.0, 1))) == (
        "ResourceNotFound", 404,
    )
    assert error_of(lambda: runtime_client.get_record(FeatureGroupName="missing-fg", RecordIdentifierValueAsString="1")) == (
        "ResourceNotFound", 404,
    )


def test_feature_group_addressed_by_arn(new_feature_group, runtime_client, sagemaker_client) -> None:
    name = new_feature_group()
    arn = sagemaker_client.describe_feature_group(FeatureGroupName=name)["FeatureGroupArn"]
    runtime_client.put_record(FeatureGroupName=arn, Record=record("9", 1, 1.0, 1))
    assert as_dict(runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="9"))["cc_num"] == "9"


def test_target_stores_online_only_and_offline_only(emulator, new_feature_group, runtime_client, sagemaker_client) -> None:
    name = new_feature_group()
    runtime_client.put_record(FeatureGroupName=name, Record=record("on", 1, 1.0, 1), TargetStores=["OnlineStore"])
    runtime_client.put_record(FeatureGroupName=name, Record=record("off", 2, 2.0, 2), TargetStores=["OfflineStore"])
    assert "Record" in runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="on")
    assert "Record" not in runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="off")
    assert offline_rows(emulator, sagemaker_client, name)["cc_num"].to_list() == ["off"]
    online_only = new_feature_group(OfflineStoreConfig=None, RoleArn=None)
    assert error_of(
        lambda: runtime_client.put_record(FeatureGroupName=online_only, Record=record("x", 1, 1.0, 1), TargetStores=["OfflineStore"])
    ) == ("ValidationError", 400)


def test_ttl_hides_expired_records_and_reports_expires_at(emulator, new_feature_group, runtime_client, sagemaker_client) -> None:
    name = new_feature_group(OnlineStoreConfig={"EnableOnlineStore": True, "TtlDuration": {"Unit": "Days", "Value": 1}})
    now = time.time()
    runtime_client.put_record(FeatureGroupName=name, Record=record("old", 1, 1.0, now - 2 * 86400))
    runtime_client.put_record(FeatureGroupName=name, Record=record("new", 1, 1.0, now))
    runtime_client.put_record(
        FeatureGroupName=name, Record=record("short", 1, 1.0, now - 120), TtlDuration={"Unit": "Minutes", "Value": 1}
    )
    assert "Record" not in runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="old")
    assert "Record" not in runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="short")
    markers = offline_rows(emulator, sagemaker_client, name).filter(pl.col("is_deleted"))
    assert sorted(markers["cc_num"].to_list()) == ["old", "short"]  # expiry is a hard delete with a marker
    fresh = runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="new", ExpirationTimeResponse="Enabled")
    assert fresh["ExpiresAt"].startswith(time.strftime("%Y-%m-%dT", time.gmtime(now + 86400)))
    assert "ExpiresAt" not in runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="new")
    assert runtime_client.list_records(FeatureGroupName=name)["RecordIdentifiers"] == ["new"]
    sagemaker_client.update_feature_group(FeatureGroupName=name, OnlineStoreConfig={"TtlDuration": {"Unit": "Weeks", "Value": 1}})
    runtime_client.put_record(FeatureGroupName=name, Record=record("old", 1, 1.0, now - 2 * 86400))
    assert "Record" in runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="old")


def test_batch_get_record_records_errors_and_limit(new_feature_group, runtime_client) -> None:
    first, second = new_feature_group(), new_feature_group()
    for i in range(3):
        runtime_client.put_record(FeatureGroupName=first, Record=record(str(i), i, float(i), 10))
    runtime_client.put_record(FeatureGroupName=second, Record=record("0", 7, 7.0, 10))
    response = runtime_client.batch_get_record(
        Identifiers=[
            {"FeatureGroupName": first, "RecordIdentifiersValueAsString": ["0", "2", "absent"]},
            {"FeatureGroupName": second, "RecordIdentifiersValueAsString": ["0"], "FeatureNames": ["num_trans"]},
            {"FeatureGroupName": "no-such-group", "RecordIdentifiersValueAsString": ["0"]},
        ]
    )
    found = {(r["FeatureGroupName"], r["RecordIdentifierValueAsString"]): as_dict(r) for r in response["Records"]}
    assert set(found) == {(first, "0"), (first, "2"), (second, "0")}
    assert found[(second, "0")] == {"num_trans": "7"}
    assert [(e["FeatureGroupName"], e["ErrorCode"]) for e in response["Errors"]] == [("no-such-group", "ResourceNotFound")]
    assert response["UnprocessedIdentifiers"] == []
    too_many = [{"FeatureGroupName": first, "RecordIdentifiersValueAsString": [str(i) for i in range(60)]}] * 2
    assert error_of(lambda: runtime_client.batch_get_record(Identifiers=too_many)) == ("ValidationError", 400)


def test_soft_delete_hides_record_writes_marker_and_respects_event_time(
    emulator, new_feature_group, runtime_client, sagemaker_client
) -> None:
    name = new_feature_group()
    runtime_client.put_record(FeatureGroupName=name, Record=record("a", 1, 1.0, 100))
    runtime_client.delete_record(FeatureGroupName=name, RecordIdentifierValueAsString="a", EventTime="50")  # older: kept
    assert "Record" in runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="a")
    runtime_client.delete_record(FeatureGroupName=name, RecordIdentifierValueAsString="a", EventTime="150")
    assert "Record" not in runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="a")
    assert runtime_client.list_records(FeatureGroupName=name)["RecordIdentifiers"] == []
    assert runtime_client.list_records(FeatureGroupName=name, IncludeSoftDeletedRecords=True)["RecordIdentifiers"] == ["a"]
    runtime_client.put_record(FeatureGroupName=name, Record=record("a", 2, 2.0, 120))  # older than the delete
    assert "Record" not in runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="a")
    history = offline_rows(emulator, sagemaker_client, name).sort("api_invocation_time", "trans_time")
    markers = history.filter(pl.col("is_deleted"))
    assert markers["trans_time"].to_list() == [50.0, 150.0]
    assert markers["num_trans"].null_count() == 2


def test_hard_delete_removes_row_and_rejects_older_event_time(new_feature_group, runtime_client) -> None:
    name = new_feature_group()
    runtime_client.put_record(FeatureGroupName=name, Record=record("h", 1, 1.0, 100))
    assert error_of(
        lambda: runtime_client.delete_record(
            FeatureGroupName=name, RecordIdentifierValueAsString="h", EventTime="99", DeletionMode="HardDelete"
        )
    ) == ("ValidationError", 400)
    runtime_client.delete_record(FeatureGroupName=name, RecordIdentifierValueAsString="h", EventTime="101", DeletionMode="HardDelete")
    assert runtime_client.list_records(FeatureGroupName=name, IncludeSoftDeletedRecords=True)["RecordIdentifiers"] == []
    runtime_client.put_record(FeatureGroupName=name, Record=record("h", 3, 1.0, 50))  # a new row after a hard delete
    assert as_dict(runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="h"))["num_trans"] == "3"


def test_batch_write_record_reports_per_entry_errors(new_feature_group, runtime_client) -> None:
    name = new_feature_group()
    response = runtime_client.batch_write_record(
        Entries=[
            {"FeatureGroupName": name, "Record": record("b1", 1, 1.0, 1)},
            {"FeatureGroupName": name, "Record": record("b2", None, None, "bad")},
            {"FeatureGroupName": "absent-group", "Record": record("b3", 1, 1.0, 1)},
        ]
    )
    assert [e["ErrorCode"] for e in response["Errors"]] == ["ValidationError", "ResourceNotFound"]
    assert response["Errors"][0]["Entry"]["Record"] == record("b2", None, None, "bad")
    assert "Record" in runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="b1")
    entries = [{"FeatureGroupName": name, "Record": record(str(i), 1, 1.0, 1)} for i in range(26)]
    assert error_of(lambda: runtime_client.batch_write_record(Entries=entries)) == ("ValidationError", 400)


def test_list_records_paginates_in_identifier_order(new_feature_group, runtime_client) -> None:
    name = new_feature_group()
    ids = [f"{i:03d}" for i in range(7)]
    for rid in reversed(ids):
        runtime_client.put_record(FeatureGroupName=name, Record=record(rid, 1, 1.0, 1))
    assert all_record_ids(runtime_client, name, page_size=3) == ids


def test_update_record_merges_features_and_checks_event_time(new_feature_group, runtime_client) -> None:
    standard = new_feature_group()
    runtime_client.put_record(FeatureGroupName=standard, Record=record("u", 1, 1.0, 100))
    update = runtime_client.update_record
    assert error_of(
        lambda: update(FeatureGroupName=standard, RecordIdentifierValueAsString="u", Features=record("u", 2, None, None)[1:])
    ) == ("ValidationError", 400)
    name = new_feature_group(OnlineStoreConfig={"EnableOnlineStore": True, "StorageType": "Standard_V2"})
    runtime_client.put_record(FeatureGroupName=name, Record=record("u", 1, 1.0, 100))
    update(FeatureGroupName=name, RecordIdentifierValueAsString="u", Features=[{"FeatureName": "num_trans", "ValueAsString": "2"}])
    assert as_dict(runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="u")) == {
        "cc_num": "u", "num_trans": "2", "avg_amt": "1.0", "trans_time": "100",
    }
    older = [{"FeatureName": "avg_amt", "ValueAsString": "5"}, {"FeatureName": "trans_time", "ValueAsString": "90"}]
    assert error_of(lambda: update(FeatureGroupName=name, RecordIdentifierValueAsString="u", Features=older)) == (
        "ConflictException", 409,
    )
    missing = [{"FeatureName": "num_trans", "ValueAsString": "2"}]
    assert error_of(lambda: update(FeatureGroupName=name, RecordIdentifierValueAsString="nobody", Features=missing)) == (
        "ResourceNotFound", 404,
    )
    assert error_of(
        lambda: update(FeatureGroupName=name, RecordIdentifierValueAsString="u", Features=missing, TtlDuration={"Unit": "Days", "Value": 1})
    ) == ("ValidationError", 400)


def test_small_bulk_writes_before_and_after_a_feature_addition_reach_the_offline_store(
    emulator, new_feature_group, sagemaker_client
) -> None:
    from fraudkit.featurestore.ingest import bulk_ingest_local

    name = new_feature_group()
    before = pl.DataFrame({"cc_num": ["1", "2"], "num_trans": [1, 2], "avg_amt": [1.0, 2.0], "trans_time": [10.0, 20.0]})
    bulk_ingest_local(emulator, name, before, quiet=True)  # queued as a frame, not flushed yet
    sagemaker_client.update_feature_group(
        FeatureGroupName=name, FeatureAdditions=[{"FeatureName": "merchant", "FeatureType": "String"}]
    )
    after = before.with_columns(pl.Series("cc_num", ["3", "4"]), merchant=pl.lit("shop"))
    bulk_ingest_local(emulator, name, after, quiet=True)
    history = offline_rows(emulator, sagemaker_client, name).sort("cc_num")
    assert history["cc_num"].to_list() == ["1", "2", "3", "4"]
    assert history["merchant"].to_list() == [None, None, "shop", "shop"]
    assert history["is_deleted"].to_list() == [False] * 4
