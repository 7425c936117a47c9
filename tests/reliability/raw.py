"""Raw HTTP to the emulator on 127.0.0.1 (http.client), plus the fixtures' shared groups and endpoint.

Raw requests reach the server exactly as written (no client-side validation, any header or body), so
the reliability suites can assert the status and AWS error code of anything a caller might send.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import xgboost as xgb
from botocore.config import Config
from fraudkit.config import Settings
from fraudkit.featurestore import wait_for_status
from fraudkit.model import deploy
from fraudkit.model.artifact import tarball_bytes

SAGEMAKER_TARGET = "SageMaker."
DEFINITIONS = [
    {"FeatureName": "cc_num", "FeatureType": "String"},
    {"FeatureName": "num_trans", "FeatureType": "Integral"},
    {"FeatureName": "avg_amt", "FeatureType": "Fractional"},
    {"FeatureName": "trans_time", "FeatureType": "Fractional"},
]
OFFLINE = {
    "OfflineStoreConfig": {"S3StorageConfig": {"S3Uri": "s3://reliability-bucket/offline"}},
    "RoleArn": "arn:aws:iam::000000000000:role/reliability",
}


@dataclass
class Answer:
    status: int
    error_code: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}


class RawClient:
    """One request per connection to 127.0.0.1:`port`, Host 127.0.0.1 unless given."""

    def __init__(self, port: int) -> None:
        self.port = port

    def send(
        self, method: str, path: str, body: bytes | str | object = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        raw = (
            body
            if isinstance(body, bytes)
            else body.encode()
            if isinstance(body, str)
            else json.dumps(body).encode()
        )
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in {
                "Host": "127.0.0.1",
                "Content-Length": str(len(raw)),
                **(headers or {}),
            }.items():
                connection.putheader(name, value)
            connection.endheaders(raw)
            response = connection.getresponse()
            return Answer(response.status, response.getheader("x-amzn-ErrorType") or "", response.read())
        finally:
            connection.close()

    def sagemaker(self, operation: str, body: object, headers: dict[str, str] | None = None) -> Answer:
        """A call of the JSON control plane (X-Amz-Target)."""
        return self.send(
            "POST",
            "/",
            body,
            {
                "X-Amz-Target": SAGEMAKER_TARGET + operation,
                "Content-Type": "application/x-amz-json-1.1",
                **(headers or {}),
            },
        )


def create_group(settings: Settings, name: str, **extra: Any) -> str:
    settings.client("sagemaker").create_feature_group(
        FeatureGroupName=name,
        RecordIdentifierFeatureName="cc_num",
        EventTimeFeatureName="trans_time",
        FeatureDefinitions=DEFINITIONS,
        OnlineStoreConfig={"EnableOnlineStore": True},
        **extra,
    )
    wait_for_status(settings, name, "Created", timeout=10)
    return name


def wire_record(cc: str, num: int, avg: float, at: float) -> list[dict[str, str]]:
    values = {"cc_num": cc, "num_trans": str(num), "avg_amt": str(avg), "trans_time": str(at)}
    return [{"FeatureName": k, "ValueAsString": v} for k, v in values.items()]


def deployed_endpoint(settings: Settings, workdir: Path, name: str) -> str:
    """A two-feature XGBoost model served by endpoint `name` (InService when this returns)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    booster = xgb.train({"objective": "binary:logistic", "seed": 0}, xgb.DMatrix(x, label=x[:, 0] > 0), 5)
    artifact = workdir / name / "model.tar.gz"
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_bytes(tarball_bytes(booster))
    return deploy(settings, artifact, endpoint_name=name)


def emulator_client(settings: Settings, service: str, config: Config) -> Any:
    """A boto3 client of the emulator with a client config of the test's own (retries, validation)."""
    env = settings.endpoint_env()
    return boto3.client(
        service,
        endpoint_url=settings.emulator_url,
        region_name=settings.region,  # type: ignore[call-overload]
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        config=config,
    )
