"""Reading the AWS stack outputs: a clear stop naming what is missing, else typed outputs.

CloudFormation's answers come from botocore's Stubber, which validates each canned response against
the real DescribeStacks output shape.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from fraudkit.aws.stack import StackNotReady, StackOutputs, read_stack_outputs
from fraudkit.config import Settings

OUTPUT_VALUES = {
    "OfflineStoreBucket": "workshop-offline-store-123",
    "SageMakerRoleArn": "arn:aws:iam::123456789012:role/fraudkit-sagemaker",
    "MskClusterArn": "arn:aws:kafka:us-east-1:123456789012:cluster/fraudkit/0f1e2d3c-1",
}
SETTINGS = Settings(backend="aws", stack_name="fraudkit-test")


@pytest.fixture
def cloudformation() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _stack(status: str, outputs: dict[str, str]) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/fraudkit-test/0f1e2d3c",
                "StackName": "fraudkit-test",
                "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                "StackStatus": status,
                "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
            }
        ]
    }


def test_missing_stack_names_the_stack_and_how_to_deploy_it(cloudformation: tuple[Any, Stubber]) -> None:
    client, stubber = cloudformation
    stubber.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id fraudkit-test does not exist", 400,
        expected_params={"StackName": "fraudkit-test"},
    )
    with pytest.raises(StackNotReady, match=r"'fraudkit-test' in us-east-1, which does not exist.*cloudformation/"):
        read_stack_outputs(SETTINGS, client)


def test_stack_still_creating_is_not_ready(cloudformation: tuple[Any, Stubber]) -> None:
    client, stubber = cloudformation
    stubber.add_response("describe_stacks", _stack("CREATE_IN_PROGRESS", OUTPUT_VALUES))
    with pytest.raises(StackNotReady, match="is CREATE_IN_PROGRESS, not ready"):
        read_stack_outputs(SETTINGS, client)


def test_stack_without_an_output_names_the_missing_output(cloudformation: tuple[Any, Stubber]) -> None:
    client, stubber = cloudformation
    partial = {key: value for key, value in OUTPUT_VALUES.items() if key != "SageMakerRoleArn"}
    stubber.add_response("describe_stacks", _stack("CREATE_COMPLETE", partial))
    with pytest.raises(StackNotReady, match=r"^CloudFormation stack 'fraudkit-test' lacks the output\(s\) SageMakerRoleArn: "):
        read_stack_outputs(SETTINGS, client)


def test_outputs_are_typed(cloudformation: tuple[Any, Stubber]) -> None:
    client, stubber = cloudformation
    stubber.add_response("describe_stacks", _stack("UPDATE_COMPLETE", OUTPUT_VALUES), {"StackName": "fraudkit-test"})
    assert read_stack_outputs(SETTINGS, client) == StackOutputs(
        account_id="123456789012",
        bucket="workshop-offline-store-123",
        sagemaker_role_arn=OUTPUT_VALUES["SageMakerRoleArn"],
        msk_cluster_arn=OUTPUT_VALUES["MskClusterArn"],
    )


def test_the_kafka_outputs_are_optional_here(cloudformation: tuple[Any, Stubber]) -> None:
    """A local account's stack has no MSK cluster (moto cannot create one): its harness names the broker."""
    client, stubber = cloudformation
    outputs = {key: value for key, value in OUTPUT_VALUES.items() if key != "MskClusterArn"}
    stubber.add_response("describe_stacks", _stack("CREATE_COMPLETE", {**outputs, "MskBootstrapServers": "127.0.0.1:9092"}))
    found = read_stack_outputs(SETTINGS, client)
    assert (found.msk_cluster_arn, found.bootstrap_servers) == ("", "127.0.0.1:9092")


def test_missing_credentials_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # boto3's default session caches the credentials an earlier test's client resolved
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    with pytest.raises(StackNotReady, match=r"needs AWS credentials.*aws configure"):
        read_stack_outputs(SETTINGS)
