"""A malformed-input corpus against the emulator's HTTP API, through raw HTTP and through boto3.

Every case must be answered with a 4xx carrying an AWS error code (never a 5xx), and nothing stored
may change: the guarded group's record, the groups, models and endpoints are compared after the corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, cast

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from fraudkit.config import Settings

from tests.reliability.raw import (
    OFFLINE,
    Answer,
    RawClient,
    create_group,
    deployed_endpoint,
    emulator_client,
    wire_record,
)

pytestmark = pytest.mark.integration
GROUP, ENDPOINT = "bad-input-guarded", "bad-input-endpoint"
SENTINEL = wire_record("sentinel", 42, 4.5, 1_000_000.0)
FS = "/FeatureGroup/" + GROUP


@pytest.fixture(scope="module")
def guarded(emulator: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    create_group(emulator, GROUP, **OFFLINE)
    emulator.client("sagemaker-featurestore-runtime").put_record(FeatureGroupName=GROUP, Record=SENTINEL)
    deployed_endpoint(emulator, tmp_path_factory.mktemp("bad-input-model"), ENDPOINT)
    yield emulator


def stored_state(settings: Settings) -> dict[str, Any]:
    """Everything a bad request might have changed, as the API reports it."""
    sagemaker = settings.client("sagemaker")
    runtime = settings.client("sagemaker-featurestore-runtime")
    described = sagemaker.describe_feature_group(FeatureGroupName=GROUP)
    return {
        "record": runtime.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString="sentinel").get(
            "Record"
        ),
        "ids": runtime.list_records(FeatureGroupName=GROUP, MaxResults=100)["RecordIdentifiers"],
        "group": {
            k: described.get(k)
            for k in (
                "FeatureDefinitions",
                "OnlineStoreConfig",
                "OfflineStoreConfig",
                "LastModifiedTime",
                "OnlineStoreTotalSizeBytes",
            )
        },
        "groups": sorted(
            g["FeatureGroupName"]
            for g in sagemaker.list_feature_groups(MaxResults=100)["FeatureGroupSummaries"]
        ),
        "models": sorted(m["ModelName"] for m in sagemaker.list_models(MaxResults=100)["Models"]),
        "endpoints": sorted(
            (e["EndpointName"], e["EndpointStatus"])
            for e in sagemaker.list_endpoints(MaxResults=100)["Endpoints"]
        ),
    }


def put_body(record: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {"Record": record, **extra}


def with_value(name: str, value: str, cc: str = "sentinel") -> list[dict[str, str]]:
    """The sentinel's record (same id) with one value replaced: stored, it would change the sentinel."""
    return [
        {**f, "ValueAsString": value} if f["FeatureName"] == name else f
        for f in wire_record(cc, 1, 1.5, 2_000_000.0)
    ]


def create_body(name: str, **changes: Any) -> dict[str, Any]:
    return {
        "FeatureGroupName": name,
        "RecordIdentifierFeatureName": "cc_num",
        "EventTimeFeatureName": "trans_time",
        "FeatureDefinitions": [
            {"FeatureName": "cc_num", "FeatureType": "String"},
            {"FeatureName": "trans_time", "FeatureType": "Fractional"},
        ],
        "OnlineStoreConfig": {"EnableOnlineStore": True},
        **changes,
    }


BAD_TTLS = [
    {"Unit": "Weeks", "Value": 2**31 - 1},
    {"Unit": "Seconds", "Value": 2**31},
    {"Unit": "Days", "Value": 0},
    {"Unit": "Years", "Value": 1},
    {"Unit": "Weeks", "Value": "1"},
]
ESCAPING_URIS = [
    "s3://../featurestore.db",
    "s3://../emulator/endpoints.sqlite3",
    "s3://bucket/../../featurestore.db",
    "s3://ab/x",
    "s3://Bad_Bucket/x",
    "s3://192.168.0.1/x",
    "file:///etc/passwd",
]
CSV_BODIES = [b"abc,1", b"1,2,3", b"", b"\xff\xfe,1", b"1,0\nx,y", b"nan-nan,0"]


def raw_cases(client: RawClient) -> list[tuple[str, Callable[[], Answer]]]:
    """(label, request) of every raw-HTTP case; each must get a 4xx with an error code."""
    runtime = "/endpoints/" + ENDPOINT + "/invocations"
    cases: list[tuple[str, Callable[[], Answer]]] = [
        (
            "integral past int() digit limit",
            lambda: client.send("PUT", FS, put_body(with_value("num_trans", "9" * 5000))),
        ),
        (
            "integral of 20 digits",
            lambda: client.send("PUT", FS, put_body(with_value("num_trans", "1" * 20))),
        ),
        ("fractional inf", lambda: client.send("PUT", FS, put_body(with_value("avg_amt", "inf")))),
        (
            "event time past year 9999",
            lambda: client.send("PUT", FS, put_body(with_value("trans_time", "1e20"))),
        ),
        ("event time garbage", lambda: client.send("PUT", FS, put_body(with_value("trans_time", "soon")))),
        (
            "unknown feature",
            lambda: client.send("PUT", FS, put_body([*SENTINEL, {"FeatureName": "x", "ValueAsString": "1"}])),
        ),
        ("garbage json", lambda: client.send("PUT", FS, b"{not json")),
        ("record not a list", lambda: client.send("PUT", FS, {"Record": "sentinel"})),
        ("long group name", lambda: client.send("PUT", "/FeatureGroup/" + "g" * 65, put_body(SENTINEL))),
        (
            "delete at the stored event time (HardDelete)",
            lambda: client.send(
                "DELETE",
                FS + "?RecordIdentifierValueAsString=sentinel&EventTime=1000000.0&DeletionMode=HardDelete",
            ),
        ),
        (
            "non-loopback Host",
            lambda: client.send("PUT", FS, put_body(with_value("num_trans", "7")), {"Host": "evil.example"}),
        ),
        (
            "rebound Host with port",
            lambda: client.send(
                "PUT",
                FS,
                put_body(with_value("num_trans", "7")),
                {"Host": "attacker.example:" + str(client.port)},
            ),
        ),
        (
            "batch get past 100 ids",
            lambda: client.send(
                "POST",
                "/BatchGetRecord",
                {
                    "Identifiers": [
                        {
                            "FeatureGroupName": GROUP,
                            "RecordIdentifiersValueAsString": [str(i) for i in range(101)],
                        }
                    ]
                },
            ),
        ),
        (
            "bulk ingest garbage",
            lambda: client.send("POST", "/_fraudkit/bulk-ingest?FeatureGroupName=" + GROUP, b"\x00" * 64),
        ),
        ("unknown target", lambda: client.sagemaker("NoSuchOperation", {})),
        ("create with wrong types", lambda: client.sagemaker("CreateFeatureGroup", {"FeatureGroupName": 5})),
        (
            "update the guarded group's TTL past year 9999",
            lambda: client.sagemaker(
                "UpdateFeatureGroup",
                {"FeatureGroupName": GROUP, "OnlineStoreConfig": {"TtlDuration": BAD_TTLS[0]}},
            ),
        ),
        (
            "invoke unsupported Accept list",
            lambda: client.send(
                "POST", runtime, b"1,0", {"Content-Type": "text/csv", "Accept": "image/png, text/html"}
            ),
        ),
        (
            "invoke unsupported content type",
            lambda: client.send("POST", runtime, b"1,0", {"Content-Type": "image/png"}),
        ),
    ]
    for i, ttl in enumerate(BAD_TTLS):
        online = {"EnableOnlineStore": True, "TtlDuration": ttl}
        cases.append(
            (
                f"put TTL {i}",
                partial(client.send, "PUT", FS, put_body(with_value("num_trans", "8"), TtlDuration=ttl)),
            )
        )
        cases.append(
            (
                f"create TTL {i}",
                partial(
                    client.sagemaker,
                    "CreateFeatureGroup",
                    create_body(f"bad-ttl-{i}", OnlineStoreConfig=online),
                ),
            )
        )
    for i, uri in enumerate(ESCAPING_URIS):
        offline = {"OfflineStoreConfig": {"S3StorageConfig": {"S3Uri": uri}}, "RoleArn": OFFLINE["RoleArn"]}
        model = {"ModelName": f"bad-uri-{i}", "PrimaryContainer": {"Image": "xgboost", "ModelDataUrl": uri}}
        cases.append(
            (
                f"offline S3Uri {uri}",
                partial(client.sagemaker, "CreateFeatureGroup", create_body(f"bad-uri-{i}", **offline)),
            )
        )
        cases.append((f"ModelDataUrl {uri}", partial(client.sagemaker, "CreateModel", model)))
    for i, body in enumerate(CSV_BODIES):
        cases.append(
            (f"invoke csv {i}", partial(client.send, "POST", runtime, body, {"Content-Type": "text/csv"}))
        )
    return cases


def test_raw_http_corpus_gets_4xx_with_codes_and_changes_nothing(guarded: Settings) -> None:
    client = RawClient(guarded.emulator_port)
    before = stored_state(guarded)
    checked = []
    for label, send in raw_cases(client):
        answer = send()
        assert 400 <= answer.status < 500 and answer.error_code, (label, answer)
        checked.append(label)
    assert stored_state(guarded) == before
    assert len(checked) > 0


def test_model_errors_carry_the_containers_status_and_message(guarded: Settings) -> None:
    answer = RawClient(guarded.emulator_port).send(
        "POST", f"/endpoints/{ENDPOINT}/invocations", b"abc,1", {"Content-Type": "text/csv"}
    )
    assert (answer.status, answer.error_code) == (424, "ModelError")
    assert answer.json()["OriginalStatusCode"] == 400
    assert answer.json()["LogStreamArn"].endswith(f"log-group:/aws/sagemaker/Endpoints/{ENDPOINT}")


def unvalidated(settings: Settings, service: str) -> Any:
    return emulator_client(settings, service, Config(parameter_validation=False, retries={"max_attempts": 1}))


def boto3_cases(settings: Settings) -> list[tuple[str, Callable[[], Any]]]:
    sagemaker = unvalidated(settings, "sagemaker")
    runtime = unvalidated(settings, "sagemaker-featurestore-runtime")
    invoke = unvalidated(settings, "sagemaker-runtime")
    cases: list[tuple[str, Callable[[], Any]]] = [
        (
            "integral past int() digit limit",
            lambda: runtime.put_record(FeatureGroupName=GROUP, Record=with_value("num_trans", "9" * 5000)),
        ),
        (
            "delete at the stored event time",
            lambda: runtime.delete_record(
                FeatureGroupName=GROUP,
                RecordIdentifierValueAsString="sentinel",
                EventTime="1000000.0",
                DeletionMode="HardDelete",
            ),
        ),
        (
            "get with unknown feature",
            lambda: runtime.get_record(
                FeatureGroupName=GROUP, RecordIdentifierValueAsString="sentinel", FeatureNames=["nope"]
            ),
        ),
        ("batch write bad entry is an entry error", lambda: _batch_write_error(runtime)),
        (
            "non-numeric csv",
            lambda: invoke.invoke_endpoint(EndpointName=ENDPOINT, Body=b"abc,1", ContentType="text/csv"),
        ),
        (
            "bad accept list",
            lambda: invoke.invoke_endpoint(
                EndpointName=ENDPOINT, Body=b"1,0", ContentType="text/csv", Accept="image/png, text/html"
            ),
        ),
        (
            "unknown endpoint",
            lambda: invoke.invoke_endpoint(EndpointName="nope", Body=b"1,0", ContentType="text/csv"),
        ),
    ]
    for i, ttl in enumerate(BAD_TTLS):
        cases.append(
            (
                f"put TTL {i}",
                partial(
                    runtime.put_record,
                    FeatureGroupName=GROUP,
                    Record=with_value("num_trans", "8"),
                    TtlDuration=ttl,
                ),
            )
        )
    for i, uri in enumerate(ESCAPING_URIS):
        offline = {"OfflineStoreConfig": {"S3StorageConfig": {"S3Uri": uri}}, "RoleArn": OFFLINE["RoleArn"]}
        cases.append(
            (
                f"offline S3Uri {uri}",
                partial(sagemaker.create_feature_group, **create_body(f"bad-uri-{i}", **offline)),
            )
        )
        cases.append(
            (
                f"ModelDataUrl {uri}",
                partial(
                    sagemaker.create_model,
                    ModelName=f"bad-uri-{i}",
                    PrimaryContainer={"Image": "xgboost", "ModelDataUrl": uri},
                ),
            )
        )
    return cases


def _batch_write_error(runtime: Any) -> None:
    """BatchWriteRecord answers 200 with per-entry errors: raise them as a ClientError to check them alike."""
    answer = runtime.batch_write_record(
        Entries=[{"FeatureGroupName": GROUP, "Record": with_value("num_trans", "9" * 5000)}]
    )
    [error] = answer["Errors"]
    response = {
        "Error": {"Code": error["ErrorCode"], "Message": error["ErrorMessage"]},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    raise ClientError(cast(Any, response), "BatchWriteRecord")


def test_boto3_corpus_gets_client_errors_with_codes_and_changes_nothing(guarded: Settings) -> None:
    before = stored_state(guarded)
    checked = []
    for label, call in boto3_cases(guarded):
        with pytest.raises(ClientError) as caught:
            call()
        status = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
        assert 400 <= status < 500 and caught.value.response["Error"]["Code"], (label, caught.value.response)
        checked.append(label)
    assert stored_state(guarded) == before
    assert len(checked) > 0


def test_model_error_members_reach_boto3(guarded: Settings) -> None:
    with pytest.raises(ClientError) as caught:
        unvalidated(guarded, "sagemaker-runtime").invoke_endpoint(
            EndpointName=ENDPOINT, Body=b"x,1", ContentType="text/csv"
        )
    response: dict[str, Any] = dict(caught.value.response)
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("ModelError", 424)
    assert response["OriginalStatusCode"] == 400 and response["LogStreamArn"].startswith("arn:aws:logs:")
