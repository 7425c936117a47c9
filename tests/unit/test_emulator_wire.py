"""The model-driven wire layer: routing, parsing and validation by shape, serialisation, errors."""

from __future__ import annotations

import datetime as dt
import sys
import threading
from pathlib import Path
from typing import Any

import botocore.session
import orjson
import pytest
from fraudkit.emulator.core import EmulatorState
from fraudkit.emulator.exceptions import AwsError, ModelError, ResourceNotFound, ValidationException
from fraudkit.emulator.wire import (
    KNOWN_VALID_COUNT,
    HttpRequest,
    WireApp,
    error_response,
    json_targets,
    parse_json_request,
    parse_rest_request,
    parser_for,
    rest_routes,
    serialize_json_response,
    serialize_rest_response,
    service_model,
)


def request(method: str, path: str, body: object = b"", query: dict[str, list[str]] | None = None,
            headers: dict[str, str] | None = None) -> HttpRequest:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return HttpRequest(method, path, query or {}, headers or {}, raw)


def route(method: str, path: str) -> tuple[str, str, dict[str, str]]:
    for candidate in rest_routes():
        match = candidate.pattern.match(path)
        if match and candidate.method == method:
            return candidate.service, candidate.operation.name, match.groupdict()
    raise LookupError(path)


def runtime_op(name: str):
    return service_model("sagemaker-featurestore-runtime").operation_model(name)


def test_rest_routes_follow_the_models_request_uris() -> None:
    assert route("GET", "/FeatureGroup/fg") == ("sagemaker-featurestore-runtime", "GetRecord", {"FeatureGroupName": "fg"})
    assert route("PUT", "/FeatureGroup/fg")[1] == "PutRecord"
    assert route("DELETE", "/FeatureGroup/fg")[1] == "DeleteRecord"
    assert route("POST", "/FeatureGroup/fg/ListRecords")[1] == "ListRecords"
    assert route("POST", "/FeatureGroup/fg/Record")[1] == "UpdateRecord"
    assert route("POST", "/BatchGetRecord")[1] == "BatchGetRecord"
    assert route("POST", "/endpoints/my-endpoint/invocations")[:2] == ("sagemaker-runtime", "InvokeEndpoint")
    assert json_targets()["SageMaker.CreateFeatureGroup"][1].name == "CreateFeatureGroup"


def test_every_runtime_operation_of_the_model_is_routable() -> None:
    model = service_model("sagemaker-featurestore-runtime")
    routed = {r.operation.name for r in rest_routes() if r.service == "sagemaker-featurestore-runtime"}
    assert routed == set(model.operation_names)
    assert len(routed) == 7


def test_rest_parse_takes_uri_query_and_body_members() -> None:
    params = parse_rest_request(
        runtime_op("GetRecord"),
        request("GET", "/FeatureGroup/arn%3Aaws%3Asagemaker%3Aus-east-1%3A000000000000%3Afeature-group%2Ffg",
                query={"RecordIdentifierValueAsString": ["42"], "FeatureName": ["a", "b"], "ExpirationTimeResponse": ["Enabled"]}),
        {"FeatureGroupName": "arn%3Aaws%3Asagemaker%3Aus-east-1%3A000000000000%3Afeature-group%2Ffg"},
    )
    assert params == {
        "FeatureGroupName": "arn:aws:sagemaker:us-east-1:000000000000:feature-group/fg",
        "RecordIdentifierValueAsString": "42",
        "FeatureNames": ["a", "b"],
        "ExpirationTimeResponse": "Enabled",
    }
    put = parse_rest_request(
        runtime_op("PutRecord"),
        request("PUT", "/FeatureGroup/fg", {"Record": [{"FeatureName": "a", "ValueAsString": "1"}], "Extra": 1}),
        {"FeatureGroupName": "fg"},
    )
    assert put == {"FeatureGroupName": "fg", "Record": [{"FeatureName": "a", "ValueAsString": "1"}]}


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ({}, "ValidationException", "'record' failed to satisfy constraint: Member must not be null"),
        ({"Record": []}, "ValidationException", "length greater than or equal to 1"),
        ({"Record": [{"FeatureName": "bad name", "ValueAsString": "1"}]}, "ValidationException", "regular expression"),
        ({"Record": [{"ValueAsString": "1"}]}, "ValidationException", "'record.1.featureName'"),
        ({"Record": [{"FeatureName": "a"}], "TargetStores": ["Elsewhere"]}, "ValidationException", "enum value set"),
        ({"Record": [{"FeatureName": "a"}], "TtlDuration": {"Unit": "Days", "Value": 0}}, "ValidationException", "greater than or equal to 1"),
        ({"Record": "not a list"}, "SerializationException", "Expected a list"),
        ({"Record": [{"FeatureName": 5}]}, "SerializationException", "Expected a string"),
        (b"{not json", "SerializationException", "not valid JSON"),
        (b"[1, 2]", "SerializationException", "JSON object"),
    ],
)
def test_rest_parse_enforces_the_shapes_constraints(body, code, fragment) -> None:
    with pytest.raises(AwsError) as caught:
        parse_rest_request(runtime_op("PutRecord"), request("PUT", "/FeatureGroup/fg", body), {"FeatureGroupName": "fg"})
    assert caught.value.code == code
    assert fragment in caught.value.message


def test_validation_memo_of_valid_strings_never_accepts_an_invalid_one() -> None:
    """Valid feature names are remembered per shape; invalid ones and non-strings are still checked every time."""
    op = runtime_op("PutRecord")

    def put(names: list[object]) -> dict:
        body = {"Record": [{"FeatureName": n, "ValueAsString": "1"} for n in names]}
        return parse_rest_request(op, request("PUT", "/FeatureGroup/fg", body), {"FeatureGroupName": "fg"})

    many_valid = [f"f{i}" for i in range(KNOWN_VALID_COUNT + 50)]  # more than the memo holds
    assert [r["FeatureName"] for r in put(many_valid)["Record"]] == many_valid
    for _ in range(2):  # the second round meets the same values after the first memoised what it could
        with pytest.raises(AwsError) as caught:
            put(["f1", "bad name", "f1-", "x" * 65])
        assert caught.value.message.startswith("3 validation errors detected:")
        assert "'record.2.featureName'" in caught.value.message
        with pytest.raises(AwsError, match="Expected a string"):
            put(["f1", ["f1"]])
    assert put(many_valid[-1:])["Record"] == [{"FeatureName": many_valid[-1], "ValueAsString": "1"}]


def test_json_parse_counts_every_violation_and_converts_timestamps() -> None:
    op = service_model("sagemaker").operation_model("ListFeatureGroups")
    with pytest.raises(AwsError) as caught:
        parse_json_request(op, request("POST", "/", {"MaxResults": 0, "SortOrder": "Sideways"}))
    assert caught.value.message.startswith("2 validation errors detected:")
    parsed = parse_json_request(op, request("POST", "/", {"CreationTimeAfter": 1700000000}))
    assert parsed["CreationTimeAfter"] == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)


def test_json_serialisation_encodes_timestamps_and_drops_unset_members() -> None:
    op = service_model("sagemaker").operation_model("DescribeFeatureMetadata")
    created = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    response = serialize_json_response(
        op, {"FeatureGroupName": "fg", "CreationTime": created, "LastModifiedTime": 1.5, "Description": None, "Bogus": 1}, "id"
    )
    assert orjson.loads(response.body) == {"FeatureGroupName": "fg", "CreationTime": 1704067200.0, "LastModifiedTime": 1.5}
    assert ("Content-Type", "application/x-amz-json-1.1") in response.headers


def test_rest_serialisation_of_payload_blobs_and_header_members() -> None:
    op = service_model("sagemaker-runtime").operation_model("InvokeEndpoint")
    response = serialize_rest_response(op, {"Body": b"0.25\n0.75", "ContentType": "text/csv", "InvokedProductionVariant": "v1"}, "id")
    assert response.body == b"0.25\n0.75"
    assert ("Content-Type", "text/csv") in response.headers
    assert ("x-Amzn-Invoked-Production-Variant", "v1") in response.headers


def test_errors_take_the_code_and_status_of_the_requests_plane() -> None:
    runtime_missing = error_response("sagemaker-featurestore-runtime", ResourceNotFound("gone"), "id")
    assert runtime_missing.status == 404  # the runtime model says 404
    assert ("x-amzn-ErrorType", "ResourceNotFound") in runtime_missing.headers
    control_missing = error_response("sagemaker", ResourceNotFound("gone"), "id")
    assert control_missing.status == 400
    invalid = error_response("sagemaker-featurestore-runtime", ValidationException("bad"), "id")
    assert orjson.loads(invalid.body)["__type"] == "ValidationError"  # the runtime's name for it
    assert error_response("sagemaker", ValidationException("bad"), "id").headers[-1][1] == "ValidationException"
    model_error = ModelError("failed", original_status=400, original_message="bad row", log_stream_arn="arn:x")
    answered = error_response("sagemaker-runtime", model_error, "id")
    assert answered.status == 424
    assert orjson.loads(answered.body)["OriginalStatusCode"] == 400  # members of the ModelError shape


def test_iso_timestamps_without_a_zone_are_utc() -> None:
    op = service_model("sagemaker").operation_model("ListFeatureGroups")
    parsed = parse_json_request(op, request("POST", "/", {"CreationTimeAfter": "2023-11-14T22:13:20"}))
    assert parsed["CreationTimeAfter"] == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)


def test_threads_compiling_the_same_shapes_at_once_all_get_working_parsers() -> None:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, as a busy server does, so an unsafe build shows
    results: list[object] = []
    try:
        compile_concurrently(results)
    finally:
        sys.setswitchinterval(previous)
    assert all(isinstance(result, list) and result for result in results), [r for r in results if not isinstance(r, list)][:3]


def compile_concurrently(results: list[object]) -> None:
    """Eight threads at once compile and use the input parsers of fresh copies of three shapes, six times."""
    for _ in range(6):
        # a fresh copy of the model: its shapes are not compiled yet, as on a server's first requests
        model = botocore.session.get_session().get_service_model("sagemaker")
        for operation in ("CreateModel", "CreateEndpointConfig", "CreateFeatureGroup"):
            shape = model.operation_model(operation).input_shape
            start = threading.Barrier(8)

            def compile_and_parse(shape: object = shape, start: threading.Barrier = start) -> None:
                start.wait()
                try:
                    errors: list[str] = []
                    parser_for(shape)({}, "", errors)  # type: ignore[arg-type]
                    results.append(errors)
                except BaseException as error:  # the failure is the finding
                    results.append(error)

            threads = [threading.Thread(target=compile_and_parse) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()


@pytest.mark.parametrize("host", ["localhost", "localhost:4580", "127.0.0.1:4580", "127.3.4.5", "[::1]", "[::1]:80"])
def test_loopback_hosts_are_served(tmp_path: Path, host: str) -> None:
    app = WireApp(EmulatorState(tmp_path))
    answer = app(request("GET", "/no/such/route", headers={"host": host}))
    assert answer.status == 404  # routed: past the Host check


@pytest.mark.parametrize("host", [None, "", "evil.example", "127.0.0.1.nip.io", "localhost.evil.example:4580",
                                  "0.0.0.0", "10.0.0.1:4580", "[::2]", "127.0.0.1:x", "::1"])
def test_requests_for_other_hosts_are_refused_before_routing(tmp_path: Path, host: str | None) -> None:
    """DNS rebinding: a web page reaching 127.0.0.1 through its own name sends that name as Host."""
    app = WireApp(EmulatorState(tmp_path))
    headers = {} if host is None else {"host": host}
    answer = app(request("POST", "/", {"FeatureGroupName": "x"}, headers={**headers, "x-amz-target": "SageMaker.DeleteFeatureGroup"}))
    assert answer.status == 403
    assert ("x-amzn-ErrorType", "AccessForbidden") in answer.headers


@pytest.mark.parametrize(("value", "accepted"), [(2**31 - 1, True), (2**31, False), (-(2**31) - 1, False)])
def test_integers_past_the_java_types_are_serialization_errors(value: int, accepted: bool) -> None:
    """TtlDuration.Value is a Java int on the service: a larger number cannot reach the Feature Store."""
    op = service_model("sagemaker-featurestore-runtime").operation_model("PutRecord")
    body = {"Record": [{"FeatureName": "a", "ValueAsString": "1"}], "TtlDuration": {"Unit": "Seconds", "Value": value}}

    def parse() -> dict[str, Any]:
        return parse_rest_request(op, request("PUT", "/FeatureGroup/fg", body), {"FeatureGroupName": "fg"})

    if accepted:
        assert parse()["TtlDuration"]["Value"] == value
        return
    with pytest.raises(AwsError) as caught:
        parse()
    assert caught.value.code == "SerializationException"
