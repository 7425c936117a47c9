"""The emulator's models/endpoints handlers, called directly through the core seam (no HTTP)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fraudkit.emulator.endpoints  # noqa: F401  (registers the handlers)
import numpy as np
import pytest
import xgboost as xgb
from fraudkit.emulator.core import EmulatorState, RequestContext, handler_for
from fraudkit.emulator.exceptions import AwsError, ModelError
from fraudkit.model.artifact import tarball_bytes
from fraudkit.storage import local_object_path

ACCOUNT = "000000000000"


def call(state: EmulatorState, service: str, name: str, **params: Any) -> dict[str, Any]:
    handler = handler_for(service, name)
    assert handler is not None, f"{service}.{name} is not registered"
    return handler(RequestContext(service, name, state), params)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[EmulatorState]:
    emulator_state = EmulatorState(state_dir=tmp_path)
    yield emulator_state
    emulator_state.close()


@pytest.fixture
def model_uri(tmp_path: Path) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    booster = xgb.train({"objective": "binary:logistic", "seed": 0}, xgb.DMatrix(x, label=x[:, 0] > 0), 5)
    uri = "s3://fraudkit-offline-store/models/m/model.tar.gz"
    artifact = local_object_path(tmp_path / "emulator", uri)  # where the emulator resolves the URI
    artifact.parent.mkdir(parents=True)
    artifact.write_bytes(tarball_bytes(booster))
    return uri


def wait_status(state: EmulatorState, name: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        description = call(state, "sagemaker", "DescribeEndpoint", EndpointName=name)
        if description["EndpointStatus"] == wanted:
            return description
        time.sleep(0.02)
    raise AssertionError(f"endpoint {name} never reached {wanted}: {description}")


def deploy(state: EmulatorState, uri: str, name: str = "ep") -> None:
    call(state, "sagemaker", "CreateModel", ModelName=f"{name}-model",
         PrimaryContainer={"Image": "xgboost", "ModelDataUrl": uri})
    call(state, "sagemaker", "CreateEndpointConfig", EndpointConfigName=f"{name}-config",
         ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": f"{name}-model", "InitialInstanceCount": 1}])
    call(state, "sagemaker", "CreateEndpoint", EndpointName=name, EndpointConfigName=f"{name}-config")


def test_artifact_upload_lands_where_the_emulator_resolves_it(tmp_path: Path, model_uri: str) -> None:
    assert model_uri == "s3://fraudkit-offline-store/models/m/model.tar.gz"
    assert local_object_path(tmp_path / "emulator", model_uri).is_file()
    with pytest.raises(ValueError, match="escapes"):
        local_object_path(tmp_path / "emulator", "s3://bucket/../../etc/passwd")


def test_endpoint_goes_creating_then_in_service_and_serves(state: EmulatorState, model_uri: str) -> None:
    deploy(state, model_uri)
    first = call(state, "sagemaker", "DescribeEndpoint", EndpointName="ep")
    assert first["EndpointStatus"] == "Creating"
    assert first["EndpointArn"] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/ep"
    described = wait_status(state, "ep", "InService")
    assert described["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    answer = call(state, "sagemaker-runtime", "InvokeEndpoint", EndpointName="ep", Body=b"1,0\n-1,0",
                  ContentType="text/csv")
    high, low = (float(v) for v in answer["Body"].split(b"\n"))
    assert high > 0.5 > low


def test_invoke_errors_have_the_runtime_codes(state: EmulatorState, model_uri: str) -> None:
    with pytest.raises(AwsError) as caught:
        call(state, "sagemaker-runtime", "InvokeEndpoint", EndpointName="nope", Body=b"1,2", ContentType="text/csv")
    assert (caught.value.code_on("rest-json"), caught.value.status_on("rest-json")) == ("ValidationError", 400)
    assert f"Endpoint nope of account {ACCOUNT} not found" in caught.value.message
    deploy(state, model_uri)
    wait_status(state, "ep", "InService")
    with pytest.raises(AwsError) as caught:
        call(state, "sagemaker-runtime", "InvokeEndpoint", EndpointName="ep", Body=b"1,2,3", ContentType="text/csv")
    assert (caught.value.code, caught.value.status) == ("ModelError", 424)
    assert caught.value.fields()["OriginalStatusCode"] == 400
    assert "feature size of trained model 2" in caught.value.message


def test_control_plane_errors(state: EmulatorState, model_uri: str) -> None:
    with pytest.raises(AwsError, match=r'Could not find endpoint "arn:aws:sagemaker:us-east-1:0+:endpoint/x"'):
        call(state, "sagemaker", "DescribeEndpoint", EndpointName="x")
    with pytest.raises(AwsError, match="Could not find model"):
        call(state, "sagemaker", "CreateEndpointConfig", EndpointConfigName="c",
             ProductionVariants=[{"VariantName": "v", "ModelName": "missing"}])
    deploy(state, model_uri)
    with pytest.raises(AwsError, match="Cannot create already existing model"):
        call(state, "sagemaker", "CreateModel", ModelName="EP-MODEL", PrimaryContainer={"Image": "x"})
    with pytest.raises(AwsError, match="Cannot create already existing endpoint"):
        call(state, "sagemaker", "CreateEndpoint", EndpointName="ep", EndpointConfigName="ep-config")


def test_a_model_that_cannot_load_fails_the_endpoint_with_a_reason(state: EmulatorState) -> None:
    deploy(state, "s3://fraudkit-offline-store/absent/model.tar.gz")
    failed = wait_status(state, "ep", "Failed")
    assert "could not load the model" in failed["FailureReason"]


def test_state_survives_a_restart(tmp_path: Path, model_uri: str) -> None:
    first = EmulatorState(state_dir=tmp_path)
    deploy(first, model_uri)
    wait_status(first, "ep", "InService")
    first.close()
    second = EmulatorState(state_dir=tmp_path)
    try:
        assert call(second, "sagemaker", "DescribeEndpoint", EndpointName="ep")["EndpointStatus"] == "InService"
        answer = call(second, "sagemaker-runtime", "InvokeEndpoint", EndpointName="ep", Body=b"1,0")
        assert 0.0 <= float(answer["Body"]) <= 1.0
    finally:
        second.close()


def test_list_filters_sorts_and_pages(state: EmulatorState, model_uri: str) -> None:
    for name in ("alpha", "beta", "gamma"):
        deploy(state, model_uri, name)
    page = call(state, "sagemaker", "ListEndpoints", SortBy="Name", SortOrder="Ascending", MaxResults=2)
    assert [e["EndpointName"] for e in page["Endpoints"]] == ["alpha", "beta"]
    rest = call(state, "sagemaker", "ListEndpoints", SortBy="Name", SortOrder="Ascending", NextToken=page["NextToken"])
    assert [e["EndpointName"] for e in rest["Endpoints"]] == ["gamma"] and "NextToken" not in rest
    assert [e["EndpointName"] for e in call(state, "sagemaker", "ListEndpoints", NameContains="AMM")["Endpoints"]] == [
        "gamma"
    ]
    assert len(call(state, "sagemaker", "ListModels")["Models"]) == 3


def test_update_moves_to_the_new_config_and_delete_removes(state: EmulatorState, model_uri: str) -> None:
    deploy(state, model_uri)
    wait_status(state, "ep", "InService")
    deploy_second = dict(ModelName="m2", PrimaryContainer={"Image": "xgboost", "ModelDataUrl": model_uri})
    call(state, "sagemaker", "CreateModel", **deploy_second)
    call(state, "sagemaker", "CreateEndpointConfig", EndpointConfigName="c2",
         ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "m2"}])
    call(state, "sagemaker", "UpdateEndpoint", EndpointName="ep", EndpointConfigName="c2")
    assert call(state, "sagemaker", "DescribeEndpoint", EndpointName="ep")["EndpointStatus"] == "Updating"
    # still serving the old config while updating
    call(state, "sagemaker-runtime", "InvokeEndpoint", EndpointName="ep", Body=b"1,0")
    assert wait_status(state, "ep", "InService")["EndpointConfigName"] == "c2"
    call(state, "sagemaker", "DeleteEndpoint", EndpointName="ep")
    with pytest.raises(AwsError, match="Could not find endpoint"):
        call(state, "sagemaker", "DescribeEndpoint", EndpointName="ep")
    with pytest.raises(AwsError, match="not found"):
        call(state, "sagemaker-runtime", "InvokeEndpoint", EndpointName="ep", Body=b"1,0")


@pytest.mark.parametrize("body", [b"abc,1", b"1,2\nnan-ish,0", b"1,\xff"])
def test_non_numeric_csv_is_a_model_error_with_the_containers_status(
    state: EmulatorState, model_uri: str, body: bytes
) -> None:
    deploy(state, model_uri)
    wait_status(state, "ep", "InService")
    with pytest.raises(ModelError) as caught:
        call(state, "sagemaker-runtime", "InvokeEndpoint", EndpointName="ep", Body=body, ContentType="text/csv")
    assert caught.value.status_on("rest-json") == 424
    fields = caught.value.fields()
    assert fields["OriginalStatusCode"] == 400 and "number" in fields["OriginalMessage"]
    assert fields["LogStreamArn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/ep"


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("text/csv, application/json", "text/csv"),
        ("application/json, text/csv", "application/json"),
        ("image/png, application/json;q=0.9", "application/json"),
        ("*/*", "text/csv"),
        (None, "text/csv"),
    ],
)
def test_accept_lists_get_their_first_supported_type(
    state: EmulatorState, model_uri: str, accept: str | None, content_type: str
) -> None:
    deploy(state, model_uri)
    wait_status(state, "ep", "InService")
    extra = {} if accept is None else {"Accept": accept}
    answer = call(state, "sagemaker-runtime", "InvokeEndpoint", EndpointName="ep", Body=b"1,0", ContentType="text/csv",
                  **extra)
    assert answer["ContentType"] == content_type
    with pytest.raises(ModelError) as caught:
        call(state, "sagemaker-runtime", "InvokeEndpoint", EndpointName="ep", Body=b"1,0", Accept="image/png, text/html")
    assert caught.value.fields()["OriginalStatusCode"] == 406


def test_an_endpoint_deleted_while_its_model_loads_serves_nothing(
    state: EmulatorState, model_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = state.backend("endpoints")
    loading, release = threading.Event(), threading.Event()
    real_load = registry.load_booster

    def slow_load(config_name: str) -> xgb.Booster:
        loading.set()
        assert release.wait(10)
        return real_load(config_name)

    monkeypatch.setattr(registry, "load_booster", slow_load)
    deploy(state, model_uri)
    assert loading.wait(10)
    call(state, "sagemaker", "DeleteEndpoint", EndpointName="ep")
    release.set()
    for thread in registry._activations:
        thread.join(10)
    monkeypatch.undo()
    assert registry.serving_booster("ep") is None
    with pytest.raises(AwsError, match="not found"):
        call(state, "sagemaker-runtime", "InvokeEndpoint", EndpointName="ep", Body=b"1,0", ContentType="text/csv")


def test_model_data_urls_outside_s3_rules_are_refused_at_create_model(state: EmulatorState) -> None:
    with pytest.raises(AwsError) as caught:
        call(state, "sagemaker", "CreateModel", ModelName="m",
             PrimaryContainer={"Image": "xgboost", "ModelDataUrl": "s3://../endpoints.sqlite3"})
    assert caught.value.code == "ValidationException"
    with pytest.raises(AwsError, match="Could not find model"):
        call(state, "sagemaker", "DescribeModel", ModelName="m")
