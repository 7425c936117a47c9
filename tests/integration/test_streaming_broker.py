"""The broker launcher against the real tansu binary."""

from __future__ import annotations

from pathlib import Path

import pytest
from fraudkit.config import Settings
from fraudkit.streaming import broker as broker_launcher
from fraudkit.streaming.kafka_clients import make_consumer, make_producer, partitions_of

pytestmark = pytest.mark.integration


def test_start_status_stop_lifecycle(tmp_path: Path) -> None:
    record = broker_launcher.start(tmp_path)
    try:
        assert broker_launcher.status(tmp_path) == record
        assert broker_launcher.start(tmp_path) == record, "a second start reuses the running broker"
        assert (tmp_path / "broker" / "broker.log").exists()
        assert record["bootstrap_servers"] == f"127.0.0.1:{record['port']}"
    finally:
        assert broker_launcher.stop(tmp_path) is True
    assert broker_launcher.status(tmp_path) is None
    assert broker_launcher.stop(tmp_path) is False


def test_topics_are_created_with_partitions_and_carry_keyed_messages(broker: Settings) -> None:
    settings = broker.replace(
        transactions_topic="t-life", features_topic="f-life", decisions_topic="d-life", dead_letter_topic="dl-life"
    )
    names = broker_launcher.create_topics(settings, partitions=3)
    assert broker_launcher.create_topics(settings, partitions=3) == names, "creating twice is harmless"
    consumer = make_consumer(settings)
    partitions = partitions_of(consumer, "t-life")
    assert len(partitions) == 3
    producer = make_producer(settings)
    for i in range(30):
        producer.send("t-life", key=f"card-{i % 5}".encode(), value=str(i).encode())
    producer.flush()
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    seen: dict[bytes, list[int]] = {}
    while sum(len(v) for v in seen.values()) < 30:
        for records in consumer.poll(timeout_ms=1000).values():
            for record in records:
                seen.setdefault(record.key, []).append(int(record.value))
    assert all(values == sorted(values) for values in seen.values()), "one card's messages stay in order"
    assert sorted(v for values in seen.values() for v in values) == list(range(30))


def test_reading_to_the_high_watermarks_does_not_stop_at_a_slow_empty_poll(broker: Settings) -> None:
    """Recovery must read every output written before a crash. A broker that holds fetches (here:
    until 10 MB or 1.5 s) answers a 500 ms poll with nothing, which the old "one empty poll means the
    end" rule took for the end; the high watermark each fetch reports is the end to read to."""
    from fraudkit.streaming.broker import create_topics
    from fraudkit.streaming.kafka_clients import read_to_high_watermarks

    settings = broker.replace(transactions_topic="slow-fetch")
    create_topics(settings)
    producer = make_producer(settings)
    for i in range(50):
        producer.send(settings.transactions_topic, key=str(i).encode(), value=b"x")
    producer.flush()
    producer.close()
    consumer = make_consumer(settings, fetch_min_bytes=10_000_000, fetch_max_wait_ms=1500, request_timeout_ms=5000)
    try:
        partitions = partitions_of(consumer, settings.transactions_topic)
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        assert consumer.poll(timeout_ms=500) == {}, "the premise: a poll returns nothing while the broker waits"
        consumer.seek_to_beginning()
        assert len(list(read_to_high_watermarks(consumer, partitions))) == 50
    finally:
        consumer.close()
