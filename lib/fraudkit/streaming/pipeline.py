"""The whole streaming path in one place: prepare its inputs, run its two stages, read its decisions.

`prepare` gets everything a run needs, reusing what earlier workshop stages left behind: local
services (broker and emulator), topics, feature groups, the batch 1-week features in
`cc-agg-batch-fg`, and the card model endpoint. `Pipeline` runs the aggregator and the scorer
runners in background threads (the CLI `run` command runs one stage per process instead).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import polars as pl
from kafka import TopicPartition

from fraudkit.config import Settings
from fraudkit.featurestore.specs import RECORD_ID
from fraudkit.streaming.aggregator import AggregatorStage
from fraudkit.streaming.broker import create_topics
from fraudkit.streaming.ingest import AggregateWriter
from fraudkit.streaming.kafka_clients import make_consumer, partitions_of
from fraudkit.streaming.runner import Runner, Stage
from fraudkit.streaming.scoring import Scorer, ScoringStage, make_scorer

STAGES = ("aggregator", "scorer")


def latest_week_features(settings: Settings) -> pl.DataFrame:
    """Each card's 1-week aggregates after its last generated transaction, as rows of `cc-agg-batch-fg`."""
    from fraudkit.features import ensure_features
    from fraudkit.featurestore.specs import batch_group

    features = pl.read_parquet(ensure_features("cards", settings))
    latest = features.sort("event_time", "tid").group_by(RECORD_ID, maintain_order=True).last()
    return batch_group(settings).frame_from(latest).sort(RECORD_ID)


def ensure_week_features(settings: Settings) -> None:
    """Unless notebook 03 (or an earlier run) filled `cc-agg-batch-fg`, ingest each card's latest row."""
    from fraudkit.featurestore.ingest import ingest
    from fraudkit.featurestore.online import get_record

    rows = latest_week_features(settings)
    if get_record(settings, settings.batch_feature_group, rows[RECORD_ID][-1]) is None:
        ingest(settings, settings.batch_feature_group, rows, quiet=True)


def prepare(settings: Settings) -> Scorer:
    """Start what is missing (services, topics, feature groups and their batch rows, endpoint); a scorer."""
    from fraudkit.featurestore.admin import create_feature_groups
    from fraudkit.services import ensure_local_services

    ensure_local_services(settings, broker=not settings.bootstrap_servers)  # configured Kafka: use it
    create_topics(settings)
    create_feature_groups(settings)
    ensure_week_features(settings)
    return make_scorer(settings)


def make_stage(settings: Settings, name: str, scorer: Scorer | None = None, warm: bool = False) -> Stage:
    """The named stage; with `warm`, one that has made its first client calls already (a long-running
    stage process pays for them before it says it is ready, not on its first records)."""
    if name == "aggregator":
        return AggregatorStage(settings, AggregateWriter(settings))
    if name == "scorer":
        scorer = scorer or make_scorer(settings)
        if warm:
            scorer.warm()
        return ScoringStage(settings, scorer)
    raise ValueError(f"stage {name!r} is not one of {STAGES}")


class Pipeline:
    """Aggregator and scorer runners in background threads, stopped together."""

    def __init__(self, settings: Settings, scorer: Scorer, batch_size: int = 500) -> None:
        self.stop_event = threading.Event()
        self.runners = [
            Runner(settings, make_stage(settings, "aggregator"), batch_size=batch_size),
            Runner(settings, make_stage(settings, "scorer", scorer), batch_size=batch_size),
        ]
        self.threads = [
            threading.Thread(target=self._run, args=(runner,), name=f"fraudkit-{runner.stage.name}", daemon=True)
            for runner in self.runners
        ]
        self.errors: list[BaseException] = []

    def _run(self, runner: Runner) -> None:
        try:
            runner.run(self.stop_event)
        except BaseException as error:  # surfaced by stop(); a dead stage must not pass silently
            self.errors.append(error)
            self.stop_event.set()

    def __enter__(self) -> Pipeline:
        # recover here, not in the threads: once this returns, both stages sit at their inputs' ends and a
        # transaction sent now is decided at once instead of waiting out the stages' start-up (~0.5 s)
        for runner in self.runners:
            runner.recover()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=30)
        for runner in self.runners:
            runner.close()
        if self.errors:
            raise RuntimeError(f"a pipeline stage failed: {self.errors[0]!r}") from self.errors[0]


class TopicTail:
    """Reads a topic from its current end (or its beginning): decisions, dead letters, enriched features."""

    def __init__(self, settings: Settings, topic: str, from_beginning: bool = False, **consumer_options: Any) -> None:
        self.consumer = make_consumer(settings, **consumer_options)
        self.partitions: list[TopicPartition] = partitions_of(self.consumer, topic)
        self.consumer.assign(self.partitions)
        if from_beginning:
            self.consumer.seek_to_beginning()
        else:
            self.consumer.seek_to_end()
            for tp in self.partitions:  # resolve the lazy seek now, before anything new is written
                self.consumer.position(tp)

    def messages(self, timeout_s: float, until: Callable[[list[dict[str, Any]]], bool]) -> Iterator[dict[str, Any]]:
        """Yield decoded messages as they arrive until `until(all so far)` or the timeout."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not until(seen):
            for records in self.consumer.poll(timeout_ms=100).values():
                for record in records:
                    message = orjson.loads(record.value)
                    seen.append(message)
                    yield message

    def close(self) -> None:
        self.consumer.close()
