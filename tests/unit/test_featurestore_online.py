"""Online reads on the aws backend: BatchGetRecord's partial answers, driven by botocore's Stubber.

The emulator always answers a whole batch, so the retry of `UnprocessedIdentifiers` (what Feature Store
returns when it is throttled) is proven against canned responses validated against botocore's models.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from fraudkit.config import Settings
from fraudkit.featurestore import online
from fraudkit.featurestore.online import read_online

GROUP = "cards-fg"
IDS = ["c1", "c2", "c3"]
SETTINGS = Settings(backend="aws")


def _client(service: str) -> Any:
    make_client: Any = boto3.client  # typed per literal service name by the stubs; ours is a variable
    return make_client(
        service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _record(card: str, count: int) -> dict[str, Any]:
    return {
        "FeatureGroupName": GROUP,
        "RecordIdentifierValueAsString": card,
        "Record": [
            {"FeatureName": "cc_num", "ValueAsString": card},
            {"FeatureName": "num_trans_last_1w", "ValueAsString": str(count)},
            {"FeatureName": "trans_time", "ValueAsString": "1700000000.0"},
        ],
    }


def _request(ids: list[str]) -> dict[str, Any]:
    return {"Identifiers": [{"FeatureGroupName": GROUP, "RecordIdentifiersValueAsString": ids}]}


def _answer(records: list[dict[str, Any]], unprocessed: list[str]) -> dict[str, Any]:
    left = [{"FeatureGroupName": GROUP, "RecordIdentifiersValueAsString": unprocessed}] if unprocessed else []
    return {"Records": records, "Errors": [], "UnprocessedIdentifiers": left}


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stubber, list[float]]]:
    """A stubbed runtime client (and a stubbed DescribeFeatureGroup) behind `Settings.client`; sleeps recorded."""
    clients = {
        "sagemaker": _client("sagemaker"),
        "sagemaker-featurestore-runtime": _client("sagemaker-featurestore-runtime"),
    }
    monkeypatch.setattr(Settings, "client", lambda self, service: clients[service])
    pauses: list[float] = []
    monkeypatch.setattr(time, "sleep", pauses.append)
    with (
        Stubber(clients["sagemaker"]) as control,
        Stubber(clients["sagemaker-featurestore-runtime"]) as stubber,
    ):
        control.add_response(
            "describe_feature_group",
            {
                "FeatureGroupArn": f"arn:aws:sagemaker:us-east-1:123456789012:feature-group/{GROUP}",
                "FeatureGroupName": GROUP,
                "RecordIdentifierFeatureName": "cc_num",
                "EventTimeFeatureName": "trans_time",
                "FeatureDefinitions": [
                    {"FeatureName": "cc_num", "FeatureType": "String"},
                    {"FeatureName": "num_trans_last_1w", "FeatureType": "Integral"},
                    {"FeatureName": "trans_time", "FeatureType": "Fractional"},
                ],
                "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                "NextToken": "",
            },
            {"FeatureGroupName": GROUP},
        )
        yield stubber, pauses
        stubber.assert_no_pending_responses()
        control.assert_no_pending_responses()


def test_unprocessed_identifiers_are_asked_again(runtime: tuple[Stubber, list[float]]) -> None:
    stubber, pauses = runtime
    stubber.add_response("batch_get_record", _answer([_record("c1", 1)], ["c2", "c3"]), _request(IDS))
    stubber.add_response(
        "batch_get_record", _answer([_record("c2", 2), _record("c3", 3)], []), _request(["c2", "c3"])
    )
    frame = read_online(SETTINGS, GROUP, IDS)
    assert frame.sort("cc_num")["num_trans_last_1w"].to_list() == [1, 2, 3]
    assert pauses == [online.UNPROCESSED_BACKOFF_S]


def test_identifiers_still_unprocessed_after_the_retries_are_an_error(
    runtime: tuple[Stubber, list[float]],
) -> None:
    stubber, pauses = runtime
    stubber.add_response("batch_get_record", _answer([_record("c1", 1)], ["c2", "c3"]), _request(IDS))
    for _ in range(online.UNPROCESSED_RETRIES):
        stubber.add_response("batch_get_record", _answer([], ["c2", "c3"]), _request(["c2", "c3"]))
    with pytest.raises(RuntimeError, match=r"2 of 3 record ids still unprocessed after 5 retries"):
        read_online(SETTINGS, GROUP, IDS)
    assert pauses == [online.UNPROCESSED_BACKOFF_S * 2**i for i in range(online.UNPROCESSED_RETRIES)]
