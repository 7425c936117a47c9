"""Kafka clients configured by the backend (`Settings.provider.kafka_config`): plaintext loopback
locally, MSK with IAM authentication on AWS."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import confluent_kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
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


def make_output_producer(
    settings: Settings, delivery_timeout_s: float, logger: logging.Logger
) -> confluent_kafka.Producer:
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


class _ConnectionWatch:
    """librdkafka's log, forwarded to `logger`; a FAIL line (a broker connection closed or refused) also
    calls `on_failure`. librdkafka logs through the consumer's own queue, so the call happens within the
    poll that would return the first records fetched over a new connection, before they are returned."""

    def __init__(self, logger: logging.Logger, on_failure: Callable[[], None]) -> None:
        self.logger = logger
        self.on_failure = on_failure

    def log(self, level: int, message: str, *args: Any) -> None:
        if args and args[0] == "FAIL":
            self.on_failure()
        self.logger.log(level, message, *args)


def make_stage_consumer(
    settings: Settings, fetch_wait_ms: int, logger: logging.Logger, on_connection_failure: Callable[[], None]
) -> confluent_kafka.Consumer:
    """The stages' consumer (librdkafka), assigned partitions only: offsets are the runner's own.

    librdkafka reconnects by itself and would go on fetching at the old offsets from a broker that
    restarted with new topics; `on_connection_failure` is how the runner learns that it must check.
    """
    def failed(_error: confluent_kafka.KafkaError) -> None:  # error_cb: connection failures, all brokers down
        on_connection_failure()

    return confluent_kafka.Consumer({
        **librdkafka_config(client_config(settings)),
        "group.id": "fraudkit-stage",  # librdkafka wants one; nothing is committed to it
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "error",  # an offset out of range means the topic changed: recover, don't skip
        "allow.auto.create.topics": False,
        "check.crcs": settings.provider.verify_crcs,
        "fetch.wait.max.ms": fetch_wait_ms,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 1000,
        "socket.nagle.disable": True,
        "logger": _ConnectionWatch(logger, on_connection_failure),
        "error_cb": failed,
    })


def as_consumer_record(message: confluent_kafka.Message) -> ConsumerRecord:
    """A librdkafka message in kafka-python's record shape, which the stages and MSK events are written for."""
    timestamp_type, timestamp = message.timestamp()
    return ConsumerRecord(
        message.topic(), message.partition(), -1, message.offset(), timestamp,
        1 if timestamp_type == confluent_kafka.TIMESTAMP_LOG_APPEND_TIME else 0,
        message.key(), message.value(), message.headers() or [], None, -1, -1, -1,
    )


def make_admin(settings: Settings, client_id: str = "fraudkit-admin") -> KafkaAdminClient:
    return KafkaAdminClient(**client_config(settings), client_id=client_id)


def topic_layout(admin: KafkaAdminClient, topics: Iterable[str]) -> dict[str, tuple[str | None, int]]:
    """(topic id, partition count) of each of `topics` that exists.

    Only listed topics are described: a broker that auto-creates topics (tansu does, whatever the request
    says) would otherwise create a missing one with its own default partition count."""
    existing = set(admin.list_topics())
    wanted = [topic for topic in topics if topic in existing]
    if not wanted:
        return {}
    return {
        found["name"]: (found.get("topic_id") and str(found["topic_id"]), len(found["partitions"]))
        for found in admin.describe_topics(wanted)
        if found["error_code"] == 0
    }


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
