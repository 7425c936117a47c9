"""Feature-group control plane on `sagemaker` (JSON 1.1) through unmodified boto3."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fraudkit.featurestore import wait_for_status

from tests.fixtures.emulator import CARD_DEFINITIONS, feature_group_request

pytestmark = pytest.mark.integration


def unique(prefix: str = "cp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def code_of(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(caught.value.response["Error"]["Code"])


def test_create_moves_from_creating_to_created_with_real_arn(emulator, sagemaker_client) -> None:
    name = unique()
    arn = sagemaker_client.create_feature_group(**feature_group_request(name))["FeatureGroupArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:feature-group/{name}"
    assert sagemaker_client.describe_feature_group(FeatureGroupName=name)["FeatureGroupStatus"] in ("Creating", "Created")
    wait_for_status(emulator, name, "Created", timeout=10)
    described = sagemaker_client.describe_feature_group(FeatureGroupName=arn)
    assert described["FeatureGroupName"] == name
    assert described["FeatureDefinitions"] == CARD_DEFINITIONS
    assert isinstance(described["CreationTime"], dt.datetime)
    assert described["OnlineStoreConfig"] == {"EnableOnlineStore": True, "StorageType": "Standard"}


def test_offline_store_config_is_resolved_like_the_service(emulator, sagemaker_client) -> None:
    name = unique("offline")
    sagemaker_client.create_feature_group(
        **feature_group_request(
            name,
            OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://bucket/some/prefix"}},
            RoleArn="arn:aws:iam::000000000000:role/r",
        )
    )
    config = sagemaker_client.describe_feature_group(FeatureGroupName=name)["OfflineStoreConfig"]
    resolved = config["S3StorageConfig"]["ResolvedOutputS3Uri"]
    assert resolved.startswith(f"s3://bucket/some/prefix/000000000000/sagemaker/us-east-1/offline-store/{name}-")
    assert resolved.endswith("/data")
    assert config["DataCatalogConfig"]["Database"] == "sagemaker_featurestore"


@pytest.mark.parametrize(
    "changes",
    [
        {"RecordIdentifierFeatureName": "absent"},
        {"EventTimeFeatureName": "absent"},
        {"EventTimeFeatureName": "num_trans"},  # Integral event time
        {"FeatureDefinitions": [*CARD_DEFINITIONS, {"FeatureName": "is_deleted", "FeatureType": "String"}]},
        {"FeatureDefinitions": [*CARD_DEFINITIONS, {"FeatureName": "write_time", "FeatureType": "String"}]},
        {"FeatureDefinitions": [*CARD_DEFINITIONS, {"FeatureName": "num_trans", "FeatureType": "String"}]},
        {"OnlineStoreConfig": None},  # neither store
        {"OnlineStoreConfig": {"EnableOnlineStore": False}},
        {"OfflineStoreConfig": {"S3StorageConfig": {"S3Uri": "s3://test-bucket/p"}}},  # no RoleArn
        {"FeatureGroupName": "bad_name-"},
        {"FeatureGroupName": "x" * 65},
        {"FeatureDefinitions": [{"FeatureName": "cc_num", "FeatureType": "Text"}]},
        {"FeatureDefinitions": []},
    ],
)
def test_create_validation_rules(unvalidated_client, changes) -> None:
    client = unvalidated_client("sagemaker")
    name = unique("bad")
    request = feature_group_request(name, **changes)
    assert code_of(lambda: client.create_feature_group(**request)) == "ValidationException"
    assert code_of(lambda: client.describe_feature_group(FeatureGroupName=name)) == "ResourceNotFound"


def test_duplicate_name_is_resource_in_use(emulator, sagemaker_client) -> None:
    name = unique()
    sagemaker_client.create_feature_group(**feature_group_request(name))
    assert code_of(lambda: sagemaker_client.create_feature_group(**feature_group_request(name))) == "ResourceInUse"


def test_delete_goes_through_deleting_then_not_found(emulator, sagemaker_client) -> None:
    name = unique("del")
    sagemaker_client.create_feature_group(**feature_group_request(name))
    wait_for_status(emulator, name, "Created", timeout=10)
    sagemaker_client.delete_feature_group(FeatureGroupName=name)
    assert sagemaker_client.describe_feature_group(FeatureGroupName=name)["FeatureGroupStatus"] in ("Deleting",)
    assert code_of(lambda: sagemaker_client.create_feature_group(**feature_group_request(name))) == "ResourceInUse"
    wait_for_status(emulator, name, None, timeout=10)
    assert code_of(lambda: sagemaker_client.delete_feature_group(FeatureGroupName=name)) == "ResourceNotFound"
    sagemaker_client.create_feature_group(**feature_group_request(name))  # the name is free again


def test_list_filters_sorts_and_paginates(emulator, sagemaker_client) -> None:
    tag = uuid.uuid4().hex[:8]
    names = [f"list-{tag}-{i}" for i in range(5)]
    for name in names:
        sagemaker_client.create_feature_group(**feature_group_request(name))
        time.sleep(0.01)
    wait_for_status(emulator, names[-1], "Created", timeout=10)
    ascending = sagemaker_client.list_feature_groups(NameContains=tag, SortBy="Name", SortOrder="Ascending")
    assert [s["FeatureGroupName"] for s in ascending["FeatureGroupSummaries"]] == names
    pages, token = [], None
    while True:
        extra = {"NextToken": token} if token else {}
        page = sagemaker_client.list_feature_groups(NameContains=tag, SortBy="CreationTime", MaxResults=2, **extra)
        pages.append([s["FeatureGroupName"] for s in page["FeatureGroupSummaries"]])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == [names[4:2:-1], names[2:0:-1], names[:1]]
    boundary = sagemaker_client.describe_feature_group(FeatureGroupName=names[3])["CreationTime"]
    older = sagemaker_client.list_feature_groups(NameContains=tag, CreationTimeBefore=boundary)["FeatureGroupSummaries"]
    assert {s["FeatureGroupName"] for s in older} == set(names[:3])
    newer = sagemaker_client.list_feature_groups(NameContains=tag, CreationTimeAfter=boundary)["FeatureGroupSummaries"]
    assert {s["FeatureGroupName"] for s in newer} == {names[4]}  # strictly after names[3]
    created = sagemaker_client.list_feature_groups(NameContains=tag, FeatureGroupStatusEquals="Created", MaxResults=100)
    assert len(created["FeatureGroupSummaries"]) == 5
    assert code_of(lambda: sagemaker_client.list_feature_groups(MaxResults=101)) == "ValidationException"
    for token in ("not-a-token", "////", "YWJj"):  # the last is base64 of "abc"
        assert code_of(lambda token=token: sagemaker_client.list_feature_groups(NextToken=token)) == "ValidationException"


def test_update_adds_features_and_rejects_duplicates(emulator, sagemaker_client, runtime_client) -> None:
    name = unique("upd")
    sagemaker_client.create_feature_group(**feature_group_request(name))
    wait_for_status(emulator, name, "Created", timeout=10)
    sagemaker_client.update_feature_group(
        FeatureGroupName=name, FeatureAdditions=[{"FeatureName": "merchant", "FeatureType": "String"}]
    )
    described = sagemaker_client.describe_feature_group(FeatureGroupName=name)
    assert described["FeatureDefinitions"][-1] == {"FeatureName": "merchant", "FeatureType": "String"}
    assert described["LastUpdateStatus"]["Status"] == "Successful"
    runtime_client.put_record(
        FeatureGroupName=name,
        Record=[
            {"FeatureName": "cc_num", "ValueAsString": "1"},
            {"FeatureName": "trans_time", "ValueAsString": "1"},
            {"FeatureName": "merchant", "ValueAsString": "shop"},
        ],
    )
    again = [{"FeatureName": "merchant", "FeatureType": "String"}]
    assert code_of(lambda: sagemaker_client.update_feature_group(FeatureGroupName=name, FeatureAdditions=again)) == (
        "ValidationException"
    )


def test_feature_metadata_describe_and_update(emulator, sagemaker_client) -> None:
    name = unique("meta")
    sagemaker_client.create_feature_group(**feature_group_request(name))
    sagemaker_client.update_feature_metadata(
        FeatureGroupName=name,
        FeatureName="avg_amt",
        Description="mean amount",
        ParameterAdditions=[{"Key": "unit", "Value": "USD"}, {"Key": "owner", "Value": "risk"}],
    )
    sagemaker_client.update_feature_metadata(FeatureGroupName=name, FeatureName="avg_amt", ParameterRemovals=["owner"])
    meta = sagemaker_client.describe_feature_metadata(FeatureGroupName=name, FeatureName="avg_amt")
    assert (meta["FeatureType"], meta["Description"], meta["Parameters"]) == (
        "Fractional", "mean amount", [{"Key": "unit", "Value": "USD"}],
    )
    assert code_of(lambda: sagemaker_client.describe_feature_metadata(FeatureGroupName=name, FeatureName="nope")) == (
        "ResourceNotFound"
    )
