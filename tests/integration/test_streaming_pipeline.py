"""The streaming pipeline against the real broker (tansu) and the real emulator, at tiny scale."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from fraudkit.config import Settings
from fraudkit.features import card_ratios, compute_card_features
from fraudkit.featurestore.online import get_record
from fraudkit.model import card_threshold
from fraudkit.streaming.aggregator import AggregatorStage
from fraudkit.streaming.broker import create_topics
from fraudkit.streaming.demo import run_demo
from fraudkit.streaming.ingest import AggregateWriter
from fraudkit.streaming.kafka_clients import client_config, make_producer
from fraudkit.streaming.load import load_settings, run_load, stage_environment
from fraudkit.streaming.pipeline import Pipeline, latest_week_features, make_stage, prepare
from fraudkit.streaming.producer import produce
from fraudkit.streaming.records import COUNT_FEATURE, MEAN_FEATURE, Transaction, encode_json, to_micros
from fraudkit.streaming.runner import Runner, RunnerBusy, checkpoint_dir
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from tests.fixtures.streaming import (
    checkpointed,
    enriched_records,
    history,
    read_all,
    run_until_idle,
    start_stage,
)

pytestmark = pytest.mark.integration


def with_peers_and_disorder(frame: pl.DataFrame, seed: int = 7) -> tuple[pl.DataFrame, list[int]]:
    """Add a same-timestamp peer to every 10th transaction, and an arrival order a few places out of order."""
    peers = frame.gather_every(10).with_columns(pl.col("tid") + "-peer", (pl.col("amount") * 2).round(2))
    data = pl.concat([frame, peers]).sort("event_time", "tid")
    rng = random.Random(seed)
    arrival = sorted(range(data.height), key=lambda i: i + rng.uniform(0, 4))
    return data, arrival


def test_stream_features_equal_batch_features_with_peers_and_late_events(topics: Settings) -> None:
    data, arrival = with_peers_and_disorder(history(topics, 3000))
    produce(topics, data[arrival])
    # the disorder spans minutes of event time here: allow an hour of lateness
    stage = AggregatorStage(topics, AggregateWriter(topics), lateness=timedelta(hours=1))
    assert run_until_idle(topics, stage) == data.height
    assert read_all(topics, topics.dead_letter_topic) == []

    latest: dict[str, dict[str, Any]] = {}
    for message in read_all(topics, topics.features_topic):
        if message["tid"] not in latest or message["revision"] > latest[message["tid"]]["revision"]:
            latest[message["tid"]] = message
    batch = compute_card_features(data)
    assert len(latest) == batch.height, "every transaction is emitted"
    for tid, count, mean in batch.select("tid", COUNT_FEATURE, MEAN_FEATURE).iter_rows():
        assert latest[tid][COUNT_FEATURE] == count, tid
        assert latest[tid][MEAN_FEATURE] == pytest.approx(mean, rel=1e-12), tid
    assert any(m["revision"] > 0 for m in latest.values()), "peers and late events caused corrections"

    # the online store holds each card's newest window (event-time overwrite)
    newest = batch.sort("event_time", "tid").group_by("cc_num", maintain_order=True).last().head(5)
    for row in newest.iter_rows(named=True):
        record = get_record(topics, topics.online_feature_group, row["cc_num"])
        assert record is not None
        assert record[COUNT_FEATURE] == row[COUNT_FEATURE]
        assert record[MEAN_FEATURE] == pytest.approx(row[MEAN_FEATURE], rel=1e-12)


def test_demo_decides_every_transaction_from_aggregates_that_include_it(stream: Settings) -> None:
    settings = load_settings(stream, uuid.uuid4().hex[:8])
    seen: list[dict[str, Any]] = []
    decisions = run_demo(settings, fast=True, on_decision=seen.append)
    assert len(decisions) == 13 and len(seen) == 13
    assert [d["features"]["num_trans_last_10m"] for d in decisions] == [1, 1, 1, *range(1, 11)]
    assert all(d["latency_ms"] > 0 for d in decisions)

    # the scorer's inputs: the batch group's 1-week row plus the (newer) 10-minute window, ratios by the rule
    week = {row["cc_num"]: row for row in latest_week_features(settings).iter_rows(named=True)}
    threshold = card_threshold(settings)
    for decision in decisions:
        features, batch = decision["features"], week[decision["cc_num"]]
        count = batch["num_trans_last_1w"] + features["num_trans_last_10m"]
        total = batch["num_trans_last_1w"] * batch["avg_amt_last_1w"] + features["num_trans_last_10m"] * features["avg_amt_last_10m"]
        assert features["num_trans_last_1w"] == count
        assert features["avg_amt_last_1w"] == pytest.approx(total / count)
        expected = card_ratios(features["amount"], features["num_trans_last_10m"], features["avg_amt_last_10m"],
                               features["num_trans_last_1w"], features["avg_amt_last_1w"])
        assert {name: features[name] for name in expected} == pytest.approx(expected)
        assert (decision["decision"] == "FRAUD") == (decision["score"] >= threshold)
    assert decisions[-1]["score"] > max(d["score"] for d in decisions[:3]), "the burst looks riskier than the singles"

    again = run_demo(settings, fast=True)
    assert [d["score"] for d in again] == pytest.approx([d["score"] for d in decisions]), "a rerun decides the same"


def test_malformed_messages_go_to_dead_letter_and_the_pipeline_continues(topics: Settings) -> None:
    good = history(topics, 50)
    known = good["cc_num"][0]
    unknown = "9" * 16
    assert unknown not in set(latest_week_features(topics)["cc_num"])
    t = to_micros(good["event_time"][-1])
    bad: list[tuple[bytes, str]] = [
        (b"not json at all", "not JSON"),
        (orjson.dumps({"tid": "x1", "cc_num": known, "amount": 5.0}), "missing field 'event_time'"),
        (orjson.dumps({"tid": "x2", "cc_num": known, "amount": "5", "event_time": "2026-01-01T00:00:00Z"}),
         "field 'amount' has type str"),
        (encode_json(Transaction("x3", unknown, 5.0, t).to_message()), "unknown card"),
        (encode_json(Transaction("x4", known, 5.0, t - 3_600_000_000).to_message()), "too late"),
    ]
    producer = make_producer(topics)
    produce(topics, good)
    for value, _ in bad:
        producer.send(topics.transactions_topic, key=known.encode(), value=value)
    producer.flush()
    produce(topics, history(topics, 80).slice(50))  # valid traffic after the bad messages
    with Pipeline(topics, prepare(topics)):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(read_all(topics, topics.decisions_topic)) < 80:
            time.sleep(0.5)
    letters = read_all(topics, topics.dead_letter_topic)
    decided = {d["tid"] for d in read_all(topics, topics.decisions_topic)}
    assert decided == set(history(topics, 80)["tid"]), "every valid transaction is decided, before and after"
    assert len(letters) == len(bad)
    for _, reason in bad:
        assert sum(reason in letter["reason"] for letter in letters) == 1, reason
    assert {letter["stage"] for letter in letters} == {"aggregator", "scorer"}
    assert any(letter["value"] == "not json at all" for letter in letters)


def kill_midway(settings: Settings, stage: str, topic: str, at_least: int) -> None:
    process = start_stage(settings, stage)
    deadline = time.monotonic() + 60
    while checkpointed(settings, stage, topic) < at_least and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_kill_and_restart_loses_and_duplicates_nothing(topics: Settings) -> None:
    data = history(topics, 4000)
    produce(topics, data)
    kill_midway(topics, "aggregator", topics.transactions_topic, at_least=1000)
    kill_midway(topics, "scorer", topics.features_topic, at_least=500)
    assert checkpointed(topics, "aggregator", topics.transactions_topic) < data.height, "killed mid-stream"
    assert checkpointed(topics, "scorer", topics.features_topic) < data.height, "killed mid-stream"
    run_until_idle(topics, make_stage(topics, "aggregator"), batch_size=50)
    run_until_idle(topics, make_stage(topics, "scorer"), batch_size=50)

    features = read_all(topics, topics.features_topic)
    keys = [(m["tid"], m["revision"]) for m in features]
    assert len(keys) == len(set(keys)), "no enriched transaction is written twice"
    assert {tid for tid, _ in keys} == set(data["tid"])
    latest = {m["tid"]: m for m in sorted(features, key=lambda m: m["revision"])}
    batch = dict(compute_card_features(data).select("tid", COUNT_FEATURE).iter_rows())
    assert all(latest[tid][COUNT_FEATURE] == count for tid, count in batch.items()), "no double counting"

    decisions = [d["tid"] for d in read_all(topics, topics.decisions_topic)]
    assert len(decisions) == data.height == len(set(decisions)) and set(decisions) == set(data["tid"])


def replay_from_older_checkpoints(settings: Settings, data: pl.DataFrame) -> dict[Path, bytes]:
    """Aggregate the first half of `data`, then the second; then restore the checkpoints taken after the
    first half, as if the stage had crashed before its last ones, and run it again: the second half is
    replayed and no enriched transaction is written twice. Returns the restored checkpoints."""
    half = data.height // 2
    produce(settings, data.head(half))
    run_until_idle(settings, make_stage(settings, "aggregator"), idle_s=1.0)
    older = {path: path.read_bytes() for path in checkpoint_dir(settings).glob(f"aggregator-{settings.transactions_topic}-*")}
    produce(settings, data.slice(half))
    run_until_idle(settings, make_stage(settings, "aggregator"), idle_s=1.0)
    for path, content in older.items():
        path.write_bytes(content)
    assert run_until_idle(settings, make_stage(settings, "aggregator"), idle_s=1.0) == data.height - half, "replayed"
    keys = [(m["tid"], m["revision"]) for m in read_all(settings, settings.features_topic)]
    assert len(keys) == len(set(keys)) and {tid for tid, _ in keys} == set(data["tid"])
    return older


def test_replay_from_an_older_checkpoint_writes_nothing_twice(topics: Settings) -> None:
    assert replay_from_older_checkpoints(topics, history(topics, 1000))


def test_outputs_reach_topics_with_fewer_partitions_than_the_input_once(stream: Settings) -> None:
    """A broker that auto-creates topics (tansu always does) gives a topic its own default count when a client
    reconnecting after a restart asks for it before the kit creates it: here the input has four partitions and
    the outputs one. Every input partition's outputs still arrive, once, also after a replay."""
    settings = load_settings(stream, uuid.uuid4().hex[:8])
    admin = KafkaAdminClient(**client_config(settings))
    try:
        admin.create_topics([NewTopic(settings.transactions_topic, num_partitions=4, replication_factor=1)])
    finally:
        admin.close()
    create_topics(settings, partitions=1)  # keeps the input as it is
    data = history(settings, 1000)
    assert len(replay_from_older_checkpoints(settings, data)) == 4, "one checkpoint per input partition"
    run_until_idle(settings, make_stage(settings, "scorer"), idle_s=1.0)
    decisions = [d["tid"] for d in read_all(settings, settings.decisions_topic)]
    assert len(decisions) == len(set(decisions)) and set(decisions) == set(data["tid"])


def test_lambda_handlers_take_msk_events_and_write_to_kafka(topics: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from fraudkit.streaming import handlers
    from fraudkit.streaming.msk import msk_event

    for name, value in stage_environment(topics).items():
        monkeypatch.setenv(name, value)
    for cached in (handlers._lambda_settings, handlers._lambda_writer, handlers._lambda_scorer, handlers._lambda_producer):
        cached.cache_clear()
    records = enriched_records(topics, 20)
    event = orjson.loads(orjson.dumps(msk_event([*records, records[0]._replace(value=b"{}")], topics.kafka_bootstrap_servers)))

    assert handlers.ingest_handler(event, None) == {"ingested": 20, "dead_letters": 1}
    assert handlers.scoring_handler(event, None) == {"decided": 20, "dead_letters": 1}
    decided = {d["tid"] for d in read_all(topics, topics.decisions_topic)}
    assert decided == set(history(topics, 20)["tid"])
    reasons = [letter["reason"] for letter in read_all(topics, topics.dead_letter_topic)]
    assert sorted(reasons) == ["missing field 'tid'", "missing field 'tid'"]


def is_load_run(name: str) -> bool:
    """Whether a topic or checkpoint name belongs to a `load` run (suffix `-load-<time_ns>`, not a test's hex)."""
    run_id = name.split("-load-", 1)[-1].split("-")[0] if "-load-" in name else ""
    return run_id.isdigit() and len(run_id) >= 16


def test_load_decides_every_transaction_once_and_cleans_up(stream: Settings) -> None:
    from kafka import KafkaAdminClient

    summary = run_load(stream, rate=200, seconds=2, warmup_s=1, linger_ms=5)  # the warm-up's topics are deleted too
    assert (summary["produced"], summary["decided"], summary["lost"], summary["duplicated"]) == (400, 400, 0, 0)
    assert (summary["warmup_s"], summary["linger_ms"]) == (1, 5)
    assert 0 < summary["p50_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert summary["throughput_tps"] > 0 and summary["cpu_ms_per_tx"] > 0
    assert set(summary["cpu_ms_per_tx_by_process"]) >= {"aggregator", "scorer", "emulator"}  # the broker is the session's
    admin = KafkaAdminClient(bootstrap_servers=stream.kafka_bootstrap_servers)
    try:
        assert not [topic for topic in admin.list_topics() if is_load_run(topic)], "the run's topics are deleted"
    finally:
        admin.close()
    assert not [path for path in checkpoint_dir(stream).glob("*.json") if is_load_run(path.stem)], "and its checkpoints"


def batches_of_two_transactions(topics: Settings, rate: float, batching_window_ms: int = 0, linger_ms: int = 0) -> int:
    """How many batches a running aggregator makes of two transactions replayed at `rate` per second."""
    runner = Runner(topics, make_stage(topics, "aggregator"), batching_window_ms=batching_window_ms)
    stop = threading.Event()
    try:
        runner.recover()
        running = threading.Thread(target=runner.run, args=(stop,), daemon=True)
        running.start()
        produce(topics, history(topics, 2), rate=rate, linger_ms=linger_ms)
        deadline = time.monotonic() + 30
        while runner.processed < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        running.join(timeout=30)
    finally:
        runner.close()
    assert runner.processed == 2
    return runner.batches


@pytest.mark.parametrize(("window_ms", "batches"), [(3000, 1), (0, 2)])
def test_a_batch_gathers_what_arrives_within_its_batching_window(topics: Settings, window_ms: int, batches: int) -> None:
    """As Lambda's MaximumBatchingWindowInSeconds: two transactions sent a second apart to a running stage make
    one batch when the window is longer than the gap, and two without a window."""
    assert batches_of_two_transactions(topics, rate=1.0, batching_window_ms=window_ms) == batches


@pytest.mark.parametrize(("linger_ms", "batches"), [(3000, 1), (0, 2)])
def test_the_replays_linger_sets_how_many_transactions_a_stage_batch_holds(
    topics: Settings, linger_ms: int, batches: int
) -> None:
    """Kafka's linger.ms on the replay: two transactions sent half a second apart reach a running stage in one
    request, so one batch, when the linger is longer than the gap; in two requests and two batches without one."""
    assert batches_of_two_transactions(topics, rate=2.0, linger_ms=linger_ms) == batches


def test_a_second_runner_of_the_same_stage_is_refused_until_the_first_stops(topics: Settings) -> None:
    first = Runner(topics, make_stage(topics, "aggregator"))
    try:
        with pytest.raises(RunnerBusy, match=f"pid {os.getpid()}"):
            Runner(topics, make_stage(topics, "aggregator"))
        Runner(topics, make_stage(topics, "scorer")).close()  # another stage is fine
    finally:
        first.close()
    Runner(topics, make_stage(topics, "aggregator")).close()
