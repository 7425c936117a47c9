"""Deploy a `model.tar.gz` as a SageMaker endpoint and score rows with it, the same code on both backends.

Names carry the artifact's digest (`<model_name>-<digest>`, `<endpoint_name>-<digest>` for the config),
so a retrained model is a new model and config and the endpoint moves to it with UpdateEndpoint.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from fraudkit.config import Settings
from fraudkit.storage import MODEL_ARTIFACT_PREFIX

INSTANCE_TYPE = "ml.m5.large"


class DeploymentError(RuntimeError):
    """The endpoint did not reach InService; the message carries SageMaker's FailureReason."""


def artifact_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _is_already_existing(error: ClientError) -> bool:
    return "already existing" in error.response.get("Error", {}).get("Message", "")


def describe_endpoint(settings: Settings, endpoint_name: str | None = None) -> dict[str, Any] | None:
    """DescribeEndpoint, or None when the endpoint does not exist."""
    try:
        response: dict[str, Any] = settings.client("sagemaker").describe_endpoint(
            EndpointName=endpoint_name or settings.endpoint_name
        )
    except ClientError as error:
        if "Could not find endpoint" in error.response.get("Error", {}).get("Message", ""):
            return None
        raise
    return response


def wait_for_endpoint(settings: Settings, endpoint_name: str, timeout: float | None = None) -> dict[str, Any]:
    """Poll until the endpoint is InService; DeploymentError when it fails or time runs out."""
    poll, default_timeout = settings.provider.endpoint_poll
    deadline = time.monotonic() + (timeout or default_timeout)
    while True:
        description = describe_endpoint(settings, endpoint_name)
        if description is None:
            raise DeploymentError(f"endpoint {endpoint_name} disappeared while deploying")
        status = description["EndpointStatus"]
        if status == "InService":
            return description
        if status == "Failed":
            raise DeploymentError(f"endpoint {endpoint_name} failed: {description.get('FailureReason', '')}")
        if time.monotonic() > deadline:
            raise DeploymentError(f"endpoint {endpoint_name} still {status} after {timeout or default_timeout} s")
        time.sleep(poll)


def _delete_failed_endpoint(settings: Settings, endpoint_name: str) -> None:
    """A Failed endpoint cannot be updated: delete it and wait until it is gone."""
    settings.client("sagemaker").delete_endpoint(EndpointName=endpoint_name)
    poll, timeout = settings.provider.endpoint_poll
    deadline = time.monotonic() + timeout
    while describe_endpoint(settings, endpoint_name) is not None:
        if time.monotonic() > deadline:
            raise DeploymentError(f"failed endpoint {endpoint_name} still deleting after {timeout} s")
        time.sleep(poll)


def deploy(settings: Settings, artifact: Path, endpoint_name: str | None = None) -> str:
    """Upload `artifact` to the backend's bucket, create its model (the backend's image and role) and
    endpoint config, create or update the endpoint, wait."""
    backend = settings.provider
    endpoint_name = endpoint_name or settings.endpoint_name
    digest = artifact_digest(artifact)
    uri = backend.upload_artifact(artifact, key=f"{MODEL_ARTIFACT_PREFIX}{settings.scale}/{digest}/model.tar.gz")
    sagemaker = settings.client("sagemaker")
    model_name, config_name = f"{settings.model_name}-{digest}", f"{endpoint_name}-{digest}"
    try:
        sagemaker.create_model(
            ModelName=model_name,
            PrimaryContainer={"Image": backend.endpoint_image(), "ModelDataUrl": uri},
            ExecutionRoleArn=backend.role_arn,
        )
    except ClientError as error:
        if not _is_already_existing(error):
            raise
    try:
        sagemaker.create_endpoint_config(
            EndpointConfigName=config_name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model_name,
                    "InitialInstanceCount": 1,
                    "InstanceType": INSTANCE_TYPE,
                    "InitialVariantWeight": 1.0,
                }
            ],
        )
    except ClientError as error:
        if not _is_already_existing(error):
            raise
    current = describe_endpoint(settings, endpoint_name)
    if current is not None and current["EndpointStatus"] == "Failed":
        _delete_failed_endpoint(settings, endpoint_name)
        current = None
    if current is None:
        sagemaker.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name)
    elif current["EndpointConfigName"] != config_name:
        if current["EndpointStatus"] != "InService":
            wait_for_endpoint(settings, endpoint_name)
        sagemaker.update_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name)
    description = wait_for_endpoint(settings, endpoint_name)
    if description["EndpointConfigName"] != config_name:
        raise DeploymentError(f"endpoint {endpoint_name} rolled back: {description.get('FailureReason', '')}")
    return endpoint_name


def undeploy(settings: Settings, endpoint_name: str | None = None) -> bool:
    """Delete the endpoint, its endpoint config and their model; False when there was no endpoint."""
    endpoint_name = endpoint_name or settings.endpoint_name
    current = describe_endpoint(settings, endpoint_name)
    if current is None:
        return False
    sagemaker = settings.client("sagemaker")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=current["EndpointConfigName"])
    sagemaker.delete_endpoint(EndpointName=endpoint_name)
    sagemaker.delete_endpoint_config(EndpointConfigName=config["EndpointConfigName"])
    for variant in config["ProductionVariants"]:
        sagemaker.delete_model(ModelName=variant["ModelName"])
    return True


def rows_to_csv(rows: np.ndarray) -> bytes:
    """Rows as the built-in container's `text/csv` input: no header, one line per row."""
    return "\n".join(",".join(map(repr, row)) for row in np.asarray(rows, dtype=np.float64).tolist()).encode()


def invoke_rows(settings: Settings, rows: np.ndarray, endpoint_name: str | None = None, runtime: Any = None) -> np.ndarray:
    """Scores of `rows` (shape rows x features, CARD_MODEL_FEATURES order for the card model)."""
    runtime = runtime or settings.client("sagemaker-runtime")
    response = runtime.invoke_endpoint(
        EndpointName=endpoint_name or settings.endpoint_name,
        ContentType="text/csv",
        Accept="text/csv",
        Body=rows_to_csv(rows),
    )
    return np.array(response["Body"].read().split(b"\n"), dtype=np.float64)
