"""The scoring handler's core and its runner stage.

Enriched transactions from `features` (their 10-minute aggregates already include the transaction,
so nothing races) -> 1-week features by BatchGetRecord on `cc-agg-batch-fg`, topped up with the
10-minute window when it is newer than the batch snapshot (`serving_week_features`) -> ratios
(`fraudkit.features.add_card_ratios`, once per batch) -> one InvokeEndpoint per batch
with one CSV row per transaction in `CARD_MODEL_FEATURES` order -> decisions. Corrections (revision > 0) are not re-scored: a
decision is made once, when the transaction arrives. Unknown cards go to the dead letters.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord

from fraudkit.config import Settings
from fraudkit.features import WINDOW_1W, WINDOW_10M, add_card_ratios
from fraudkit.featurestore.specs import EVENT_TIME
from fraudkit.streaming.ingest import CLIENT_THREADS
from fraudkit.streaming.msk import MskRecord, msk_event, msk_records
from fraudkit.streaming.records import (
    COUNT_FEATURE,
    MEAN_FEATURE,
    MalformedRecord,
    dead_letter,
    decode_json,
    encode_json,
    parse_time,
    validate_enriched,
    window_feature_names,
)
from fraudkit.streaming.runner import Output

BATCH_GET_LIMIT = 100
DEFAULT_THRESHOLD = 0.5
FRAUD, NOT_FRAUD = "FRAUD", "NOT FRAUD"
WARM_UP_CARD = "0" * 16  # the generated cards are Visa numbers (they start with 4): never a stored record

WEEK_COUNT, WEEK_MEAN = window_feature_names(WINDOW_1W)


def serving_week_features(batch: dict[str, float], message: dict[str, Any]) -> dict[str, float]:
    """The 1-week aggregates a decision uses: the batch group's, topped up with the 10-minute window.

    The batch row describes the card as of its snapshot time (`trans_time`); the model was trained
    on 1-week windows that include the current transaction. When the 10-minute window lies wholly
    after the snapshot (window start > snapshot time), none of its transactions are in the batch
    row, so they are added: count + n, mean of the union. A fresher snapshot is used as it is
    (the window would double count). Transactions between the snapshot and the window, and the
    ones aging out of the week since the snapshot, are not known to the stream: the next batch run
    settles them.
    """
    count, mean = batch[WEEK_COUNT], batch[WEEK_MEAN]
    window_start = parse_time(message["event_time"]) / 1e6 - WINDOW_10M.width.total_seconds()
    if not window_start > batch[EVENT_TIME]:  # also false for a missing (NaN) snapshot time
        return {WEEK_COUNT: count, WEEK_MEAN: mean}
    added, added_mean = message[COUNT_FEATURE], float(message[MEAN_FEATURE])
    total = count + added
    return {WEEK_COUNT: total, WEEK_MEAN: (count * mean + added * added_mean) / total}


@dataclass
class ScoringResult:
    decisions: list[tuple[MskRecord, dict[str, Any]]] = field(default_factory=list)
    dead_letters: list[tuple[MskRecord, str]] = field(default_factory=list)


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
                    # the card comes back as each record's identifier: a fourth feature would only add parsing
                    "FeatureNames": [WEEK_COUNT, WEEK_MEAN, EVENT_TIME],
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
                EVENT_TIME: float(values.get(EVENT_TIME, "nan")),
            }
        return found

    def week_features(self, cards: list[str]) -> dict[str, dict[str, float]]:
        """1-week count and mean per known card: BatchGetRecord calls of 100 identifiers, in parallel."""
        chunks = [cards[start : start + BATCH_GET_LIMIT] for start in range(0, len(cards), BATCH_GET_LIMIT)]
        if len(chunks) == 1:  # the usual case below a few hundred tx/s: no hand-over to a pool thread
            return self._week_chunk(chunks[0])
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

    def warm(self) -> None:
        """One BatchGetRecord (of a card that does not exist) and one InvokeEndpoint before the first batch:
        a botocore client resolves its endpoint, builds each operation's request and response machinery
        and opens its connection on its first call, which would otherwise land on the first decisions."""
        self.week_features([WARM_UP_CARD])
        self.invoke([[0.0] * len(self.feature_order)])

    def score_event(self, event: dict[str, Any]) -> ScoringResult:
        result = ScoringResult()
        pending: list[tuple[MskRecord, dict[str, Any]]] = []
        for record in msk_records(event):
            try:
                message = validate_enriched(decode_json(record.value))
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
                            MEAN_FEATURE: float(message[MEAN_FEATURE])}
                features.update(serving_week_features(week[message["cc_num"]], message))
                known.append((record, message, features))
            else:
                result.dead_letters.append((record, f"unknown card {message['cc_num']}: no record in {self.batch_feature_group}"))
        if not known:
            return result
        add_card_ratios([features for _, _, features in known])
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
        Output(settings.decisions_topic, record.partition, decision["cc_num"].encode(), encode_json(decision), record.offset, 0)
        for record, decision in result.decisions
    ]
    outputs += [
        Output(settings.dead_letter_topic, record.partition, record.key,
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

    def process(self, batch: dict[int, list[ConsumerRecord]]) -> list[Output]:
        # one MSK event for every partition of the poll, as Lambda's event source mapping delivers them
        event = msk_event([r for records in batch.values() for r in records], self.settings.kafka_bootstrap_servers)
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
