"""`serve --s3-endpoint`: the emulator as SageMaker in an account, its S3 objects in moto's server.

A real moto server on loopback holds the bucket; the real emulator process reads model artifacts and
writes the offline store through its S3 API, and nothing lands in the emulator's own files.
"""

from __future__ import annotations

import io
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import polars as pl
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError
from fraudkit.config import Settings
from fraudkit.emulator import launcher
from fraudkit.featurestore import wait_for_status
from fraudkit.model.artifact import tarball_bytes
from moto.server import ThreadedMotoServer

from tests.fixtures.emulator import feature_group_request

pytestmark = pytest.mark.integration
BUCKET = "fraudkit-local-account"
ACCOUNT, REGION = "000000000000", "us-east-1"
# the documented offline-store key layout, one Parquet object per event-time hour and flush
OFFLINE_KEY = re.compile(
    rf"offline/{ACCOUNT}/sagemaker/{REGION}/offline-store/(?P<group>.+)-\d+/data/"
    r"year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2}/[^/]+\.parquet"
)


def moto_server(port: int = 0) -> ThreadedMotoServer:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def stop_moto(server: ThreadedMotoServer) -> None:
    """Stop serving and release the port (`stop` alone leaves the socket bound and accepting)."""
    server.stop()
    server._server.server_close()  # type: ignore[union-attr]


def moto_url(server: ThreadedMotoServer) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not true after {timeout:.0f} s")
        time.sleep(0.1)


class Account:
    """A moto S3 server and the emulator serving with `--s3-endpoint` pointed at it."""

    def __init__(self, moto: ThreadedMotoServer, settings: Settings) -> None:
        self.moto = moto
        self.settings = settings
        self.s3 = boto3.client("s3", endpoint_url=moto_url(moto), region_name=REGION)
        self.sagemaker = settings.client("sagemaker")
        self.runtime = settings.client("sagemaker-featurestore-runtime")

    def offline_objects(self, group: str) -> dict[str, bytes]:
        """The group's Parquet objects in moto's bucket, by key."""
        prefix = self.sagemaker.describe_feature_group(FeatureGroupName=group)["OfflineStoreConfig"][
            "S3StorageConfig"
        ]["ResolvedOutputS3Uri"].removeprefix(f"s3://{BUCKET}/")
        return self.objects(prefix)

    def objects(self, prefix: str) -> dict[str, bytes]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return {o["Key"]: self.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(
                f"{self.settings.emulator_url}/_fraudkit/health", timeout=5
            ) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def new_group(self) -> str:
        name = f"fg-{uuid.uuid4().hex[:10]}"
        self.sagemaker.create_feature_group(
            **feature_group_request(
                name,
                OfflineStoreConfig={"S3StorageConfig": {"S3Uri": f"s3://{BUCKET}/offline"}},
                RoleArn=f"arn:aws:iam::{ACCOUNT}:role/test",
            )
        )
        wait_for_status(self.settings, name, "Created", timeout=10)
        return name


@pytest.fixture
def account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "moto",
        "AWS_SECRET_ACCESS_KEY": "moto",  # pragma: allowlist secret (moto takes any)
        "AWS_DEFAULT_REGION": REGION,
    }.items():  # the emulator process inherits them: moto accepts any credentials
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FRAUDKIT_EMULATOR_URL", raising=False)
    moto = moto_server()
    try:
        boto3.client("s3", endpoint_url=moto_url(moto), region_name=REGION).create_bucket(Bucket=BUCKET)
        record = launcher.start(tmp_path, port=0, s3_endpoint=moto_url(moto))
        try:
            settings = Settings.load(backend="local", state_dir=tmp_path, emulator_port=record["port"])
            yield Account(moto, settings)
            assert not list((tmp_path / "emulator" / "s3").rglob("*")), "objects written as local files"
        finally:
            launcher.stop(tmp_path)
    finally:
        stop_moto(moto)


def model_tarball() -> bytes:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    booster = xgb.train({"objective": "binary:logistic", "seed": 0}, xgb.DMatrix(x, label=x[:, 0] > 0), 5)
    return tarball_bytes(booster)


def create_model(account: Account, name: str, model_data_url: str) -> None:
    account.sagemaker.create_model(
        ModelName=name, PrimaryContainer={"Image": "xgboost", "ModelDataUrl": model_data_url}
    )


def serve(account: Account, name: str) -> dict[str, Any]:
    """CreateEndpointConfig and CreateEndpoint for the model `name`; the endpoint once it leaves Creating."""
    account.sagemaker.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name}]
    )
    account.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)

    def settled() -> dict[str, Any] | None:
        described: dict[str, Any] = account.sagemaker.describe_endpoint(EndpointName=name)
        return None if described["EndpointStatus"] == "Creating" else described

    result: dict[str, Any] = wait_until(settled, 30, f"endpoint {name} is Creating")
    return result


def test_an_endpoint_serves_the_model_uploaded_to_s3(account: Account) -> None:
    account.s3.put_object(Bucket=BUCKET, Key="models/m1/model.tar.gz", Body=model_tarball())
    create_model(account, "s3-served", f"s3://{BUCKET}/models/m1/model.tar.gz")
    endpoint = serve(account, "s3-served")
    assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
    answer = account.settings.client("sagemaker-runtime").invoke_endpoint(
        EndpointName="s3-served", ContentType="text/csv", Body=b"2,0,0,0\n-2,0,0,0"
    )
    high, low = (float(v) for v in answer["Body"].read().split(b"\n"))
    assert high > 0.5 > low


@pytest.mark.parametrize(
    "url", [f"s3://{BUCKET}/models/none/model.tar.gz", "s3://no-such-bucket/models/model.tar.gz"]
)
def test_create_model_refuses_a_missing_artifact_as_sagemaker_does(account: Account, url: str) -> None:
    with pytest.raises(ClientError) as caught:
        create_model(account, "missing", url)
    error = caught.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"] == f"Could not find model data at {url}."
    assert not account.sagemaker.list_models()["Models"]


def test_an_artifact_gone_before_activation_fails_the_endpoint_with_sagemakers_reason(
    account: Account,
) -> None:
    url = f"s3://{BUCKET}/models/gone/model.tar.gz"
    account.s3.put_object(Bucket=BUCKET, Key="models/gone/model.tar.gz", Body=model_tarball())
    create_model(account, "gone", url)
    account.s3.delete_object(Bucket=BUCKET, Key="models/gone/model.tar.gz")
    endpoint = serve(account, "gone")
    assert endpoint["EndpointStatus"] == "Failed"
    assert endpoint["FailureReason"].startswith(
        f'Failed to download model data for container "container_1" from URL: "{url}".'
    )


def put(account: Account, group: str, card: str, num_trans: int, event_time: float) -> None:
    account.runtime.put_record(
        FeatureGroupName=group,
        Record=[
            {"FeatureName": "cc_num", "ValueAsString": card},
            {"FeatureName": "num_trans", "ValueAsString": str(num_trans)},
            {"FeatureName": "avg_amt", "ValueAsString": "12.5"},
            {"FeatureName": "trans_time", "ValueAsString": str(event_time)},
        ],
    )


def offline_table(objects: dict[str, bytes]) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(io.BytesIO(body)) for body in objects.values()])


def test_put_record_rows_arrive_as_parquet_objects_in_the_documented_layout(account: Account) -> None:
    group = account.new_group()
    put(account, group, "card-1", 1, 1_700_000_000.0)
    put(account, group, "card-1", 2, 1_700_003_600.0)  # the next hour: another partition
    account.runtime.delete_record(
        FeatureGroupName=group, RecordIdentifierValueAsString="card-1", EventTime="1700007200"
    )
    objects = wait_until(
        lambda: (found := account.offline_objects(group)) and offline_table(found).height == 3 and found,
        30,
        "the offline rows are not in the bucket",
    )
    for key in objects:
        match = OFFLINE_KEY.fullmatch(key)
        assert match is not None and match["group"] == group, key
    partitions = {key.split("/data/")[1].rsplit("/", 1)[0] for key in objects}
    assert partitions == {  # 2023-11-14T22:13:20Z, an hour later, and the delete two hours later
        "year=2023/month=11/day=14/hour=22",
        "year=2023/month=11/day=14/hour=23",
        "year=2023/month=11/day=15/hour=00",
    }
    table = offline_table(objects).sort("trans_time")
    assert {"write_time", "api_invocation_time", "is_deleted"} <= set(table.columns)
    assert table["num_trans"].to_list()[:2] == [1, 2]
    assert table["is_deleted"].to_list() == [False, False, True]


def test_delete_feature_group_leaves_the_offline_objects_as_aws_does(account: Account) -> None:
    group = account.new_group()
    put(account, group, "card-2", 1, 1_700_000_000.0)
    prefix = account.sagemaker.describe_feature_group(FeatureGroupName=group)["OfflineStoreConfig"][
        "S3StorageConfig"
    ]["ResolvedOutputS3Uri"].removeprefix(f"s3://{BUCKET}/")
    before = wait_until(lambda: account.objects(prefix), 30, "the offline row is not in the bucket")
    account.sagemaker.delete_feature_group(FeatureGroupName=group)
    wait_for_status(account.settings, group, None, timeout=10)
    assert account.objects(prefix) == before  # "Data written into the OfflineStore will not be deleted."


def test_a_flush_failing_while_s3_is_down_is_reported_and_the_rows_arrive_once_it_is_back(
    account: Account,
) -> None:
    group = account.new_group()
    port = account.moto.get_host_and_port()[1]
    stop_moto(account.moto)
    put(account, group, "card-3", 7, 1_700_000_000.0)  # queued durably; the flush cannot write it

    def reported() -> str:
        status, body = account.health()
        return " ".join(body.get("reasons", [])) if status == 503 else ""

    reason = wait_until(reported, 30, "health does not report the failing flushes")
    assert "offline store" in reason and "flushes failed" in reason
    account.moto = moto_server(port)  # moto keeps its state in this process: the bucket is back
    objects = wait_until(lambda: account.offline_objects(group), 60, "the row never arrived")
    rows = offline_table(objects)
    assert rows["cc_num"].to_list() == ["card-3"] and rows["num_trans"].to_list() == [7]
    assert wait_until(lambda: account.health()[0] == 200, 30, "health still reports the flushes")
