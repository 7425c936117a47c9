"""fraudkit.aws.recorder: operations named from raw requests by botocore's service models, and a proxy that
forwards unchanged while it records."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from fraudkit.aws.recorder import UNKNOWN, CallLog, OperationReader, RecordingProxies


@pytest.mark.parametrize(
    ("method", "target", "headers", "expected"),
    [
        ("GET", "/bucket?list-type=2&prefix=a", {}, ("ListObjectsV2", {"Bucket": "bucket"})),
        ("GET", "/bucket?versions", {}, ("ListObjectVersions", {"Bucket": "bucket"})),
        ("POST", "/bucket?delete", {}, ("DeleteObjects", {"Bucket": "bucket"})),
        ("PUT", "/bucket/fraudkit/models/a%20b.tar.gz", {}, ("PutObject", {"Bucket": "bucket", "Key": "fraudkit/models/a b.tar.gz"})),
        ("PUT", "/bucket/k", {"x-amz-copy-source": "/other/k"}, ("CopyObject", {"Bucket": "bucket", "Key": "k"})),
        ("HEAD", "/bucket/k", {}, ("HeadObject", {"Bucket": "bucket", "Key": "k"})),
        ("GET", "/", {}, ("ListBuckets", {})),
        ("PATCH", "/bucket", {}, (UNKNOWN, {})),
    ],
)
def test_s3_operations_from_method_path_query_and_headers(
    method: str, target: str, headers: dict[str, str], expected: tuple[str, dict[str, str]]
) -> None:
    assert OperationReader("s3").read(method, target, headers, b"") == expected


def test_json_query_and_rest_json_operations() -> None:
    body = json.dumps({"FeatureGroupName": "cc-agg-fg", "RoleArn": "arn:aws:iam::1:role/r", "Long": "x" * 300})
    assert OperationReader("sagemaker").read(
        "POST", "/", {"x-amz-target": "SageMaker.CreateFeatureGroup"}, body.encode()
    ) == ("CreateFeatureGroup", {"FeatureGroupName": "cc-agg-fg", "RoleArn": "arn:aws:iam::1:role/r"})
    form = b"Action=DescribeStacks&Version=2010-05-15&StackName=fraudkit&Parameters.member.1.ParameterKey=a"
    assert OperationReader("cloudformation").read("POST", "/", {}, form) == ("DescribeStacks", {"StackName": "fraudkit"})
    runtime = OperationReader("sagemaker-featurestore-runtime")
    assert runtime.read("PUT", "/FeatureGroup/cc-agg-fg", {"content-type": "application/json"}, b'{"Record": []}') == (
        "PutRecord",
        {"FeatureGroupName": "cc-agg-fg"},
    )


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        reply = json.dumps({"echo": json.loads(body), "target": self.headers["X-Amz-Target"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_proxy_forwards_unchanged_and_records_each_call_with_its_phase(upstream: str) -> None:
    log = CallLog()
    proxies = RecordingProxies({"glue": upstream}, log)
    try:
        glue = boto3.client(
            "glue", region_name="us-east-1", endpoint_url=proxies.urls["glue"],
            aws_access_key_id="a", aws_secret_access_key="b",
        )  # fmt: skip
        log.phase = "one"
        for _ in range(3):
            glue.delete_table(DatabaseName="db", Name="t")
        log.phase = "two"
        glue.get_databases()
    finally:
        proxies.close()
    assert log.compacted() == [
        {"service": "glue", "operation": "DeleteTable", "status": 200, "params": {"DatabaseName": "db", "Name": "t"},
         "phase": "one", "count": 3},
        {"service": "glue", "operation": "GetDatabases", "status": 200, "params": {}, "phase": "two", "count": 1},
    ]  # fmt: skip
