"""Faults in the streaming path: services restarted between runs, stages killed with SIGKILL mid-stream,
the broker restarted under a running pipeline, dead letters of both stages next to a crash.

Each test counts what it checked and fails on a zero count. `FRAUDKIT_SOAK_ROUNDS` sets the number of
restart and kill rounds (small in `make test`, at least 20 in `make soak`).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fraudkit.config import Settings
from fraudkit.services import stop_local_services
from fraudkit.streaming import broker
from fraudkit.streaming.broker import create_topics
from fraudkit.streaming.demo import run_demo
from fraudkit.streaming.kafka_clients import (
    make_producer,
)
from fraudkit.streaming.load import load_settings
from fraudkit.streaming.pipeline import make_stage, prepare
from fraudkit.streaming.producer import produce
from fraudkit.streaming.records import Transaction, encode_json, to_micros

from tests.fixtures.streaming import history, read_all, run_until_idle, start_stage

pytestmark = pytest.mark.integration

ROUNDS = int(os.environ.get("FRAUDKIT_SOAK_ROUNDS", "3"))


@pytest.fixture(scope="module")
def own_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A state directory with its own emulator and broker, which these tests stop and restart."""
    state_dir = tmp_path_factory.mktemp("restarted-services")
    settings = Settings.load(backend="local", scale="tiny", state_dir=state_dir)
    try:
        prepare(settings)
        yield settings
    finally:
        stop_local_services(state_dir)


def decisions_by_tid(settings: Settings) -> dict[str, dict[str, Any]]:
    """The decisions on the broker by transaction id; a duplicate fails the calling test."""
    decided: dict[str, dict[str, Any]] = {}
    for decision in read_all(settings, settings.decisions_topic):
        assert decision["tid"] not in decided, f"decision for {decision['tid']} written twice"
        decided[decision["tid"]] = decision
    return decided


def test_the_demo_decides_everything_after_each_services_restart(own_services: Settings) -> None:
    """The user's defect: `services down`, then the demo timed out waiting for decisions its stages had
    skipped (their checkpoints pointed into the new, empty broker's topics)."""
    checked = 0
    for _ in range(max(ROUNDS, 2)):
        assert stop_local_services(own_services.state_dir), "the services ran and were stopped"
        decisions = run_demo(own_services, fast=True, timeout_s=60)
        assert len(decisions) == 13 and len({d["tid"] for d in decisions}) == 13
        checked += len(decisions)
    assert checked >= 26


def mixed_input(settings: Settings, n: int, seed: int) -> tuple[list[tuple[bytes, bytes]], set[str]]:
    """(key, value) messages: `n` card transactions with malformed messages and unknown cards between
    them on the same keys (dead letters of both stages in the same partitions); the ids to be decided."""
    rng = random.Random(seed)
    data = history(settings, n)
    messages: list[tuple[bytes, bytes]] = []
    for row in data.iter_rows(named=True):
        key = row["cc_num"].encode()
        if rng.random() < 0.05:
            messages.append((key, b"not json"))  # the aggregator's dead letter
        if rng.random() < 0.05:  # a well-formed transaction of a card the model has no features for: the scorer's
            stranger = Transaction(f"{row['tid']}-stranger", "9" * 16, 1.0, to_micros(row["event_time"]))
            messages.append((key, encode_json(stranger.to_message())))
        messages.append((key, encode_json(Transaction(row["tid"], row["cc_num"], row["amount"], to_micros(row["event_time"])).to_message())))
    return messages, set(data["tid"])


def send(settings: Settings, messages: list[tuple[bytes, bytes]]) -> None:
    producer = make_producer(settings)
    try:
        for key, value in messages:
            producer.send(settings.transactions_topic, key=key, value=value)
        producer.flush()
    finally:
        producer.close()


def fresh_topics(settings: Settings) -> Settings:
    topics = load_settings(settings, uuid.uuid4().hex[:8])
    create_topics(topics)
    return topics


def test_marker_of_one_stage_never_suppresses_another_stage_output(topics: Settings) -> None:
    """Both stages write dead letters to one topic; a scorer started after the aggregator dead-lettered
    input offset k must still write its own output for its input offset k (markers were "k:0" for both)."""
    messages, expected = mixed_input(topics, 400, seed=3)
    first_key = messages[0][0]
    send(topics, [(first_key, b"not json"), *messages])  # offset 0 of a partition is a dead letter
    run_until_idle(topics, make_stage(topics, "aggregator"), idle_s=1.0)
    run_until_idle(topics, make_stage(topics, "scorer"), idle_s=1.0)
    decided = decisions_by_tid(topics)
    assert set(decided) == expected and len(expected) == 400


def test_sigkill_rounds_decide_exactly_what_an_uninterrupted_run_decides(stream: Settings) -> None:
    rng = random.Random(11)
    messages, expected = mixed_input(stream, 3000, seed=5)
    reference = fresh_topics(stream)
    send(reference, messages)
    run_until_idle(reference, make_stage(reference, "aggregator"), idle_s=1.0)
    run_until_idle(reference, make_stage(reference, "scorer"), idle_s=1.0)
    want = {tid: (d["decision"], d["score"], d["features"]) for tid, d in decisions_by_tid(reference).items()}
    assert set(want) == expected

    faulty = fresh_topics(stream)
    size = -(-len(messages) // ROUNDS)
    chunks = [messages[i : i + size] for i in range(0, len(messages), size)]  # each round brings the next traffic
    kills = 0
    for chunk in chunks:
        send(faulty, chunk)
        stages = {name: start_stage(faulty, name) for name in ("aggregator", "scorer")}
        time.sleep(rng.uniform(0.05, 1.5))
        for name in rng.sample(sorted(stages), k=rng.choice((1, 2))):
            os.kill(stages[name].pid, signal.SIGKILL)
            kills += 1
        for process in stages.values():
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    run_until_idle(faulty, make_stage(faulty, "aggregator"), idle_s=1.0)
    run_until_idle(faulty, make_stage(faulty, "scorer"), idle_s=1.0)
    got = {tid: (d["decision"], d["score"], d["features"]) for tid, d in decisions_by_tid(faulty).items()}
    assert kills >= ROUNDS
    assert got == want, "same decisions, none lost, none duplicated"
    letters = sorted((m["stage"], m["reason"]) for m in read_all(faulty, faulty.dead_letter_topic))
    assert letters == sorted((m["stage"], m["reason"]) for m in read_all(reference, reference.dead_letter_topic))
    assert len(letters) > 0


def wait_for_decisions(settings: Settings, wanted: set[str], timeout_s: float = 90.0) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        decided = decisions_by_tid(settings)
        if wanted <= decided.keys() or time.monotonic() > deadline:
            return decided
        time.sleep(0.5)


def stage_summary(process: subprocess.Popen[bytes]) -> tuple[dict[str, Any], str]:
    """Stop a `run` process; its final summary line (empty if it printed none) and what it logged."""
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    lines = out.strip().splitlines()
    return (orjson.loads(lines[-1]) if lines else {}), err.decode(errors="replace")


def test_broker_restart_mid_stream_recovers_and_reports_it(own_services: Settings) -> None:
    """The in-memory broker restarts under running stages: they reconnect by themselves, decide all new
    traffic exactly once, and report the restart with the number of records they saw and lost."""
    prepare(own_services)  # an earlier test may have stopped the services
    settings = fresh_topics(own_services)
    data = history(settings, 3000)
    before, during, after = data.slice(0, 1000), data.slice(1000, 1000), data.slice(2000, 1000)
    stages = {name: start_stage(settings, name, stderr=subprocess.PIPE) for name in ("aggregator", "scorer")}
    try:
        produce(settings, before)
        decided_before = wait_for_decisions(settings, set(before["tid"]))
        port = int(settings.kafka_bootstrap_servers.rsplit(":", 1)[1])
        produce(settings, during)
        assert broker.stop(settings.state_dir)
        broker.start(settings.state_dir, port=port)  # same address: the stages' own clients reconnect to it
        create_topics(settings)
        produce(settings, after)
        decided_after = wait_for_decisions(settings, set(after["tid"]))
        died = [name for name, process in stages.items() if process.poll() is not None]
    finally:
        summaries = {name: stage_summary(process) for name, process in stages.items()}
    logs = "".join(f"\n--- {name} logged:\n{log}" for name, (_, log) in summaries.items())
    assert set(before["tid"]) <= decided_before.keys(), f"traffic before the restart is decided{logs}"
    assert set(after["tid"]) == decided_after.keys(), f"all new traffic is decided, once (the old topic is gone){logs}"
    assert not died, f"no stage died{logs}"
    for name, (summary, log) in summaries.items():
        assert "was recreated" in log and "never processed" in log, f"{name} reports the restart{logs}"
        assert summary["lost"] >= 0 and summary["processed"] >= 1000
