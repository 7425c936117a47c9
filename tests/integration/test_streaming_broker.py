"""The broker launcher against the real tansu binary."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from fraudkit.config import Settings
from fraudkit.streaming import broker as broker_launcher
from fraudkit.streaming.kafka_clients import (
    make_admin,
    make_consumer,
    make_producer,
    make_stage_consumer,
    partitions_of,
    topic_layout,
)

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


def test_topic_layout_gives_ids_and_counts_and_never_creates_a_topic(broker: Settings) -> None:
    """tansu creates any topic that a metadata request names (with 4 partitions, whatever the request asks);
    the runner's look-ups must not, or a restarted broker gets topics the kit did not lay out."""
    settings = broker.replace(
        transactions_topic="t-layout", features_topic="f-layout", decisions_topic="d-layout", dead_letter_topic="dl-layout"
    )
    broker_launcher.create_topics(settings, partitions=2)
    admin = make_admin(settings)
    try:
        layout = topic_layout(admin, ("t-layout", "f-layout", "missing-layout"))
        assert set(layout) == {"t-layout", "f-layout"} and all(count == 2 for _, count in layout.values())
        assert layout["t-layout"][0] and layout["t-layout"][0] != layout["f-layout"][0], "each topic has its own id"
        assert "missing-layout" not in admin.list_topics(), "looking a missing topic up did not create it"
    finally:
        admin.close()


def test_the_stage_consumer_reports_a_lost_connection_while_polling(tmp_path: Path) -> None:
    """A broker that stops under the stages' librdkafka consumer is reported by the next polls, before any
    record fetched over a new connection could be returned."""
    record = broker_launcher.start(tmp_path)
    failures: list[int] = []
    settings = Settings.load(
        backend="local", scale="tiny", state_dir=tmp_path, bootstrap_servers=record["bootstrap_servers"]
    )
    consumer = make_stage_consumer(settings, 20, logging.getLogger("test-stage"), lambda: failures.append(1))
    try:
        consumer.list_topics(timeout=10)  # connected
        assert not failures
        broker_launcher.stop(tmp_path)
        deadline = time.monotonic() + 10
        while not failures and time.monotonic() < deadline:
            consumer.poll(0.1)
        assert failures, "the lost connection was reported"
    finally:
        consumer.close()
        broker_launcher.stop(tmp_path)
