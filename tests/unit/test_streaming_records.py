"""Message validation, event-time wire format and MSK event payloads of the streaming stage."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import confluent_kafka
import orjson
import pytest
from fraudkit.streaming.kafka_clients import as_consumer_record
from fraudkit.streaming.msk import msk_event, msk_records
from fraudkit.streaming.records import (
    MalformedRecord,
    Transaction,
    decode_json,
    format_time,
    parse_time,
    to_micros,
)
from hypothesis import given
from hypothesis import strategies as st
from kafka.consumer.fetcher import ConsumerRecord

CARD = "4000123412341234"


@given(st.integers(min_value=0, max_value=4_102_444_800 * 1_000_000))
def test_event_time_round_trips_exactly_to_the_microsecond(micros: int) -> None:
    assert parse_time(format_time(micros)) == micros


def test_event_time_accepts_offsets_and_rejects_naive_times() -> None:
    assert parse_time("2026-03-01T01:00:00+01:00") == to_micros(datetime(2026, 3, 1, tzinfo=UTC))
    with pytest.raises(MalformedRecord, match="no time zone"):
        parse_time("2026-03-01T00:00:00")
    with pytest.raises(MalformedRecord, match="not an ISO-8601"):
        parse_time("yesterday")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON list, not an object"),
        (None, "empty message"),
        (orjson.dumps({"tid": "a", "cc_num": CARD, "amount": 1.0}), "missing field 'event_time'"),
        (orjson.dumps({"tid": 5, "cc_num": CARD, "amount": 1.0, "event_time": "2026-01-01T00:00:00Z"}),
         "field 'tid' has type int"),
        (orjson.dumps({"tid": "a", "cc_num": "12", "amount": 1.0, "event_time": "2026-01-01T00:00:00Z"}),
         "not 16 digits"),
        (orjson.dumps({"tid": "a", "cc_num": CARD, "amount": True, "event_time": "2026-01-01T00:00:00Z"}),
         "field 'amount' has type bool"),
    ],
)
def test_malformed_transactions_name_their_problem(value: bytes | None, reason: str) -> None:
    with pytest.raises(MalformedRecord, match=reason):
        Transaction.from_message(decode_json(value))


def test_a_transaction_survives_its_wire_form() -> None:
    tx = Transaction("t1", CARD, 12.5, to_micros(datetime(2026, 3, 1, 12, 0, 0, 250, tzinfo=UTC)))
    assert Transaction.from_message(decode_json(orjson.dumps(tx.to_message()))) == tx


def consumer_record(partition: int, offset: int, key: bytes | None, value: bytes | None) -> ConsumerRecord:
    return ConsumerRecord(
        topic="transactions", partition=partition, leader_epoch=0, offset=offset, timestamp=1_700_000_000_000,
        timestamp_type=0, key=key, value=value, headers=[("fraudkit-src", b"3:0")], checksum=None,
        serialized_key_size=-1, serialized_value_size=-1, serialized_header_size=-1,
    )


def test_msk_event_has_the_lambda_shape_and_decodes_back() -> None:
    records = [consumer_record(0, 5, b"k", b'{"a": 1}'), consumer_record(1, 9, None, b"x"), consumer_record(0, 6, b"k", None)]
    event = msk_event(records, "127.0.0.1:9092")
    assert event["eventSource"] == "aws:kafka"
    assert sorted(event["records"]) == ["transactions-0", "transactions-1"]
    first = event["records"]["transactions-0"][0]
    assert base64.b64decode(first["value"]) == b'{"a": 1}' and first["timestampType"] == "CREATE_TIME"
    assert first["headers"] == [{"fraudkit-src": list(b"3:0")}]
    decoded = msk_records(orjson.loads(orjson.dumps(event)))  # through JSON, as Lambda delivers it
    assert [(r.partition, r.offset, r.key, r.value) for r in decoded] == [
        (0, 5, b"k", b'{"a": 1}'), (0, 6, b"k", None), (1, 9, None, b"x"),
    ]
    assert decoded[0].headers == [("fraudkit-src", b"3:0")]


def test_a_librdkafka_message_becomes_the_record_shape_msk_events_are_built_from() -> None:
    created = confluent_kafka.Message(topic="features", partition=2, offset=7, key=b"k", value=b"v",
                                      headers=[("fraudkit-src", b"x")], timestamp=(confluent_kafka.TIMESTAMP_CREATE_TIME, 123))
    appended = confluent_kafka.Message(topic="features", partition=0, offset=1, key=None, value=b"w", headers=None,
                                       timestamp=(confluent_kafka.TIMESTAMP_LOG_APPEND_TIME, 456))
    first, second = as_consumer_record(created), as_consumer_record(appended)
    assert (first.topic, first.partition, first.offset, first.key, first.value) == ("features", 2, 7, b"k", b"v")
    assert first.headers == [("fraudkit-src", b"x")] and second.headers == []
    event = msk_event([first, second], "127.0.0.1:9092")
    assert event["records"]["features-2"][0]["timestampType"] == "CREATE_TIME"
    assert event["records"]["features-0"][0]["timestampType"] == "LOG_APPEND_TIME"
    assert {record.timestamp for record in msk_records(event)} == {123, 456}
