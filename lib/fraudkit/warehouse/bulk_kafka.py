"""Bulk writing and reading of the warehouse's topic, with librdkafka (confluent-kafka).

A refresh reads every message from the stored offsets to the end of each partition, and the replay
writes the whole data set: millions of messages at full scale. kafka-python encodes and decodes each
record in Python (about 12 µs a record: 20 of the 30 s that 300,000 Handbook transactions took to
ingest, 15 s to publish); librdkafka does it in C (about 2 s for the same 300,000).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from fraudkit.config import Settings
from fraudkit.streaming.kafka_clients import client_config, librdkafka_config

LOG = logging.getLogger(__name__)
POLL_MESSAGES = 50_000
FETCH_BYTES = 64 * 1024 * 1024
PARTITION_FETCH_BYTES = 16 * 1024 * 1024


@dataclass
class MessageBatch:
    """Up to `batch_size` messages as columns: partition, offset and value of each, in fetch order."""

    partitions: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)


def read_batches(
    settings: Settings, topic: str, starts: dict[int, int], batch_size: int, timeout_s: float
) -> Iterator[MessageBatch]:
    """Every message of `topic` from `starts` (partition -> offset) to each partition's end, in batches.

    The end is where librdkafka reports the partition's end (its fetch reached the high watermark that
    the broker's fetch response carries), the same end as `kafka_clients.read_to_high_watermarks`.
    """
    consumer = Consumer({
        **librdkafka_config(client_config(settings)),
        # no group management: offsets are the warehouse's own, stored with its rows
        "group.id": "fraudkit-warehouse",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "allow.auto.create.topics": False,
        "check.crcs": settings.provider.verify_crcs,
        "fetch.max.bytes": FETCH_BYTES,
        "max.partition.fetch.bytes": PARTITION_FETCH_BYTES,
        "logger": LOG,
    })
    pending = set(starts)
    deadline = time.monotonic() + timeout_s
    try:
        consumer.assign([TopicPartition(topic, partition, offset) for partition, offset in starts.items()])
        batch = MessageBatch()
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic!r} partitions {sorted(pending)} to their ends "
                                   f"within {timeout_s:.0f} s")
            for message in consumer.consume(num_messages=min(POLL_MESSAGES, batch_size), timeout=0.5):
                error = message.error()
                if error is None:  # a message: partition and offset are set; a null value is malformed
                    batch.partitions.append(cast(int, message.partition()))
                    batch.offsets.append(cast(int, message.offset()))
                    batch.values.append(message.value() or b"")
                elif error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(message.partition())
                else:
                    raise KafkaException(error)
            while len(batch) >= batch_size:
                yield MessageBatch(batch.partitions[:batch_size], batch.offsets[:batch_size],
                                   batch.values[:batch_size])
                batch = MessageBatch(batch.partitions[batch_size:], batch.offsets[batch_size:],
                                     batch.values[batch_size:])
        if batch:
            yield batch
    finally:
        consumer.close()


def write_messages(settings: Settings, topic: str, messages: list[tuple[bytes, bytes]],
                   progress: Callable[[int], None] | None = None) -> int:
    """Send (key, value) messages in order and wait until the broker has every one; returns the count.

    Keys go to partitions as kafka-python and the Java client place them (murmur2), and one request in
    flight per connection keeps each partition in send order.
    """
    failures: list[KafkaError] = []

    def delivered(error: KafkaError | None, _message: object) -> None:
        if error is not None:
            failures.append(error)

    producer = Producer({
        **librdkafka_config(client_config(settings)),
        "acks": "all",
        "partitioner": "murmur2_random",
        "linger.ms": 20,
        "max.in.flight.requests.per.connection": 1,
        "allow.auto.create.topics": False,
        "logger": LOG,
    })
    for sent, (key, value) in enumerate(messages, start=1):
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=delivered)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.05)
        if progress is not None and sent % 100_000 == 0:
            progress(sent)
    if producer.flush(timeout=300) or failures:
        reason = failures[0] if failures else "undelivered messages after 300 s"
        raise KafkaException(f"publishing to {topic!r} failed: {reason}")
    return len(messages)
