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
def _lambda_settings(bootstrap_servers: str) -> Settings:
    """The function's settings: `FRAUDKIT_*` from its environment, the brokers from the event.

    The MSK event source mapping names the cluster's brokers in every event (`bootstrapServers`, on
    the port of its authentication), so a function in the cluster's VPC never needs the CloudFormation
    or MSK control APIs to find them.
    """
    return Settings.load(bootstrap_servers=bootstrap_servers or None)


def _settings_of(event: dict[str, Any]) -> Settings:
    return _lambda_settings(str(event.get("bootstrapServers") or ""))


@cache
def _lambda_writer(settings: Settings) -> AggregateWriter:
    return AggregateWriter(settings)


@cache
def _lambda_scorer(settings: Settings) -> Scorer:
    from fraudkit.model.specs import CARD_MODEL_FEATURES

    threshold = float(os.environ.get("FRAUDKIT_DECISION_THRESHOLD", DEFAULT_THRESHOLD))
    return Scorer(settings, settings.endpoint_name, list(CARD_MODEL_FEATURES), threshold)


@cache
def _lambda_producer(settings: Settings) -> Any:
    from fraudkit.streaming.kafka_clients import make_producer

    return make_producer(settings)


def _produce(settings: Settings, outputs: list[Output]) -> None:
    producer = _lambda_producer(settings)
    for output in outputs:
        producer.send(output.topic, key=output.key, value=output.value)
    producer.flush()


def ingest_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Lambda: put the 10-minute aggregates of enriched transactions on the online feature group."""
    settings = _settings_of(event)
    messages, letters = [], []
    for record in msk_records(event):
        try:
            messages.append(validate_enriched(decode_json(record.value)))
        except MalformedRecord as problem:
            letter = dead_letter(str(problem), "ingest", record.topic, record.partition, record.offset, record.value)
            letters.append(Output(settings.dead_letter_topic, record.partition, record.key, encode_json(letter), record.offset, 0))
    _lambda_writer(settings)(messages)()
    _produce(settings, letters)
    return {"ingested": len(messages), "dead_letters": len(letters)}


def scoring_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Lambda: score enriched transactions and write decisions (and dead letters) to Kafka."""
    settings = _settings_of(event)
    result = _lambda_scorer(settings).score_event(event)
    _produce(settings, scoring_outputs(settings, result))
    return {"decided": len(result.decisions), "dead_letters": len(result.dead_letters)}
