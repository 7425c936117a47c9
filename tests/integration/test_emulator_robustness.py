"""Bad input never gets a 500 or loses data; restarts and concurrent writers keep every record; the AWS CLI works."""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import polars as pl
import pytest
from botocore.exceptions import ClientError
from fraudkit.config import Settings
from fraudkit.emulator import launcher
from fraudkit.featurestore import flush_local, wait_for_status
from fraudkit.featurestore.ingest import bulk_ingest_local
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.emulator import feature_group_request
from tests.integration.test_featurestore_runtime import all_record_ids, as_dict, offline_rows, record

pytestmark = pytest.mark.integration
SENTINEL = record("sentinel", 42, 4.2, 10_000_000_000)
HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def call_status(call: Any) -> tuple[int, str]:
    """(HTTP status, error code or "") of a boto3 call."""
    try:
        response = call()
    except ClientError as err:
        return err.response["ResponseMetadata"]["HTTPStatusCode"], err.response["Error"]["Code"]
    return response["ResponseMetadata"]["HTTPStatusCode"], ""


@pytest.fixture(scope="module")
def guarded_group(emulator: Settings) -> str:
    """A group holding a sentinel record that no bad request may change."""
    name = "guarded-group"
    emulator.client("sagemaker").create_feature_group(
        FeatureGroupName=name,
        RecordIdentifierFeatureName="cc_num",
        EventTimeFeatureName="trans_time",
        FeatureDefinitions=[
            {"FeatureName": "cc_num", "FeatureType": "String"},
            {"FeatureName": "num_trans", "FeatureType": "Integral"},
            {"FeatureName": "avg_amt", "FeatureType": "Fractional"},
            {"FeatureName": "trans_time", "FeatureType": "Fractional"},
        ],
        OnlineStoreConfig={"EnableOnlineStore": True},
    )
    wait_for_status(emulator, name, "Created", timeout=10)
    emulator.client("sagemaker-featurestore-runtime").put_record(FeatureGroupName=name, Record=SENTINEL)
    return name


def assert_sentinel_intact(settings_: Settings, name: str) -> None:
    got = settings_.client("sagemaker-featurestore-runtime").get_record(FeatureGroupName=name, RecordIdentifierValueAsString="sentinel")
    assert as_dict(got) == {f["FeatureName"]: f["ValueAsString"] for f in SENTINEL}


wire_values = st.one_of(st.text(max_size=30), st.integers(), st.floats(allow_nan=False), st.none(), st.booleans())
feature_values = st.fixed_dictionaries(
    {"FeatureName": st.one_of(st.sampled_from(["cc_num", "num_trans", "avg_amt", "trans_time"]), st.text(max_size=70))},
    optional={"ValueAsString": wire_values, "ValueAsStringList": st.lists(st.text(max_size=5), max_size=3)},
)


@HYPOTHESIS
@given(bad_record=st.lists(feature_values, max_size=6), group=st.one_of(st.just("guarded-group"), st.text(max_size=80)))
def test_random_put_records_are_4xx_or_stored_never_500(emulator, guarded_group, unvalidated_client, bad_record, group) -> None:
    client = unvalidated_client("sagemaker-featurestore-runtime")
    status, code = call_status(lambda: client.put_record(FeatureGroupName=group, Record=bad_record))
    assert status in (200, 400, 404), (status, code)
    if status == 400:
        assert code in ("ValidationError", "SerializationException", "UnknownOperationException")
    if status == 404:
        assert code in ("ResourceNotFound", "UnknownOperationException")
    assert_sentinel_intact(emulator, guarded_group)


@HYPOTHESIS
@given(
    identifiers=st.lists(
        st.fixed_dictionaries(
            {
                "FeatureGroupName": st.one_of(st.just("guarded-group"), st.text(max_size=20)),
                "RecordIdentifiersValueAsString": st.lists(st.text(max_size=10), max_size=120),
            },
            optional={"FeatureNames": st.lists(st.text(max_size=10), max_size=3)},
        ),
        max_size=3,
    )
)
def test_random_batch_gets_are_4xx_or_200(emulator, guarded_group, unvalidated_client, identifiers) -> None:
    client = unvalidated_client("sagemaker-featurestore-runtime")
    status, code = call_status(lambda: client.batch_get_record(Identifiers=identifiers))
    total = sum(len(i["RecordIdentifiersValueAsString"]) for i in identifiers)
    if not identifiers or total > 100 or any(not i["RecordIdentifiersValueAsString"] for i in identifiers):
        assert (status, code) == (400, "ValidationError")
    else:
        assert status in (200, 400), (status, code)


@HYPOTHESIS
@given(
    name=st.text(max_size=80),
    definitions=st.lists(
        st.fixed_dictionaries(
            {"FeatureName": st.text(max_size=10), "FeatureType": st.sampled_from(["Integral", "Fractional", "String", "Bad"])}
        ),
        max_size=4,
    ),
    record_id=st.text(max_size=10),
    event_time=st.text(max_size=10),
)
def test_random_create_requests_are_validated(emulator, unvalidated_client, name, definitions, record_id, event_time) -> None:
    client = unvalidated_client("sagemaker")
    status, code = call_status(
        lambda: client.create_feature_group(
            FeatureGroupName=name,
            RecordIdentifierFeatureName=record_id,
            EventTimeFeatureName=event_time,
            FeatureDefinitions=definitions,
            OnlineStoreConfig={"EnableOnlineStore": True},
        )
    )
    assert status in (200, 400), (status, code)
    if status == 400:
        assert code in ("ValidationException", "ResourceInUse", "SerializationException")
    else:  # accepted: then it really satisfies the documented rules
        names = [d["FeatureName"] for d in definitions]
        types = {d["FeatureName"]: d["FeatureType"] for d in definitions}
        assert record_id in names and types.get(event_time) in ("String", "Fractional")
        assert not {"is_deleted", "write_time", "api_invocation_time"} & {n.lower() for n in names}


@HYPOTHESIS
@given(body=st.binary(max_size=200), method=st.sampled_from(["PUT", "POST", "GET", "DELETE"]),
       path=st.sampled_from(["/FeatureGroup/guarded-group", "/BatchGetRecord", "/BatchWriteRecord", "/nowhere", "/"]),
       target=st.sampled_from([None, "SageMaker.CreateFeatureGroup", "SageMaker.NoSuchThing", "Other.Thing"]))
def test_garbage_http_requests_get_4xx(emulator, guarded_group, body, method, path, target) -> None:
    url = urlparse(emulator.emulator_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    headers = {"Content-Type": "application/json"} | ({"X-Amz-Target": target} if target else {})
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    assert 200 <= response.status < 500, (response.status, payload[:200])
    if response.status >= 400:
        assert response.getheader("x-amzn-ErrorType")
        assert json.loads(payload)["__type"] == response.getheader("x-amzn-ErrorType")
    assert_sentinel_intact(emulator, guarded_group)


def test_unknown_operations_answer_like_aws(emulator) -> None:
    url = urlparse(emulator.emulator_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    connection.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "SageMaker.DoesNotExist"})
    response = connection.getresponse()
    assert (response.status, response.getheader("x-amzn-ErrorType")) == (400, "UnknownOperationException")
    response.read()
    connection.close()


def test_concurrent_writers_lose_nothing_and_newest_event_time_wins(emulator, new_feature_group, runtime_client, sagemaker_client) -> None:
    name = new_feature_group()
    event_times = list(range(1, 201))
    random.Random(7).shuffle(event_times)
    shares = [event_times[i::8] for i in range(8)]

    def writer(times: list[int]) -> None:
        client = emulator.client("sagemaker-featurestore-runtime")
        for t in times:
            client.put_record(FeatureGroupName=name, Record=record("shared", t, float(t), t))
            client.put_record(FeatureGroupName=name, Record=record(f"own-{t}", t, float(t), t))

    threads = [threading.Thread(target=writer, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert as_dict(runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="shared"))["num_trans"] == "200"
    assert len(all_record_ids(runtime_client, name, page_size=100)) == 201
    history = offline_rows(emulator, sagemaker_client, name)
    assert history.height == 400
    assert sorted(history.filter(history["cc_num"] == "shared")["num_trans"].to_list()) == list(range(1, 201))


def test_records_survive_a_restart(tmp_path: Path) -> None:
    record_ = launcher.start(tmp_path, port=0)
    settings_ = Settings.load(backend="local", state_dir=tmp_path, emulator_port=record_["port"])
    try:
        sagemaker = settings_.client("sagemaker")
        sagemaker.create_feature_group(
            FeatureGroupName="durable",
            RecordIdentifierFeatureName="cc_num",
            EventTimeFeatureName="trans_time",
            FeatureDefinitions=[{"FeatureName": "cc_num", "FeatureType": "String"}, {"FeatureName": "trans_time", "FeatureType": "Fractional"}],
            OnlineStoreConfig={"EnableOnlineStore": True},
            OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://test-bucket/p"}},
            RoleArn="arn:aws:iam::000000000000:role/r",
        )
        wait_for_status(settings_, "durable", "Created", timeout=10)
        runtime = settings_.client("sagemaker-featurestore-runtime")
        for i in range(50):
            runtime.put_record(
                FeatureGroupName="durable",
                Record=[{"FeatureName": "cc_num", "ValueAsString": str(i)}, {"FeatureName": "trans_time", "ValueAsString": str(i)}],
            )
    finally:
        assert launcher.stop(tmp_path)
    assert launcher.status(tmp_path) is None
    record_ = launcher.start(tmp_path, port=0)
    settings_ = Settings.load(backend="local", state_dir=tmp_path, emulator_port=record_["port"])
    try:
        runtime = settings_.client("sagemaker-featurestore-runtime")
        got = runtime.get_record(FeatureGroupName="durable", RecordIdentifierValueAsString="49")
        assert as_dict(got) == {"cc_num": "49", "trans_time": "49"}
        assert len(runtime.list_records(FeatureGroupName="durable", MaxResults=100)["RecordIdentifiers"]) == 50
        assert settings_.client("sagemaker").describe_feature_group(FeatureGroupName="durable")["FeatureGroupStatus"] == "Created"
        flush_local(settings_)
        assert offline_rows(settings_, settings_.client("sagemaker"), "durable").height == 50  # flushed on shutdown
    finally:
        launcher.stop(tmp_path)


def test_aws_cli_puts_and_gets_records(emulator, new_feature_group) -> None:
    name = new_feature_group()
    aws = shutil.which("aws", path=str(Path(sys.executable).parent)) or "aws"
    env = {**os.environ, **emulator.endpoint_env()}
    put = [aws, "sagemaker-featurestore-runtime", "put-record", "--feature-group-name", name, "--record",
           json.dumps(record("cli", 3, 1.5, 77))]
    subprocess.run(put, env=env, check=True, capture_output=True, timeout=60)
    get = [aws, "sagemaker-featurestore-runtime", "get-record", "--feature-group-name", name,
           "--record-identifier-value-as-string", "cli", "--output", "json"]
    shown = json.loads(subprocess.run(get, env=env, check=True, capture_output=True, timeout=60).stdout)
    assert as_dict(shown)["num_trans"] == "3"
    absent = [aws, "sagemaker-featurestore-runtime", "get-record", "--feature-group-name", "absent-fg",
              "--record-identifier-value-as-string", "cli"]
    missing = subprocess.run(absent, env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "ResourceNotFound" in missing.stderr


def test_acknowledged_writes_reach_the_offline_store_after_a_crash(tmp_path: Path) -> None:
    record_ = launcher.start(tmp_path, port=0)
    settings_ = Settings.load(backend="local", state_dir=tmp_path, emulator_port=record_["port"])
    sagemaker = settings_.client("sagemaker")
    sagemaker.create_feature_group(**feature_group_request(
        "crashy", OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://test-bucket/p"}}, RoleArn="arn:aws:iam::000000000000:role/r"
    ))
    wait_for_status(settings_, "crashy", "Created", timeout=10)
    runtime = settings_.client("sagemaker-featurestore-runtime")
    for i in range(20):
        runtime.put_record(FeatureGroupName="crashy", Record=record(str(i), i, 1.0, i))
    for start in (20, 25):  # small bulk writes (a stream's batches) are queued as frames, not written at once
        bulk = pl.DataFrame({"cc_num": [str(i) for i in range(start, start + 5)], "num_trans": list(range(start, start + 5)),
                             "avg_amt": [1.0] * 5, "trans_time": [float(i) for i in range(start, start + 5)]})
        bulk_ingest_local(settings_, "crashy", bulk, quiet=True)
    os.kill(record_["pid"], signal.SIGKILL)  # no shutdown flush: queued offline rows must survive anyway
    record_ = launcher.start(tmp_path, port=0)
    settings_ = Settings.load(backend="local", state_dir=tmp_path, emulator_port=record_["port"])
    try:
        history = offline_rows(settings_, settings_.client("sagemaker"), "crashy")
        assert sorted(history["num_trans"].to_list()) == list(range(30))
        assert as_dict(settings_.client("sagemaker-featurestore-runtime").get_record(
            FeatureGroupName="crashy", RecordIdentifierValueAsString="29"))["avg_amt"] == "1.0"
    finally:
        launcher.stop(tmp_path)


@HYPOTHESIS
@given(
    token=st.one_of(st.none(), st.text(max_size=40)),
    max_results=st.one_of(st.none(), st.integers(-5, 300)),
    event_time=st.text(max_size=30),
    mode=st.one_of(st.none(), st.sampled_from(["SoftDelete", "HardDelete", "Obliterate"])),
    features=st.lists(feature_values, max_size=3),
)
def test_random_list_delete_and_update_calls_never_fail_the_server(
    emulator, guarded_group, unvalidated_client, token, max_results, event_time, mode, features
) -> None:
    client = unvalidated_client("sagemaker-featurestore-runtime")
    control = unvalidated_client("sagemaker")
    paging = {k: v for k, v in {"NextToken": token, "MaxResults": max_results}.items() if v is not None}
    deletion = {"DeletionMode": mode} if mode else {}
    calls = [
        lambda: client.list_records(FeatureGroupName=guarded_group, **paging),
        lambda: control.list_feature_groups(**paging),
        lambda: client.delete_record(FeatureGroupName=guarded_group, RecordIdentifierValueAsString="other", EventTime=event_time, **deletion),
        lambda: client.update_record(FeatureGroupName=guarded_group, RecordIdentifierValueAsString="sentinel", Features=features),
    ]
    for call in calls:
        status, code = call_status(call)
        assert status < 500, (status, code)
    assert_sentinel_intact(emulator, guarded_group)


def raw_exchange(settings_: Settings, request: bytes) -> str:
    """Send bytes as they are and read what comes back until the server closes or goes quiet."""
    url = urlparse(settings_.emulator_url)
    with socket.create_connection((url.hostname, url.port), timeout=2) as raw:
        raw.sendall(request)
        answer = b""
        try:
            while chunk := raw.recv(4096):
                answer += chunk
        except TimeoutError:
            pass
    return answer.decode("utf-8", "replace")


@pytest.mark.parametrize("length", ["-5", "ten", "1e3", "\u00b2"])  # the last is a digit to str.isdigit
def test_bad_content_length_is_400(emulator, length) -> None:
    header = f"Content-Length: {length}".encode("latin-1")  # how http.server decodes header bytes
    answer = raw_exchange(emulator, b"PUT /FeatureGroup/x HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + b"\r\n\r\n{}")
    assert answer.startswith("HTTP/1.1 400") and "SerializationException" in answer


def test_chunked_bodies_are_refused_with_411(emulator) -> None:
    chunked = b"PUT /FeatureGroup/x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    answer = raw_exchange(emulator, chunked)
    assert answer.startswith("HTTP/1.1 411") and answer.count("HTTP/1.1") == 1, "the chunks are not read as a request"


def test_head_answers_carry_no_body(emulator) -> None:
    pipelined = b"HEAD /_fraudkit/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /_fraudkit/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    head, _, rest = raw_exchange(emulator, pipelined).partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 ") and rest.startswith("HTTP/1.1 200"), "the next answer follows the HEAD's headers"


def test_concurrent_partial_updates_of_one_record_lose_nothing(emulator, new_feature_group, runtime_client) -> None:
    features = [f"f{k}" for k in range(6)]
    name = new_feature_group(
        FeatureDefinitions=[
            {"FeatureName": "cc_num", "FeatureType": "String"},
            {"FeatureName": "trans_time", "FeatureType": "Fractional"},
            *({"FeatureName": f, "FeatureType": "Integral"} for f in features),
        ],
        OnlineStoreConfig={"EnableOnlineStore": True, "StorageType": "Standard_V2"},
    )
    start = [{"FeatureName": "cc_num", "ValueAsString": "c"}, {"FeatureName": "trans_time", "ValueAsString": "1"}]
    runtime_client.put_record(FeatureGroupName=name, Record=[*start, *({"FeatureName": f, "ValueAsString": "0"} for f in features)])

    def updater(feature: str) -> None:
        client = emulator.client("sagemaker-featurestore-runtime")
        for value in range(1, 16):
            client.update_record(FeatureGroupName=name, RecordIdentifierValueAsString="c",
                                 Features=[{"FeatureName": feature, "ValueAsString": str(value)}])

    threads = [threading.Thread(target=updater, args=(f,)) for f in features]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = as_dict(runtime_client.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="c"))
    assert {f: final[f] for f in features} == dict.fromkeys(features, "15")


def test_a_known_path_with_another_method_is_405_an_unknown_path_404(emulator) -> None:
    wrong_method = raw_exchange(emulator, b"PATCH /FeatureGroup/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
    unknown_path = raw_exchange(emulator, b"GET /no/such/route HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
    assert wrong_method.startswith("HTTP/1.1 405") and "UnknownOperationException" in wrong_method
    assert unknown_path.startswith("HTTP/1.1 404") and "UnknownOperationException" in unknown_path
