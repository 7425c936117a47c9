"""kill -9 the emulator during concurrent PutRecord, BatchWriteRecord and bulk-ingest load, restart it
on the same state dir: every acknowledged record is present and intact.

Rounds from FRAUDKIT_SOAK_ROUNDS (default 2; `make soak` runs more). Each round kills the server at a
random moment while the writers run, so acknowledged writes are those whose answer arrived before it.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from botocore.config import Config
from fraudkit.config import Settings
from fraudkit.emulator import launcher
from fraudkit.featurestore.ingest import bulk_ingest_local

from tests.reliability.raw import OFFLINE, create_group, emulator_client, wire_record

pytestmark = pytest.mark.integration
ROUNDS = int(os.environ.get("FRAUDKIT_SOAK_ROUNDS", "2"))
PUT_WRITERS, MAX_WRITES_PER_WRITER, BATCH_SIZE, BULK_ROWS = 4, 5_000, 10, 200
GROUP = "killed-under-load"
Acknowledged = dict[str, dict[str, str]]  # record id -> the wire values GetRecord must return


def client(settings: Settings, service: str) -> Any:
    """One attempt per call: a retried write would be acknowledged by a later server than the killed one."""
    return emulator_client(settings, service, Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))


def values(cc: str, i: int) -> dict[str, str]:
    """Per record values that tell records apart (floats whose text is the same typed and as a string)."""
    return {"cc_num": cc, "num_trans": str(i), "avg_amt": str(i + 0.5), "trans_time": str(1_000_000.0 + i)}


def put_writer(settings: Settings, prefix: str, acknowledged: Acknowledged, stop: threading.Event) -> None:
    runtime = client(settings, "sagemaker-featurestore-runtime")
    for i in range(MAX_WRITES_PER_WRITER):
        if stop.is_set():
            return
        cc = f"{prefix}-{i}"
        try:
            runtime.put_record(FeatureGroupName=GROUP, Record=wire_record(cc, i, i + 0.5, 1_000_000.0 + i))
        except Exception:  # the server died: unacknowledged from here on
            return
        acknowledged[cc] = values(cc, i)


def batch_writer(settings: Settings, prefix: str, acknowledged: Acknowledged, stop: threading.Event) -> None:
    runtime = client(settings, "sagemaker-featurestore-runtime")
    for batch in range(MAX_WRITES_PER_WRITER // BATCH_SIZE):
        if stop.is_set():
            return
        ids = [(f"{prefix}-{batch}-{j}", batch * BATCH_SIZE + j) for j in range(BATCH_SIZE)]
        entries = [
            {"FeatureGroupName": GROUP, "Record": wire_record(cc, i, i + 0.5, 1_000_000.0 + i)}
            for cc, i in ids
        ]
        try:
            answer = runtime.batch_write_record(Entries=entries)
        except Exception:
            return
        failed = {
            e["Entry"]["Record"][0]["ValueAsString"] for e in answer["Errors"] + answer["UnprocessedEntries"]
        }
        acknowledged.update({cc: values(cc, i) for cc, i in ids if cc not in failed})


def bulk_writer(settings: Settings, prefix: str, acknowledged: Acknowledged, stop: threading.Event) -> None:
    for chunk in range(MAX_WRITES_PER_WRITER // BULK_ROWS):
        if stop.is_set():
            return
        numbers = list(range(chunk * BULK_ROWS, (chunk + 1) * BULK_ROWS))
        frame = pl.DataFrame(
            {
                "cc_num": [f"{prefix}-{i}" for i in numbers],
                "num_trans": numbers,
                "avg_amt": [i + 0.5 for i in numbers],
                "trans_time": [1_000_000.0 + i for i in numbers],
            }
        )
        try:
            bulk_ingest_local(settings, GROUP, frame, quiet=True)
        except Exception:
            return
        acknowledged.update({f"{prefix}-{i}": values(f"{prefix}-{i}", i) for i in numbers})


def started(state_dir: Path) -> tuple[Settings, int]:
    record = launcher.start(state_dir, port=0)
    return Settings.load(backend="local", state_dir=state_dir, emulator_port=record["port"]), int(
        record["pid"]
    )


def stored(settings: Settings, ids: list[str]) -> dict[str, dict[str, str]]:
    runtime = client(settings, "sagemaker-featurestore-runtime")
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(ids), 100):
        answer = runtime.batch_get_record(
            Identifiers=[
                {"FeatureGroupName": GROUP, "RecordIdentifiersValueAsString": ids[start : start + 100]}
            ]
        )
        assert not answer["Errors"] and not answer["UnprocessedIdentifiers"], answer
        for item in answer["Records"]:
            found[item["RecordIdentifierValueAsString"]] = {
                f["FeatureName"]: f["ValueAsString"] for f in item["Record"]
            }
    return found


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    rng = random.Random(20260516)
    settings, pid = started(tmp_path)
    create_group(settings, GROUP, **OFFLINE)
    acknowledged: Acknowledged = {}
    try:
        for round_ in range(ROUNDS):
            stop = threading.Event()
            writers = [
                threading.Thread(target=put_writer, args=(settings, f"r{round_}-put{w}", acknowledged, stop))
                for w in range(PUT_WRITERS)
            ]
            writers.append(
                threading.Thread(target=batch_writer, args=(settings, f"r{round_}-batch", acknowledged, stop))
            )
            writers.append(
                threading.Thread(target=bulk_writer, args=(settings, f"r{round_}-bulk", acknowledged, stop))
            )
            for writer in writers:
                writer.start()
            time.sleep(rng.uniform(0.3, 1.2))
            os.kill(pid, signal.SIGKILL)
            stop.set()
            for writer in writers:
                writer.join(timeout=60)
                assert not writer.is_alive()
            settings, pid = started(tmp_path)
            found = stored(settings, sorted(acknowledged))
            lost = sorted(set(acknowledged) - set(found))
            assert not lost, f"round {round_}: {len(lost)} acknowledged records lost, e.g. {lost[:5]}"
            changed = [cc for cc, expected in acknowledged.items() if found[cc] != expected]
            assert not changed, (
                f"round {round_}: records changed, e.g. {[(c, found[c]) for c in changed[:3]]}"
            )
    finally:
        launcher.stop(tmp_path)
    assert len(acknowledged) > 0
    assert len(acknowledged) < ROUNDS * (PUT_WRITERS + 2) * MAX_WRITES_PER_WRITER, (
        "every writer finished: no kill mid-load"
    )
    assert any(cc.startswith("r0-put") for cc in acknowledged) and any("-bulk-" in cc for cc in acknowledged)
