"""The reference design's two Lambda functions: `ingest_handler` and `scoring_handler`.

They take MSK events (`fraudkit.streaming.msk`) and produce their outputs to Kafka themselves, with
settings from the `FRAUDKIT_*` environment of the function (and `FRAUDKIT_DECISION_THRESHOLD`).
Locally the runner drives the same cores (`ingest.AggregateWriter`, `scoring.Scorer`) and writes
their outputs exactly once; on AWS these functions are deployed as they are.

- Ingest: enriched transactions from `features` -> PutRecord on `cc-agg-fg`. Locally the aggregator
  calls the core itself before emitting to `features` (Flink cannot call PutRecord on AWS).
- Scoring: enriched transactions from `features` -> decisions on `decisions`.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from fraudkit.config import Settings
from fraudkit.streaming.ingest import AggregateWriter
from fraudkit.streaming.msk import msk_records
from fraudkit.streaming.records import (
    MalformedRecord,
    dead_letter,
    decode_json,
    encode_json,
    validate_enriched,
)
from fraudkit.streaming.runner import Output
from fraudkit.streaming.scoring import DEFAULT_THRESHOLD, Scorer, scoring_outputs


@cache
def _lambda_settings() -> Settings:
    return Settings.load()


@cache
def _lambda_writer() -> AggregateWriter:
    return AggregateWriter(_lambda_settings())


@cache
def _lambda_scorer() -> Scorer:
    from fraudkit.model import CARD_MODEL_FEATURES

    settings = _lambda_settings()
    threshold = float(os.environ.get("FRAUDKIT_DECISION_THRESHOLD", DEFAULT_THRESHOLD))
    return Scorer(settings, settings.endpoint_name, list(CARD_MODEL_FEATURES), threshold)


@cache
def _lambda_producer() -> Any:
    from fraudkit.streaming.kafka_clients import make_producer

    return make_producer(_lambda_settings())


def _produce(outputs: list[Output]) -> None:
    producer = _lambda_producer()
    for output in outputs:
        producer.send(output.topic, key=output.key, value=output.value)
    producer.flush()


def ingest_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Lambda: put the 10-minute aggregates of enriched transactions on the online feature group."""
    settings = _lambda_settings()
    messages, letters = [], []
    for record in msk_records(event):
        try:
            messages.append(validate_enriched(decode_json(record.value)))
        except MalformedRecord as problem:
            letter = dead_letter(str(problem), "ingest", record.topic, record.partition, record.offset, record.value)
            letters.append(Output(settings.dead_letter_topic, record.partition, record.key, encode_json(letter), record.offset, 0))
    _lambda_writer()(messages)()
    _produce(letters)
    return {"ingested": len(messages), "dead_letters": len(letters)}


def scoring_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Lambda: score enriched transactions and write decisions (and dead letters) to Kafka."""
    result = _lambda_scorer().score_event(event)
    _produce(scoring_outputs(_lambda_settings(), result))
    return {"decided": len(result.decisions), "dead_letters": len(result.dead_letters)}
