"""Models and endpoints over HTTP: boto3 against the real emulator process on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError
from fraudkit.config import Settings
from fraudkit.model import (
    DeploymentError,
    deploy,
    describe_endpoint,
    invoke_rows,
    undeploy,
    wait_for_endpoint,
)
from fraudkit.model.artifact import tarball_bytes

pytestmark = pytest.mark.integration


def artifact(path: Path, rounds: int) -> Path:
    rng = np.random.default_rng(rounds)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    booster = xgb.train({"objective": "binary:logistic", "seed": 0}, xgb.DMatrix(x, label=x[:, 0] > 0), rounds)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tarball_bytes(booster))
    return path


@pytest.fixture
def endpoint(emulator: Settings, tmp_path: Path) -> str:
    name = deploy(emulator, artifact(tmp_path / "a" / "model.tar.gz", 5), endpoint_name="http-test")
    yield name
    undeploy(emulator, name)


def test_deploy_reaches_in_service_with_real_arns(emulator: Settings, endpoint: str) -> None:
    description = describe_endpoint(emulator, endpoint)
    assert description is not None and description["EndpointStatus"] == "InService"
    assert description["EndpointArn"] == "arn:aws:sagemaker:us-east-1:000000000000:endpoint/http-test"
    names = [e["EndpointName"] for e in boto3.client("sagemaker").list_endpoints()["Endpoints"]]
    assert endpoint in names


def test_plain_boto3_invoke_csv_and_json(endpoint: str) -> None:
    runtime = boto3.client("sagemaker-runtime")  # reaches the emulator through AWS_ENDPOINT_URL_* only
    csv = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=b"2,0,0,0\n-2,0,0,0")
    assert csv["ContentType"] == "text/csv"
    high, low = (float(v) for v in csv["Body"].read().split(b"\n"))
    assert high > 0.5 > low
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Accept="application/json",
        Body=json.dumps({"instances": [{"features": [2, 0, 0, 0]}]}),
    )
    assert json.loads(answer["Body"].read())["predictions"][0]["score"] == pytest.approx(high, rel=1e-6)


def test_invoke_errors_are_client_errors_with_aws_codes(endpoint: str) -> None:
    runtime = boto3.client("sagemaker-runtime")
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", ContentType="text/csv", Body=b"1,2,3,4")
    error = caught.value.response
    assert error["Error"]["Code"] == "ValidationError" and error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "no-such-endpoint" in error["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=b"1,2,3")
    error = caught.value.response
    assert error["Error"]["Code"] == "ModelError" and error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert "feature size of trained model 4" in error["Error"]["Message"]


def test_redeploy_moves_the_endpoint_to_the_new_model(emulator: Settings, endpoint: str, tmp_path: Path) -> None:
    rows = np.array([[0.3, 1.0, -1.0, 0.5]])
    before = invoke_rows(emulator, rows, endpoint)
    deploy(emulator, artifact(tmp_path / "b" / "model.tar.gz", 20), endpoint_name=endpoint)
    after = invoke_rows(emulator, rows, endpoint)
    assert not np.allclose(before, after)
    description = describe_endpoint(emulator, endpoint)
    assert description is not None and description["EndpointStatus"] == "InService"


def test_undeploy_removes_endpoint_config_and_model(emulator: Settings, tmp_path: Path) -> None:
    name = deploy(emulator, artifact(tmp_path / "c" / "model.tar.gz", 3), endpoint_name="short-lived")
    config = describe_endpoint(emulator, name)["EndpointConfigName"]  # type: ignore[index]
    assert undeploy(emulator, name)
    assert describe_endpoint(emulator, name) is None
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        emulator.client("sagemaker").describe_endpoint_config(EndpointConfigName=config)
    assert not undeploy(emulator, name)


def test_a_failed_endpoint_is_replaced_by_the_next_deploy(emulator: Settings, tmp_path: Path) -> None:
    sagemaker = emulator.client("sagemaker")
    sagemaker.create_model(ModelName="broken", PrimaryContainer={"Image": "xgboost", "ModelDataUrl": "s3://test-bucket/none.tar.gz"})
    sagemaker.create_endpoint_config(
        EndpointConfigName="broken-config", ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "broken"}]
    )
    sagemaker.create_endpoint(EndpointName="phoenix", EndpointConfigName="broken-config")
    with pytest.raises(DeploymentError, match="could not load the model"):
        wait_for_endpoint(emulator, "phoenix")
    deploy(emulator, artifact(tmp_path / "d" / "model.tar.gz", 4), endpoint_name="phoenix")
    assert invoke_rows(emulator, np.zeros((1, 4)), "phoenix").shape == (1,)
    undeploy(emulator, "phoenix")
