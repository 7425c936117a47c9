"""The load test's summary: figures from Kafka timestamps alone, for a pipeline that keeps up and one that does not."""

from __future__ import annotations

import pytest
from fraudkit.streaming.load import LoadReport

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
