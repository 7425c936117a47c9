"""The kit's librdkafka clients (the stages' producers, the warehouse's bulk reads and writes) connect the way its
kafka-python clients do."""

from __future__ import annotations

import base64
import time
from urllib.parse import parse_qs, urlparse

import pytest
from fraudkit.backends.aws import MskIamTokenProvider
from fraudkit.streaming.kafka_clients import librdkafka_config


def test_loopback_plaintext_is_only_the_servers() -> None:
    config = librdkafka_config({"bootstrap_servers": ["127.0.0.1:9092", "127.0.0.1:9093"]})
    assert config == {"bootstrap.servers": "127.0.0.1:9092,127.0.0.1:9093"}


def test_msk_iam_over_tls_signs_a_token_for_librdkafka(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "fraudkit-test-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fraudkit-test-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    config = librdkafka_config({
        "bootstrap_servers": ["b-1.msk.example:9098"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "OAUTHBEARER",
        "sasl_oauth_token_provider": MskIamTokenProvider("eu-west-1"),
    })
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanisms"] == "OAUTHBEARER"
    token, expiry = config["oauth_cb"]("ignored")
    assert time.time() < expiry < time.time() + 3600
    # the token is MSK's signed kafka-cluster:Connect URL, for this region and these credentials
    url = urlparse(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    assert url.hostname == "kafka.eu-west-1.amazonaws.com"
    query = parse_qs(url.query)
    assert query["Action"] == ["kafka-cluster:Connect"]
    assert query["X-Amz-Credential"][0].startswith("fraudkit-test-key-id/")
