"""Kafka clients configured by the backend (`Settings.provider.kafka_config`): plaintext loopback
locally, MSK with IAM authentication on AWS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import confluent_kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from fraudkit.config import Settings


def client_config(settings: Settings) -> dict[str, Any]:
    """Connection settings shared by every producer, consumer and admin client of the kit."""
    return settings.provider.kafka_config()


# Topics are created by `broker.create_topics` with the pipeline's partition count; a topic a client's
# metadata request made the broker create would have the broker's default count (after a restart of the
# in-memory broker, a reconnecting stage would otherwise recreate its output topics with one partition).
NO_AUTO_CREATE = {"allow_auto_create_topics": False}
# kafka-python records sensors (rates, sizes, latencies) on every record and request; nothing in the kit
# reads them, and they cost a fifth of a producer's CPU per record
NO_METRICS = {"metrics_enabled": False}


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """A producer that keeps each partition in send order (one request in flight) and waits for acks."""
    options: dict[str, Any] = {
        "acks": "all", "linger_ms": 2, "max_in_flight_requests_per_connection": 1, **NO_AUTO_CREATE, **NO_METRICS,
    }
    options.update(overrides)
    return KafkaProducer(**client_config(settings), **options)


def librdkafka_config(kafka_python: dict[str, Any]) -> dict[str, Any]:
    """A connection in kafka-python's names (`client_config`: loopback plaintext, or MSK's IAM over TLS)
    in librdkafka's names."""
    config: dict[str, Any] = {"bootstrap.servers": ",".join(kafka_python["bootstrap_servers"])}
    if "security_protocol" in kafka_python:
        config["security.protocol"] = kafka_python["security_protocol"]
    if "sasl_mechanism" in kafka_python:
        config["sasl.mechanisms"] = kafka_python["sasl_mechanism"]
    provider = kafka_python.get("sasl_oauth_token_provider")
    if provider is not None:
        # librdkafka asks for (token, expiry in seconds since the epoch) whenever the token runs out
        config["oauth_cb"] = lambda _config: provider.token_and_expiry()
    return config


def make_output_producer(settings: Settings, delivery_timeout_s: float, logger: Any) -> confluent_kafka.Producer:
    """The stages' producer (librdkafka): each batch's outputs are flushed at once, in send order per partition.

    A stage writes a few dozen records per batch, many times a second; kafka-python spent about 1 ms of
    Python per flush (its sender thread, wake-ups and per-record encoding), librdkafka a tenth of that.
    `flush()` sends at once whatever the linger would have held, so the long linger costs no latency.
    """
    return confluent_kafka.Producer({
        **librdkafka_config(client_config(settings)),
        "acks": "all",
        "linger.ms": 1000,
        "max.in.flight.requests.per.connection": 1,  # a retry never reorders a partition's outputs
        "message.timeout.ms": int(delivery_timeout_s * 1000),
        "socket.nagle.disable": True,  # one small produce request per batch: never wait for an ACK to send it
        "logger": logger,
    })


def make_consumer(settings: Settings, **overrides: Any) -> KafkaConsumer:
    """A consumer without group management: callers assign partitions and track offsets themselves."""
    options: dict[str, Any] = {
        "enable_auto_commit": False,
        "group_id": None,
        "auto_offset_reset": "earliest",
        "check_crcs": settings.provider.verify_crcs,
        **NO_AUTO_CREATE,
        **NO_METRICS,
    }
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


def topic_id(consumer: KafkaConsumer, topic: str) -> str | None:
    """The id the broker gave `topic` when it was created (Kafka's topic ids, KIP-516), from the
    consumer's metadata; None while unknown. A new id means the topic was recreated: on the kit's
    in-memory broker, every restart recreates every topic.

    kafka-python keeps topic ids only in its cluster metadata, which KafkaConsumer has no public
    accessor for; the consumer's metadata is what its fetches use, so it is the right one to ask.
    """
    found = consumer._client.cluster.topic_id(topic)
    return None if found is None else str(found)


def read_to_high_watermarks(
    consumer: KafkaConsumer, partitions: list[TopicPartition], timeout_s: float = 120.0
) -> Iterator[ConsumerRecord]:
    """Every record of the assigned `partitions` from their positions up to their high watermarks.

    The end is the high watermark that the first fetch response of each partition reports (fetches
    carry it even when they return no records). Tansu's ListOffsets(latest) answers the base offset
    of the last record batch, not the high watermark, so `end_offsets` cannot be trusted here; and an
    empty poll only means that nothing arrived in time, not that the end was reached.
    """
    targets: dict[TopicPartition, int] = {}
    deadline = time.monotonic() + timeout_s
    while True:
        for records in consumer.poll(timeout_ms=100).values():
            yield from records
        for tp in partitions:
            if tp not in targets and (end := consumer.highwater(tp)) is not None:
                targets[tp] = end
        if len(targets) == len(partitions) and all(consumer.position(tp) >= targets[tp] for tp in partitions):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"could not read {partitions} to their ends within {timeout_s:.0f} s")
