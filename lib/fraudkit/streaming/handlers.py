"""The reference design's two Lambda functions, with Lambda signatures and MSK event payloads.

An MSK event is {"eventSource": "aws:kafka", "eventSourceArn", "bootstrapServers", "records":
{"<topic>-<partition>": [{"topic", "partition", "offset", "timestamp", "timestampType", "key",
"value", "headers"}]}} with base64 `key`/`value` and headers as {name: [byte, ...]}.

- Ingest (`ingest_handler`): enriched transactions from `features` -> PutRecord on `cc-agg-fg`.
  Locally the aggregator calls its core (`AggregateWriter`) before emitting to `features`.
- Scoring (`scoring_handler`): enriched transactions from `features` (their 10-minute aggregates
  already include the transaction, so nothing races) -> 1-week features by BatchGetRecord on
  `cc-agg-batch-fg` -> ratios (`fraudkit.features.card_ratios`) -> one InvokeEndpoint per batch
  with one CSV row per transaction -> decisions. Corrections (revision > 0) are not re-scored.

On AWS the handlers produce their outputs to Kafka themselves; locally the runner drives the
same cores and writes the outputs exactly once (see `runner`).
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import polars as pl
from kafka.consumer.fetcher import ConsumerRecord

from fraudkit.config import Settings
from fraudkit.features import WINDOW_1W, card_ratios
from fraudkit.featurestore.ingest import bulk_ingest_local, wire_records
from fraudkit.featurestore.specs import EVENT_TIME, RECORD_ID
from fraudkit.streaming.aggregator import COUNT_FEATURE, MEAN_FEATURE, window_feature_names
from fraudkit.streaming.records import (
    MalformedRecord,
    Transaction,
    dead_letter,
    decode_json,
    encode_json,
    parse_time,
)
from fraudkit.streaming.runner import Output

BATCH_GET_LIMIT = 100
CLIENT_THREADS = 8  # below botocore's pool of 10 connections per client
DEFAULT_THRESHOLD = 0.5
FRAUD, NOT_FRAUD = "FRAUD", "NOT FRAUD"


# -- MSK event payloads --
@dataclass(frozen=True)
class MskRecord:
    """One decoded record of an MSK event."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def msk_event(records: Iterable[ConsumerRecord], bootstrap_servers: str, cluster_arn: str = "") -> dict[str, Any]:
    """The event Lambda's MSK event source mapping would deliver for these consumer records."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(f"{record.topic}-{record.partition}", []).append(
            {
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "timestamp": record.timestamp,
                "timestampType": "CREATE_TIME" if record.timestamp_type == 0 else "LOG_APPEND_TIME",
                "key": _b64(record.key),
                "value": _b64(record.value),
                "headers": [{name: list(value)} for name, value in record.headers],
            }
        )
    return {
        "eventSource": "aws:kafka",
        "eventSourceArn": cluster_arn or "arn:aws:kafka:us-east-1:000000000000:cluster/fraudkit-local/local",
        "bootstrapServers": bootstrap_servers,
        "records": grouped,
    }


def msk_records(event: dict[str, Any]) -> list[MskRecord]:
    """The records of an MSK event, decoded, in partition then offset order."""
    decoded = []
    for batch in event.get("records", {}).values():
        for raw in batch:
            decoded.append(
                MskRecord(
                    topic=raw["topic"],
                    partition=int(raw["partition"]),
                    offset=int(raw["offset"]),
                    timestamp=int(raw["timestamp"]),
                    key=None if raw.get("key") is None else base64.b64decode(raw["key"]),
                    value=None if raw.get("value") is None else base64.b64decode(raw["value"]),
                    headers=[(name, bytes(value)) for header in raw.get("headers", []) for name, value in header.items()],
                )
            )
    return decoded


# -- ingest: 10-minute aggregates into the online feature group --
class AggregateWriter:
    """Writes the 10-minute aggregates of enriched transactions to `cc-agg-fg`, batched for throughput.

    Locally a batch is one request to the emulator's bulk path (every aggregate reaches the offline
    store, the event-time rule picks the online row). On AWS, where PutRecord is the only write, only
    the latest event of each card in the batch is put, through a small thread pool (boto3 clients are
    thread-safe): the online row after the batch is the same at a fraction of the calls.
    """

    def __init__(self, settings: Settings, threads: int = CLIENT_THREADS) -> None:
        self.settings = settings
        self.feature_group = settings.online_feature_group
        self.client = settings.client("sagemaker-featurestore-runtime")
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="put-record")

    @staticmethod
    def latest_per_card(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        latest: dict[str, tuple[int, dict[str, Any]]] = {}
        for message in messages:
            event_micros = parse_time(message["event_time"])
            current = latest.get(message["cc_num"])
            if current is None or event_micros >= current[0]:
                latest[message["cc_num"]] = (event_micros, message)
        return [message for _, message in latest.values()]

    @staticmethod
    def rows(messages: list[dict[str, Any]]) -> pl.DataFrame:
        """The feature group's columns for each message (event time in epoch seconds, Fractional)."""
        return pl.DataFrame(
            {
                RECORD_ID: [m["cc_num"] for m in messages],
                COUNT_FEATURE: [m[COUNT_FEATURE] for m in messages],
                MEAN_FEATURE: [float(m[MEAN_FEATURE]) for m in messages],
                EVENT_TIME: [parse_time(m["event_time"]) / 1e6 for m in messages],
            },
            schema={RECORD_ID: pl.String, COUNT_FEATURE: pl.Int64, MEAN_FEATURE: pl.Float64, EVENT_TIME: pl.Float64},
        )

    def _put(self, record: list[dict[str, str]]) -> None:
        self.client.put_record(FeatureGroupName=self.feature_group, Record=record)

    def __call__(self, messages: list[dict[str, Any]]) -> Callable[[], None]:
        """Start the writes; the returned wait re-raises the first failure (nothing is committed before it)."""
        futures: list[Future[Any]]
        if self.settings.backend == "local":
            futures = [self.pool.submit(bulk_ingest_local, self.settings, self.feature_group, self.rows(messages), True)]
        else:
            latest = self.rows(self.latest_per_card(messages))
            futures = [self.pool.submit(self._put, record) for record in wire_records(latest)]

        def wait() -> None:
            for future in futures:
                future.result()

        return wait


# -- scoring --
WEEK_COUNT, WEEK_MEAN = window_feature_names(WINDOW_1W)


@dataclass
class ScoringResult:
    decisions: list[tuple[MskRecord, dict[str, Any]]] = field(default_factory=list)
    dead_letters: list[tuple[MskRecord, str]] = field(default_factory=list)


def _enriched(message: dict[str, Any]) -> dict[str, Any]:
    """Validate a `features` message (a transaction plus its 10-minute aggregates)."""
    Transaction.from_message(message)
    for name, kind in ((COUNT_FEATURE, int), (MEAN_FEATURE, (int, float)), ("revision", int), ("produced_ms", int)):
        if not isinstance(message.get(name), kind) or isinstance(message.get(name), bool):
            raise MalformedRecord(f"missing or mistyped field {name!r}")
    return message


class Scorer:
    """Scores batches of enriched transactions against the card model endpoint."""

    def __init__(self, settings: Settings, endpoint_name: str, feature_order: list[str], threshold: float = DEFAULT_THRESHOLD) -> None:
        self.batch_feature_group = settings.batch_feature_group
        self.endpoint_name = endpoint_name
        self.feature_order = list(feature_order)
        self.threshold = threshold
        self.featurestore = settings.client("sagemaker-featurestore-runtime")
        self.runtime = settings.client("sagemaker-runtime")
        self.pool = ThreadPoolExecutor(max_workers=CLIENT_THREADS, thread_name_prefix="batch-get")

    def _week_chunk(self, cards: list[str]) -> dict[str, dict[str, float]]:
        response = self.featurestore.batch_get_record(
            Identifiers=[
                {
                    "FeatureGroupName": self.batch_feature_group,
                    "RecordIdentifiersValueAsString": cards,
                    "FeatureNames": [RECORD_ID, WEEK_COUNT, WEEK_MEAN],
                }
            ]
        )
        if response.get("Errors"):
            error = response["Errors"][0]
            raise RuntimeError(f"BatchGetRecord on {self.batch_feature_group}: {error.get('ErrorCode')} {error.get('ErrorMessage')}")
        if response.get("UnprocessedIdentifiers"):
            raise RuntimeError(f"BatchGetRecord left identifiers unprocessed on {self.batch_feature_group}")
        found = {}
        for item in response.get("Records", []):
            values = {f["FeatureName"]: f["ValueAsString"] for f in item["Record"]}
            found[item["RecordIdentifierValueAsString"]] = {
                WEEK_COUNT: float(values.get(WEEK_COUNT, "nan")),
                WEEK_MEAN: float(values.get(WEEK_MEAN, "nan")),
            }
        return found

    def week_features(self, cards: list[str]) -> dict[str, dict[str, float]]:
        """1-week count and mean per known card: BatchGetRecord calls of 100 identifiers, in parallel."""
        chunks = [cards[start : start + BATCH_GET_LIMIT] for start in range(0, len(cards), BATCH_GET_LIMIT)]
        found: dict[str, dict[str, float]] = {}
        for part in self.pool.map(self._week_chunk, chunks):
            found.update(part)
        return found

    def invoke(self, rows: list[list[float]]) -> list[float]:
        """One InvokeEndpoint call for every row (text/csv in, one score per line out)."""
        body = "\n".join(",".join(repr(float(v)) for v in row) for row in rows)
        response = self.runtime.invoke_endpoint(EndpointName=self.endpoint_name, ContentType="text/csv", Body=body.encode())
        text = response["Body"].read().decode()
        scores = [float(s) for s in text.replace(",", "\n").split()]
        if len(scores) != len(rows):
            raise RuntimeError(f"endpoint {self.endpoint_name} returned {len(scores)} scores for {len(rows)} rows")
        return scores

    def score_event(self, event: dict[str, Any]) -> ScoringResult:
        result = ScoringResult()
        pending: list[tuple[MskRecord, dict[str, Any]]] = []
        for record in msk_records(event):
            try:
                message = _enriched(decode_json(record.value))
            except MalformedRecord as problem:
                result.dead_letters.append((record, str(problem)))
                continue
            if message["revision"] == 0:
                pending.append((record, message))
        if not pending:
            return result
        week = self.week_features(sorted({m["cc_num"] for _, m in pending}))
        known = []
        for record, message in pending:
            if message["cc_num"] in week:
                features = {"amount": float(message["amount"]), COUNT_FEATURE: message[COUNT_FEATURE],
                            MEAN_FEATURE: float(message[MEAN_FEATURE]), **week[message["cc_num"]]}
                features.update(card_ratios(features["amount"], features[COUNT_FEATURE], features[MEAN_FEATURE],
                                            features[WEEK_COUNT], features[WEEK_MEAN]))
                known.append((record, message, features))
            else:
                result.dead_letters.append((record, f"unknown card {message['cc_num']}: no record in {self.batch_feature_group}"))
        if not known:
            return result
        scores = self.invoke([[features[name] for name in self.feature_order] for _, _, features in known])
        now_ms = time.time() * 1000
        for (record, message, features), score in zip(known, scores, strict=True):
            result.decisions.append(
                (record, {
                    "tid": message["tid"],
                    "cc_num": message["cc_num"],
                    "event_time": message["event_time"],
                    "score": score,
                    "decision": FRAUD if score >= self.threshold else NOT_FRAUD,
                    "features": {name: features[name] for name in self.feature_order},
                    "produced_ms": message["produced_ms"],
                    "latency_ms": round(now_ms - message["produced_ms"], 3),
                })
            )
        return result


SCORER_STAGE = "scorer"


def scoring_outputs(settings: Settings, result: ScoringResult) -> list[Output]:
    """The decisions and dead letters of a scoring result as messages to write."""
    outputs = [
        Output(settings.decisions_topic, decision["cc_num"].encode(), encode_json(decision), record.offset, 0)
        for record, decision in result.decisions
    ]
    outputs += [
        Output(settings.dead_letter_topic, record.key,
               encode_json(dead_letter(reason, SCORER_STAGE, record.topic, record.partition, record.offset, record.value)),
               record.offset, 0)
        for record, reason in result.dead_letters
    ]
    return outputs


class ScoringStage:
    """Runner stage: `features` -> scoring handler core -> `decisions` | `dead-letter`."""

    name = SCORER_STAGE

    def __init__(self, settings: Settings, scorer: Scorer) -> None:
        self.settings = settings
        self.scorer = scorer
        self.input_topic = settings.features_topic
        self.output_topics: tuple[str, ...] = (settings.decisions_topic, settings.dead_letter_topic)

    def process(self, partition: int, records: list[ConsumerRecord]) -> list[Output]:
        event = msk_event(records, self.settings.kafka_bootstrap_servers)
        return scoring_outputs(self.settings, self.scorer.score_event(event))

    def settle(self) -> None:
        return None

    def snapshot(self, partition: int) -> None:
        return None

    def restore(self, partition: int, snapshot: Any) -> None:
        return None


def make_scorer(settings: Settings) -> Scorer:
    """A scorer on the card endpoint (trained and deployed first if needed), features in model order."""
    from fraudkit.model import CARD_MODEL_FEATURES, card_threshold, ensure_card_endpoint

    return Scorer(settings, ensure_card_endpoint(settings), list(CARD_MODEL_FEATURES), card_threshold(settings))


# -- Lambda entry points (AWS): settings from FRAUDKIT_* environment variables --
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
            messages.append(_enriched(decode_json(record.value)))
        except MalformedRecord as problem:
            letter = dead_letter(str(problem), "ingest", record.topic, record.partition, record.offset, record.value)
            letters.append(Output(settings.dead_letter_topic, record.key, encode_json(letter), record.offset, 0))
    _lambda_writer()(messages)()
    _produce(letters)
    return {"ingested": len(messages), "dead_letters": len(letters)}


def scoring_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Lambda: score enriched transactions and write decisions (and dead letters) to Kafka."""
    result = _lambda_scorer().score_event(event)
    _produce(scoring_outputs(_lambda_settings(), result))
    return {"decided": len(result.decisions), "dead_letters": len(result.dead_letters)}
