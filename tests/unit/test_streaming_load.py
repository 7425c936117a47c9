"""The load harness: its summary comes from Kafka timestamps alone, and it leaves no stage process behind."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import polars as pl
import pytest
from fraudkit.config import Settings
from fraudkit.streaming import load
from fraudkit.streaming.load import LoadReport

import data_gen

START_MS = 1_800_000_000_000


def report(rate: float, seconds: float, decide_ms: list[float]) -> LoadReport:
    """A run where transaction i was sent on schedule and decided at `decide_ms[i]` after the start."""
    produced = int(rate * seconds)
    run = LoadReport(rate=rate, seconds=seconds, batch_size=500, produced=produced)
    for i in range(produced):
        run.sent_at_ms.append(START_MS + round(1000 * i / rate))
        run.decided_at_ms.append(START_MS + round(decide_ms[i]))
        run.decided_tids.add(f"t{i}")
        run.decisions += 1
    return run


def test_a_pipeline_that_keeps_up_decides_at_the_offered_rate() -> None:
    rate, seconds = 200.0, 10.0
    summary = report(rate, seconds, [1000 * i / rate + 40 for i in range(int(rate * seconds))]).summary()
    assert summary["p50_ms"] == pytest.approx(40, abs=1) and summary["p99_ms"] == pytest.approx(40, abs=1)
    assert summary["throughput_tps"] == pytest.approx(rate, rel=0.01)
    assert summary["drain_ms"] == pytest.approx(40, abs=1)
    assert summary["backlog_second_half_max"] <= rate * 0.05 + 1  # 40 ms of traffic in flight
    assert (summary["lost"], summary["duplicated"]) == (0, 0)


def test_a_pipeline_at_half_speed_shows_its_capacity_and_a_growing_backlog() -> None:
    rate, seconds = 200.0, 10.0
    summary = report(rate, seconds, [1000 * i / (rate / 2) + 40 for i in range(int(rate * seconds))]).summary()
    assert summary["throughput_tps"] == pytest.approx(rate / 2, rel=0.02)
    assert summary["backlog_second_half_max"] > 1.5 * summary["backlog_first_half_max"] > 0
    assert summary["drain_ms"] == pytest.approx(seconds * 1000, rel=0.05)


def test_lost_and_duplicated_decisions_are_counted() -> None:
    run = report(100.0, 2.0, [10.0 * i + 30 for i in range(200)])
    run.produced += 3  # three transactions never decided
    run.decisions += 2  # two decisions written twice
    summary = run.summary()
    assert (summary["lost"], summary["duplicated"]) == (3, 2)


def test_cpu_per_transaction_counts_the_pipeline_and_shows_the_harness_beside_it() -> None:
    run = report(100.0, 2.0, [10.0 * i + 30 for i in range(200)])
    run.cpu_s = {"aggregator": 0.04, "scorer": 0.06, "broker": 0.02, load.HARNESS: 0.5}
    summary = run.summary()
    assert summary["cpu_ms_per_tx"] == pytest.approx(0.6)  # 120 ms over 200 transactions, harness left out
    assert summary["cpu_ms_per_tx_by_process"][load.HARNESS] == pytest.approx(2.5)


def test_transactions_per_batch_by_stage() -> None:
    run = report(100.0, 2.0, [10.0 * i + 30 for i in range(200)])
    run.batches = {"aggregator": 4, "scorer": 8}
    assert run.summary()["tx_per_batch"] == {"aggregator": 50.0, "scorer": 25.0}


def test_latency_by_second_and_histogram_show_a_slow_start() -> None:
    rate, seconds = 100.0, 3.0
    run = report(rate, seconds, [1000 * i / rate + (300 if i < 10 else 22) for i in range(int(rate * seconds))])
    summary = run.summary()
    assert summary["p99_ms_by_second"] == [300.0, 22.0, 22.0]
    histogram = summary["latency_histogram_ms"]
    assert 300.0 <= histogram["edges"][-1] <= 301.0 and len(histogram["counts"]) == len(histogram["edges"]) - 1
    assert sum(histogram["counts"]) == 300 and histogram["counts"][-1] == 10 and histogram["counts"][4] == 290


def test_a_scorer_that_fails_to_start_does_not_leave_the_aggregator_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[subprocess.Popen[bytes]] = []

    def start_stage(settings: Settings, stage: str, batch_size: int, batching_window_ms: int) -> subprocess.Popen[bytes]:
        if stage == "scorer":
            raise RuntimeError("the scorer stage did not start (exit 1)")
        started.append(subprocess.Popen(["sleep", "60"], stdout=subprocess.PIPE))
        return started[-1]

    monkeypatch.setattr(load, "start_stage", start_stage)
    monkeypatch.setattr(data_gen, "ensure_dataset", lambda kind, settings: tmp_path)
    monkeypatch.setattr(load, "read_transactions", lambda path, limit: pl.DataFrame({"tid": ["t0"]}))
    try:
        with pytest.raises(RuntimeError, match="scorer stage did not start"):
            load._measure(Settings(backend="local", state_dir=tmp_path), load.LoadReport(10.0, 1.0, 1), progress=False)
        assert [process.poll() for process in started] == [-signal.SIGTERM]
    finally:
        for process in started:
            process.kill()
            process.wait()
