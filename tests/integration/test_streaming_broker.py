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
