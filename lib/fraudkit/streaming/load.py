"""Load test of the whole path, produce -> aggregator -> scorer -> decision, on 127.0.0.1 only.

Each run gets its own topics (suffix `-load-<n>`) so there is no backlog from earlier runs. The
aggregator and the scorer run as separate processes (`python -m fraudkit.streaming run`), as they
would be deployed; this process replays generated card transactions at the requested rate for a
bounded time and reads the decisions. Latency is end to end: from the producer's send timestamp
(the transaction's Kafka timestamp, carried through as `produced_ms`) to the decision's Kafka
timestamp (set when the scorer wrote it), so this process's own reading lag does not count.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import polars as pl
import psutil

from fraudkit.config import Settings, read_service_record
from fraudkit.streaming.broker import create_topics
from fraudkit.streaming.pipeline import TopicTail, prepare
from fraudkit.streaming.producer import produce, read_transactions

DRAIN_TIMEOUT_S = 30.0
DEFAULT_BATCH_SIZE = 500
STAGE_START_TIMEOUT_S = 60.0


@dataclass
class LoadReport:
    rate: float
    seconds: float
    batch_size: int
    produced: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    decided_tids: set[str] = field(default_factory=set)
    decisions: int = 0
    dead_letters: int = 0
    first_produce: float = 0.0
    last_decision: float = 0.0
    backlog_samples: list[int] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        latencies = np.asarray(self.latencies_ms) if self.latencies_ms else np.asarray([np.nan])
        span = max(self.last_decision - self.first_produce, 1e-9)
        half = len(self.backlog_samples) // 2
        return {
            "rate": self.rate,
            "batch_size": self.batch_size,
            "seconds": self.seconds,
            "produced": self.produced,
            "decided": len(self.decided_tids),
            "lost": self.produced - len(self.decided_tids) - self.dead_letters,
            "duplicated": self.decisions - len(self.decided_tids),
            "dead_letters": self.dead_letters,
            "p50_ms": round(float(np.percentile(latencies, 50)), 2),
            "p99_ms": round(float(np.percentile(latencies, 99)), 2),
            "max_ms": round(float(np.max(latencies)), 2),
            "throughput_tps": round(len(self.decided_tids) / span, 1),
            # backlog = produced but not yet decided, sampled every 0.5 s while producing
            "backlog_first_half_max": max(self.backlog_samples[:half], default=0),
            "backlog_second_half_max": max(self.backlog_samples[half:], default=0),
            # machine-independent cost: CPU of every process on the path, per produced transaction
            "cpu_ms_per_tx": round(1000 * sum(self.cpu_s.values()) / max(self.produced, 1), 3),
            "cpu_ms_per_tx_by_process": {k: round(1000 * v / max(self.produced, 1), 3) for k, v in self.cpu_s.items()},
        }


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
    )
    if settings.backend == "local":
        env["FRAUDKIT_EMULATOR_URL"] = settings.emulator_url
    return env


def start_stage(settings: Settings, stage: str, batch_size: int = DEFAULT_BATCH_SIZE) -> subprocess.Popen[bytes]:
    """One pipeline stage as a child process; it prints `ready` on stdout once it consumes."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fraudkit.streaming", "run", "--stage", stage, "--batch-size", str(batch_size), "--quiet"],
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


def stop_stage(process: subprocess.Popen[bytes]) -> float:
    """Stop a stage; returns the CPU seconds it spent after it was ready (0.0 if it did not say)."""
    process.terminate()
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    lines = output.decode().strip().splitlines()
    try:
        return float(orjson.loads(lines[-1])["cpu_s"])
    except (IndexError, ValueError, KeyError, TypeError):
        return 0.0


def service_processes(settings: Settings) -> dict[str, psutil.Process]:
    """The local emulator and broker processes (none on aws or when the broker is someone else's)."""
    found = {}
    if settings.backend == "local":
        for name, path in (("emulator", settings.emulator_dir / "server.json"), ("broker", settings.broker_dir / "broker.json")):
            record = read_service_record(path)
            if record is not None:
                with contextlib.suppress(psutil.Error):
                    found[name] = psutil.Process(int(record["pid"]))
    return found


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def run_load(
    settings: Settings, rate: float, seconds: float, batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = False
) -> dict[str, Any]:
    """Replay `rate` x `seconds` transactions through fresh topics and summarise the decisions.

    `batch_size` is the most records a stage handles per batch (1 = the reference design's one call
    per transaction).
    """
    from data_gen import ensure_dataset

    prepare(settings)  # services, feature groups, batch features, endpoint: outside the measurement
    run = load_settings(settings, str(time.time_ns()))
    create_topics(run)
    frame = read_transactions(ensure_dataset("cards", settings) / "transactions.parquet", limit=int(rate * seconds))
    report = LoadReport(rate=rate, seconds=seconds, batch_size=batch_size)
    stages = {name: start_stage(run, name, batch_size) for name in ("aggregator", "scorer")}
    services = service_processes(run)
    services_before = {name: cpu_seconds(process) for name, process in services.items()}
    cpu_before = time.process_time()
    try:
        tail = TopicTail(run, run.decisions_topic, from_beginning=True)
        dead = TopicTail(run, run.dead_letter_topic, from_beginning=True)
        producing = threading.Thread(target=_produce_into, args=(run, frame, rate, progress, report), daemon=True)
        report.first_produce = time.time()
        producing.start()
        _collect(tail, dead, frame, producing, report)
        producing.join()
        tail.close()
        dead.close()
    finally:
        report.cpu_s["load (producer, reader)"] = time.process_time() - cpu_before
        for name, process in stages.items():
            report.cpu_s[name] = stop_stage(process)
    for name, process in services.items():
        report.cpu_s[name] = cpu_seconds(process) - services_before[name]
    return report.summary()


def _produce_into(settings: Settings, frame: pl.DataFrame, rate: float, progress: bool, report: LoadReport) -> None:
    report.produced = produce(settings, frame, rate=rate, progress=progress)


def _collect(tail: TopicTail, dead: TopicTail, frame: pl.DataFrame, producing: threading.Thread, report: LoadReport) -> None:
    """Read decisions until every transaction is decided or dead-lettered, or nothing moves for a while."""
    expected = frame.height
    last_progress = time.monotonic()
    next_sample = time.monotonic() + 0.5
    while True:
        got = 0
        for records in tail.consumer.poll(timeout_ms=50).values():
            for record in records:
                decision = orjson.loads(record.value)
                report.decisions += 1
                report.decided_tids.add(decision["tid"])
                report.latencies_ms.append(record.timestamp - decision["produced_ms"])
                got += 1
        for records in dead.consumer.poll(timeout_ms=0).values():
            report.dead_letters += len(records)
            got += len(records)
        now = time.monotonic()
        if got:
            last_progress = now
            report.last_decision = time.time()
        if producing.is_alive() and now >= next_sample:
            sent = min(expected, int((time.time() - report.first_produce) * report.rate))
            report.backlog_samples.append(max(0, sent - len(report.decided_tids)))
            next_sample = now + 0.5
        if len(report.decided_tids) + report.dead_letters >= expected and not producing.is_alive():
            return
        if not producing.is_alive() and now - last_progress > DRAIN_TIMEOUT_S:
            return
