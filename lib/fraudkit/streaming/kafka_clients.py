"""Kafka clients configured for the backend: plaintext loopback locally, MSK with IAM auth on AWS.

This is the one place where the streaming code differs between backends (as `Settings.client` is
for the AWS APIs): on `aws`, MSK's IAM authentication is SASL OAUTHBEARER over TLS with a token
signed by `aws-msk-iam-sasl-signer`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.net.sasl.oauth import AbstractTokenProvider

from fraudkit.config import Settings


class MskIamTokenProvider(AbstractTokenProvider):
    """SASL OAUTHBEARER tokens for MSK, signed with the default AWS credentials of the region."""

    def __init__(self, region: str) -> None:
        super().__init__()
        self.region = region

    def token(self) -> str:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

        token, _expiry_ms = MSKAuthTokenProvider.generate_auth_token(self.region)
        return str(token)


def client_config(settings: Settings) -> dict[str, Any]:
    """Connection settings shared by every producer, consumer and admin client of the kit."""
    config: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap_servers.split(",")}
    if settings.backend == "aws":
        config.update(
            security_protocol="SASL_SSL",
            sasl_mechanism="OAUTHBEARER",
            sasl_oauth_token_provider=MskIamTokenProvider(settings.region),
        )
    return config


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """A producer that keeps each partition in send order (one request in flight) and waits for acks."""
    options: dict[str, Any] = {"acks": "all", "linger_ms": 2, "max_in_flight_requests_per_connection": 1}
    options.update(overrides)
    return KafkaProducer(**client_config(settings), **options)


def make_consumer(settings: Settings, **overrides: Any) -> KafkaConsumer:
    """A consumer without group management: callers assign partitions and track offsets themselves."""
    options: dict[str, Any] = {"enable_auto_commit": False, "group_id": None, "auto_offset_reset": "earliest"}
    if settings.backend == "local":
        # kafka-python checks CRCs in pure Python (a third of a stage's CPU); loopback needs no check
        options["check_crcs"] = False
    options.update(overrides)
    return KafkaConsumer(**client_config(settings), **options)


def partitions_of(consumer: KafkaConsumer, topic: str, timeout_s: float = 10.0) -> list[TopicPartition]:
    """The topic's partitions, waiting briefly for metadata (raises if the topic does not exist)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        if time.monotonic() > deadline:
            raise LookupError(f"Kafka topic {topic!r} does not exist: create it with create_topics(settings)")
        time.sleep(0.1)


def drain(consumer: KafkaConsumer, idle_ms: int = 1000, timeout_s: float = 120.0) -> Iterator[ConsumerRecord]:
    """Every record from the assigned partitions' positions on, until a poll stays empty for `idle_ms`.

    Reading "up to the end offsets" is not reliable on tansu: its ListOffsets(latest) answers the base
    offset of the last record batch, not the high watermark, so the end is found by reading.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batch = consumer.poll(timeout_ms=idle_ms)
        if not batch:
            return
        for records in batch.values():
            yield from records
    raise TimeoutError(f"records kept arriving for {timeout_s:.0f} s while draining")


def record_at(consumer: KafkaConsumer, tp: TopicPartition, offset: int) -> bool:
    """Whether `tp` holds a record at `offset` (used to tell a checkpoint from a topic that was recreated)."""
    consumer.assign([tp])
    consumer.seek(tp, offset)
    for records in consumer.poll(timeout_ms=2000).values():
        return bool(records) and records[0].offset == offset
    return False
