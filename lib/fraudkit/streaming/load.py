"""Load test of the whole path, produce -> aggregator -> scorer -> decision, on 127.0.0.1 only.

Each run gets its own topics (suffix `-load-<n>`) so there is no backlog from earlier runs, and
deletes them (and its stages' checkpoints) at the end: tansu keeps topics in memory, and a broker
holding earlier runs' traffic answers more slowly. The aggregator and the scorer run as separate
processes (`python -m fraudkit.streaming run`), as they would be deployed; this process replays
generated card transactions at the requested rate for a bounded time and reads the decisions.

Every figure comes from Kafka timestamps, so this process's own reading lag does not count:
latency runs from the transaction's send (its timestamp, carried through as `produced_ms`) to the
decision's (set when the scorer wrote it); `throughput_tps` counts decisions made while the load
was offered, after a one-second warm-up (the offered rate when the pipeline keeps up, its capacity
when it does not); the backlog (sent, not yet decided) is read every half second of the run, and
`drain_ms` is how long after the last transaction the last decision came.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import polars as pl
import psutil

from fraudkit.background import is_running
from fraudkit.config import Settings, read_service_record, service_files
from fraudkit.heap import long_lived_objects_frozen
from fraudkit.streaming import DEFAULT_BATCHING_WINDOW_MS, REPLAY_LINGER_MS
from fraudkit.streaming.broker import create_topics, delete_topics
from fraudkit.streaming.pipeline import TopicTail, prepare
from fraudkit.streaming.producer import produce, read_transactions
from fraudkit.streaming.runner import checkpoint_dir

DRAIN_TIMEOUT_S = 30.0
WARMUP_S = 1.0  # excluded from the sustained-throughput window
WARMUP_RUN_S = 3.0  # the unmeasured run before each measured one
BACKLOG_STEP_S = 0.5
DEFAULT_BATCH_SIZE = 500
STAGE_START_TIMEOUT_S = 60.0
# this process (replay producer, decision reader): a test harness, not part of the path it measures
HARNESS = "load harness (producer, reader)"
HISTOGRAM_STEP_MS, HISTOGRAM_TOP_MS = 5.0, 200.0


@dataclass
class LoadReport:
    rate: float
    seconds: float
    batch_size: int
    batching_window_ms: int = DEFAULT_BATCHING_WINDOW_MS
    linger_ms: int = REPLAY_LINGER_MS
    produced: int = 0
    decided_tids: set[str] = field(default_factory=set)
    decisions: int = 0
    dead_letters: int = 0
    sent_at_ms: list[int] = field(default_factory=list)  # Kafka timestamp of each decided transaction
    decided_at_ms: list[int] = field(default_factory=list)  # and of its decision
    cpu_s: dict[str, float] = field(default_factory=dict)  # by process, the harness's own included
    batches: dict[str, int] = field(default_factory=dict)  # by stage: polls it handled

    def summary(self) -> dict[str, Any]:
        sent_at = np.asarray(self.sent_at_ms, dtype=np.float64) / 1000
        decided_at = np.asarray(self.decided_at_ms, dtype=np.float64) / 1000
        latencies = 1000 * (decided_at - sent_at) if sent_at.size else np.asarray([np.nan])
        first_send, last_send = (float(sent_at.min()), float(sent_at.max())) if sent_at.size else (0.0, 0.0)
        start = first_send + min(WARMUP_S, self.seconds / 5)
        in_window = int(np.count_nonzero((decided_at >= start) & (decided_at <= last_send)))
        backlog = self.backlog(np.sort(decided_at), first_send, last_send)
        half = len(backlog) // 2
        return {
            "rate": self.rate,
            "batch_size": self.batch_size,
            "batching_window_ms": self.batching_window_ms,
            "linger_ms": self.linger_ms,
            "seconds": self.seconds,
            "produced": self.produced,
            "decided": len(self.decided_tids),
            "lost": self.produced - len(self.decided_tids) - self.dead_letters,
            "duplicated": self.decisions - len(self.decided_tids),
            "dead_letters": self.dead_letters,
            "p50_ms": round(float(np.percentile(latencies, 50)), 2),
            "p99_ms": round(float(np.percentile(latencies, 99)), 2),
            "max_ms": round(float(np.max(latencies)), 2),
            "throughput_tps": round(in_window / max(last_send - start, 1e-9), 1),
            "drain_ms": round(1000 * (float(decided_at.max(initial=0)) - last_send), 1),
            "backlog_first_half_max": int(backlog[:half].max(initial=0)),
            "backlog_second_half_max": int(backlog[half:].max(initial=0)),
            # machine-independent cost: CPU of every process on the path (broker, emulator, stages) per produced
            # transaction; the harness's own share is shown beside it, not counted in it
            "cpu_ms_per_tx": self.per_tx(sum(s for name, s in self.cpu_s.items() if name != HARNESS)),
            "cpu_ms_per_tx_by_process": {name: self.per_tx(seconds) for name, seconds in self.cpu_s.items()},
            # per-batch costs (two service calls in the scorer, a produce request per stage) dominate: a busy
            # machine makes fewer, larger batches and so less CPU per transaction than a quiet one
            "tx_per_batch": {name: round(self.produced / count, 1) for name, count in self.batches.items() if count},
            "p99_ms_by_second": self.p99_by_second(sent_at - first_send, latencies),
            "latency_histogram_ms": histogram(latencies),
        }

    @staticmethod
    def p99_by_second(sent_s: np.ndarray, latencies: np.ndarray) -> list[float]:
        """The p99 latency of the transactions sent in each second of the run (where a slow start or a
        slowdown through the run shows); NaN-free: a second without decisions is left out at the end."""
        seconds = sent_s.astype(np.int64)
        return [
            round(float(np.percentile(latencies[seconds == second], 99)), 1)
            for second in range(int(seconds.max(initial=-1)) + 1)
            if np.any(seconds == second)
        ]

    def per_tx(self, cpu_s: float) -> float:
        """CPU milliseconds per produced transaction."""
        return round(1000 * cpu_s / max(self.produced, 1), 3)

    def backlog(self, decided_at: np.ndarray, first_send: float, last_send: float) -> np.ndarray:
        """Transactions sent (by the replay's schedule) but not yet decided, every BACKLOG_STEP_S of the run."""
        times = np.arange(first_send + BACKLOG_STEP_S, last_send, BACKLOG_STEP_S)
        sent = np.minimum(self.produced, np.floor((times - first_send) * self.rate))
        return np.maximum(0, sent - np.searchsorted(decided_at, times, side="right")).astype(np.int64)


def histogram(latencies: np.ndarray) -> dict[str, list[float]]:
    """Decision latencies in HISTOGRAM_STEP_MS bins up to HISTOGRAM_TOP_MS, the slower ones in one last bin."""
    finite = latencies[np.isfinite(latencies)]
    edges = np.arange(0.0, HISTOGRAM_TOP_MS + HISTOGRAM_STEP_MS, HISTOGRAM_STEP_MS)
    top = float(finite.max(initial=0.0))
    if top > HISTOGRAM_TOP_MS:
        edges = np.append(edges, np.ceil(top))
    counts, _ = np.histogram(np.clip(finite, 0.0, None), bins=edges)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def load_settings(settings: Settings, run_id: str) -> Settings:
    """The settings of one load run: its own topics."""
    return settings.replace(
        transactions_topic=f"transactions-load-{run_id}",
        features_topic=f"features-load-{run_id}",
        decisions_topic=f"decisions-load-{run_id}",
        dead_letter_topic=f"dead-letter-load-{run_id}",
    )


def stage_environment(settings: Settings) -> dict[str, str]:
    """The environment a `run` subprocess needs to use exactly these settings."""
    env = dict(os.environ)
    env.update(
        FRAUDKIT_BACKEND=settings.backend,
        FRAUDKIT_SCALE=settings.scale,
        FRAUDKIT_SEED=str(settings.seed),
        FRAUDKIT_STATE_DIR=str(settings.state_dir),
        FRAUDKIT_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        FRAUDKIT_TRANSACTIONS_TOPIC=settings.transactions_topic,
        FRAUDKIT_FEATURES_TOPIC=settings.features_topic,
        FRAUDKIT_DECISIONS_TOPIC=settings.decisions_topic,
        FRAUDKIT_DEAD_LETTER_TOPIC=settings.dead_letter_topic,
        FRAUDKIT_EMULATOR_URL=settings.emulator_url,  # read by the local backend only
    )
    return env


def start_stage(
    settings: Settings, stage: str, batch_size: int = DEFAULT_BATCH_SIZE,
    batching_window_ms: int = DEFAULT_BATCHING_WINDOW_MS,
) -> subprocess.Popen[bytes]:
    """One pipeline stage as a child process; it prints `ready` on stdout once it consumes."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fraudkit.streaming", "run", "--stage", stage, "--batch-size", str(batch_size),
         "--batching-window-ms", str(batching_window_ms), "--quiet"],
        env=stage_environment(settings), stdout=subprocess.PIPE, stderr=None,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + STAGE_START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.strip() == b"ready":
            return process
    process.kill()
    raise RuntimeError(f"the {stage} stage did not start (exit {process.poll()})")


def stop_stage(process: subprocess.Popen[bytes]) -> dict[str, Any]:
    """Stop a stage; returns its summary line (CPU seconds after it was ready, records, batches), or {}."""
    process.terminate()
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    lines = output.decode().strip().splitlines()
    try:
        summary = orjson.loads(lines[-1])
    except (IndexError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


@contextlib.contextmanager
def running_stages(settings: Settings, report: LoadReport) -> Iterator[None]:
    """The aggregator and the scorer running as child processes for the `with` block.

    Each started stage is stopped on the way out (its CPU seconds and batch count go into `report`), also
    when a later one fails to start: a scorer that does not come up must not leave the aggregator running.
    """
    stages: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in ("aggregator", "scorer"):
            stages[name] = start_stage(settings, name, report.batch_size, report.batching_window_ms)
        yield
    finally:
        for name, process in stages.items():
            summary = stop_stage(process)
            report.cpu_s[name] = float(summary.get("cpu_s", 0.0))
            report.batches[name] = int(summary.get("batches", 0))


def service_processes(settings: Settings) -> dict[str, psutil.Process]:
    """The backend's local service processes (none on aws or when the broker is someone else's)."""
    found: dict[str, psutil.Process] = {}
    for service in settings.provider.local_services:
        record = read_service_record(service_files(settings.state_dir, service.name).record)
        if record is not None and is_running(record):
            with contextlib.suppress(psutil.Error):
                found[service.name] = psutil.Process(int(record["pid"]))
    return found


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def run_load(
    settings: Settings, rate: float, seconds: float, batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = False,
    warmup_s: float = WARMUP_RUN_S, batching_window_ms: int = DEFAULT_BATCHING_WINDOW_MS,
    linger_ms: int = REPLAY_LINGER_MS,
) -> dict[str, Any]:
    """Replay `rate` x `seconds` transactions through fresh topics and summarise the decisions.

    `batch_size` is the most records a stage handles per batch (1 = the reference design's one call
    per transaction), `batching_window_ms` how long a batch gathers records after its first, `linger_ms`
    how long the replay's producer gathers transactions into one request. A run of
    `warmup_s` at the same rate goes first, on topics of its own, unmeasured: one-time costs of freshly
    started services (first requests, caches, connections) stay out of the figures, which are about the
    steady state.
    """
    def report(duration_s: float) -> LoadReport:
        return LoadReport(rate, duration_s, batch_size, batching_window_ms, linger_ms)

    prepare(settings)  # services, feature groups, batch features, endpoint: outside the measurement
    # what prepare() loaded (botocore's models) stays out of full GC passes, which stalled the producer
    with long_lived_objects_frozen():
        if warmup_s > 0:
            _run_on_own_topics(settings, report(warmup_s), progress=False)
        summary = _run_on_own_topics(settings, report(seconds), progress)
    summary["warmup_s"] = warmup_s
    return summary


def _run_on_own_topics(settings: Settings, report: LoadReport, progress: bool) -> dict[str, Any]:
    """One measured replay on topics made for it, deleted (with its checkpoints) afterwards."""
    run_id = str(time.time_ns())
    run = load_settings(settings, run_id)
    create_topics(run)
    try:
        return _measure(run, report, progress)
    finally:
        delete_topics(run)
        for checkpoint in checkpoint_dir(run).glob(f"*-load-{run_id}-*.json"):
            checkpoint.unlink()


def _measure(run: Settings, report: LoadReport, progress: bool) -> dict[str, Any]:
    """Replay `report.rate` x `report.seconds` transactions through the stages and fill `report`."""
    from data_gen import ensure_dataset

    frame = read_transactions(ensure_dataset("cards", run) / "transactions.parquet", limit=int(report.rate * report.seconds))
    with running_stages(run, report):
        services = service_processes(run)
        services_before = {name: cpu_seconds(process) for name, process in services.items()}
        cpu_before = time.process_time()
        try:
            # latency comes from the decisions' own timestamps, so this reader may fetch lazily: fewer, fuller
            # fetches leave the broker's CPU to the pipeline
            tail = TopicTail(run, run.decisions_topic, from_beginning=True, fetch_min_bytes=1 << 20, fetch_max_wait_ms=200)
            dead = TopicTail(run, run.dead_letter_topic, from_beginning=True)
            producing = threading.Thread(target=_produce_into, args=(run, frame, progress, report), daemon=True)
            producing.start()
            _collect(tail, dead, frame, producing, report)
            producing.join()
            tail.close()
            dead.close()
        finally:
            report.cpu_s[HARNESS] = time.process_time() - cpu_before
    for name, process in services.items():
        report.cpu_s[name] = cpu_seconds(process) - services_before[name]
    return report.summary()


def _produce_into(settings: Settings, frame: pl.DataFrame, progress: bool, report: LoadReport) -> None:
    report.produced = produce(settings, frame, rate=report.rate, progress=progress, linger_ms=report.linger_ms)


def _collect(tail: TopicTail, dead: TopicTail, frame: pl.DataFrame, producing: threading.Thread, report: LoadReport) -> None:
    """Read decisions until every transaction is decided or dead-lettered, or nothing moves for a while."""
    expected = frame.height
    last_progress = time.monotonic()
    while True:
        got = 0
        for records in tail.consumer.poll(timeout_ms=50).values():
            for record in records:
                decision = orjson.loads(record.value)
                report.decisions += 1
                report.decided_tids.add(decision["tid"])
                report.sent_at_ms.append(decision["produced_ms"])
                report.decided_at_ms.append(record.timestamp)
                got += 1
        for records in dead.consumer.poll(timeout_ms=0).values():
            report.dead_letters += len(records)
            got += len(records)
        now = time.monotonic()
        if got:
            last_progress = now
        if len(report.decided_tids) + report.dead_letters >= expected and not producing.is_alive():
            return
        if not producing.is_alive() and now - last_progress > DRAIN_TIMEOUT_S:
            return
