"""`make deploy`'s last step on AWS: the Managed Flink aggregator, once the MSK cluster can name its brokers.

S3 is moto's; DescribeStacks and GetBootstrapBrokers (which moto lacks) are pinned with botocore's Stubber.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from fraudkit.aws import deploy
from fraudkit.aws.package import sha256_of
from fraudkit.config import Settings
from moto import mock_aws

CLUSTER = "arn:aws:kafka:us-east-1:123456789012:cluster/fk-msk/5b7c-2"
BROKERS = "b-1.fk.kafka.us-east-1.amazonaws.com:9098,b-2.fk.kafka.us-east-1.amazonaws.com:9098"


def _describe(outputs: dict[str, str]) -> dict[str, object]:
    stack = {
        "StackName": "fk", "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/fk/1",
        "StackStatus": "CREATE_COMPLETE", "CreationTime": datetime.datetime(2026, 11, 28),
        "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
    }
    return {"Stacks": [stack]}


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[deploy.Stacks, Any]]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="fk-artifacts")
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        kafka = boto3.client("kafka", region_name="us-east-1")
        stacks = deploy.Stacks(Settings.load(backend="aws", stack_name="fk"), cloudformation, s3)
        yield stacks, kafka


def test_the_app_is_uploaded_and_named_with_the_clusters_iam_brokers(clients: tuple[deploy.Stacks, Any], tmp_path: Path) -> None:
    stacks, kafka = clients
    app = tmp_path / "fraudkit-flink-app.zip"
    app.write_bytes(b"PK\x05\x06" + bytes(18))
    with Stubber(stacks.cloudformation) as cloudformation, Stubber(kafka) as brokers:
        cloudformation.add_response("describe_stacks", _describe({"MskClusterArn": CLUSTER}), {"StackName": "fk"})
        brokers.add_response("get_bootstrap_brokers", {"BootstrapBrokerStringSaslIam": BROKERS},
                             {"ClusterArn": CLUSTER})
        parameters = deploy.flink_parameters(stacks, kafka, "fk-artifacts", app, say=print)
    key = f"flink/fraudkit-flink-app-{sha256_of(app)[:16]}.zip"
    assert parameters == {"FlinkAppKey": key, "FlinkBootstrapServers": BROKERS}
    assert stacks.s3.get_object(Bucket="fk-artifacts", Key=key)["Body"].read() == app.read_bytes()


def test_without_the_zip_the_aggregator_is_left_out_and_the_user_told_how(clients: tuple[deploy.Stacks, Any], tmp_path: Path) -> None:
    stacks, kafka = clients
    said: list[str] = []
    with Stubber(stacks.cloudformation) as cloudformation, Stubber(kafka):
        cloudformation.add_response("describe_stacks", _describe({"MskClusterArn": CLUSTER}), {"StackName": "fk"})
        assert deploy.flink_parameters(stacks, kafka, "fk-artifacts", tmp_path / "absent.zip", said.append) == {}
    assert len(said) == 1 and "make package" in said[0] and "--stage aggregator" in said[0]
    assert stacks.s3.list_objects_v2(Bucket="fk-artifacts").get("KeyCount") == 0


def test_the_local_account_without_msk_has_no_flink_step(clients: tuple[deploy.Stacks, Any], tmp_path: Path) -> None:
    stacks, kafka = clients
    app = tmp_path / "fraudkit-flink-app.zip"
    app.write_bytes(b"zip")
    said: list[str] = []
    with Stubber(stacks.cloudformation) as cloudformation, Stubber(kafka):  # no kafka call expected
        cloudformation.add_response("describe_stacks", _describe({"OfflineStoreBucket": "b"}), {"StackName": "fk"})
        assert deploy.flink_parameters(stacks, kafka, "fk-artifacts", app, said.append) == {}
    assert said == []
