"""Feature Store emulator latency and throughput against a do-nothing server measured in the same run.

The floor is the same HTTP server stack (`fraudkit.emulator.server`) doing no work, in its own
process like the emulator: `{}` to everything, and a canned copy of a real 100-record answer to
BatchGetRecord. What remains is boto3's own cost per call (for BatchGetRecord mostly parsing). Measured:
GetRecord p99 (target <= 1.5x floor), BatchGetRecord of 100 records p99 (<= 10 ms), PutRecord rate
from one client (>= 75% of the floor's), and the bulk path for the scale's card transactions
(5.4 M at full: <= 60 s), compared with PutRecord at the measured rate.

Usage: python bench/bench_featurestore.py [--scale tiny|small|full]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import polars as pl
from common import FLOOR_SERVER, client, interleaved_latencies_ms, log, result
from fraudkit.config import SCALES, Settings
from fraudkit.emulator import launcher
from fraudkit.featurestore import batch_group, create_feature_groups, ingest, read_online

FULL_ROWS = SCALES["full"].card_transactions
CALLS = {"tiny": 300, "small": 1500, "full": 4000}
def raw_batch_answer(url: str, group: str, ids: list[str]) -> bytes:
    """The emulator's HTTP answer body to a BatchGetRecord of `ids` (the floor replays it)."""
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    body = json.dumps({"Identifiers": [{"FeatureGroupName": group, "RecordIdentifiersValueAsString": ids}]})
    connection.request("POST", "/BatchGetRecord", body=body, headers={"Content-Type": "application/json"})
    answer = connection.getresponse().read()
    connection.close()
    return answer


def card_feature_rows(rows: int, cards: int, seed: int) -> pl.DataFrame:
    """Synthetic rows shaped like cc-agg-batch-fg (event times spread over 183 days, sorted)."""
    rng = np.random.default_rng(seed)
    start = 1_704_067_200.0  # 2024-01-01
    times = np.sort(rng.uniform(start, start + 183 * 86400, rows)).round(3)
    return pl.DataFrame(
        {
            "cc_num": (4_000_000_000_000_000 + rng.integers(0, cards, rows)).astype(str),
            "num_trans_last_1w": rng.integers(1, 60, rows),
            "avg_amt_last_1w": rng.gamma(2.0, 40.0, rows).round(2),
            "trans_time": times,
        }
    )


def run(scale: str) -> dict[str, Any]:
    calls = CALLS[scale]
    rows = SCALES[scale].card_transactions
    cards = SCALES[scale].cards
    state_dir = Path(tempfile.mkdtemp(prefix="bench-featurestore-"))
    floor: subprocess.Popen[str] | None = None
    try:
        record = launcher.start(state_dir, port=0)
        settings = Settings.load(backend="local", state_dir=state_dir, emulator_port=record["port"], scale=scale)
        spec = batch_group(settings)
        create_feature_groups(settings, [spec])
        preload = card_feature_rows(max(cards * 5, 1000), cards, seed=1)
        ingest(settings, spec.name, preload, quiet=True)
        ids = preload["cc_num"].unique().sort().to_list()
        batches = [ids[(i * 100) % len(ids):][:100] for i in range(len(ids) // 100 + 1)]
        canned = state_dir / "batch-answer.json"
        canned.write_bytes(raw_batch_answer(record["url"], spec.name, batches[0]))
        floor = subprocess.Popen([sys.executable, "-c", FLOOR_SERVER, str(canned)], stdout=subprocess.PIPE, text=True)
        assert floor.stdout is not None
        floor_url = f"http://127.0.0.1:{floor.stdout.readline().strip()}"
        emulator_rt, floor_rt = (client("sagemaker-featurestore-runtime", url) for url in (record["url"], floor_url))

        log(f"GetRecord x{calls} (emulator, floor)")
        get = interleaved_latencies_ms(
            [lambda i, c=c: c.get_record(FeatureGroupName=spec.name, RecordIdentifierValueAsString=ids[i % len(ids)])
             for c in (emulator_rt, floor_rt)], calls)
        log(f"BatchGetRecord(100) x{calls // 4}")

        def batch_get(c: Any, i: int) -> Any:
            return c.batch_get_record(Identifiers=[{"FeatureGroupName": spec.name, "RecordIdentifiersValueAsString": batches[i % len(batches)]}])

        batch = interleaved_latencies_ms([lambda i, c=c: batch_get(c, i) for c in (emulator_rt, floor_rt)], calls // 4)
        assert len(batch_get(emulator_rt, 0)["Records"]) == len(batches[0])

        log(f"PutRecord x{calls} from one client")
        put_rows = card_feature_rows(calls + 1, cards, seed=2)
        records = [[{"FeatureName": k, "ValueAsString": repr(v) if isinstance(v, float) else str(v)} for k, v in row.items()]
                   for row in put_rows.iter_rows(named=True)]
        put_ms = interleaved_latencies_ms(
            [lambda i, c=c: c.put_record(FeatureGroupName=spec.name, Record=records[i]) for c in (emulator_rt, floor_rt)], calls)
        rates = [1000.0 / float(np.mean(samples)) for samples in put_ms]

        log(f"bulk path: {rows:,} rows, {cards:,} cards")
        frame = card_feature_rows(rows, cards, seed=3)
        bulk_spec = batch_group(settings.replace(batch_feature_group="bulk-bench"))
        create_feature_groups(settings, [bulk_spec])
        started = time.perf_counter()
        ingest(settings, bulk_spec.name, frame, quiet=True)
        bulk_seconds = time.perf_counter() - started
        online = read_online(settings, bulk_spec.name, frame["cc_num"].unique().to_list())
        assert online.height == frame["cc_num"].n_unique(), "every card must have its latest record online"
        latest = frame.sort("trans_time").unique("cc_num", keep="last").sort("cc_num")
        assert online.sort("cc_num")["trans_time"].to_list() == latest["trans_time"].to_list()
    finally:
        launcher.stop(state_dir)
        if floor is not None:
            floor.terminate()
            floor.wait(timeout=10)
        shutil.rmtree(state_dir, ignore_errors=True)  # the emulator's stores: the bulk rows' offline Parquet too

    get_p99, floor_get_p99 = (float(np.percentile(s, 99)) for s in get)
    batch_p99, floor_batch_p99 = (float(np.percentile(s, 99)) for s in batch)
    put_rate, floor_put_rate = rates
    putrecord_seconds = rows / put_rate
    results = [
        result("GetRecord p99", get_p99, "ms", "<= 1.5x floor", get_p99 <= 1.5 * floor_get_p99, baseline=floor_get_p99,
               headline=True),
        result("GetRecord p50", float(np.percentile(get[0], 50)), "ms", "informative", None,
               baseline=float(np.percentile(get[1], 50))),
        result("BatchGetRecord(100) p50", float(np.percentile(batch[0], 50)), "ms", "informative", None,
               baseline=float(np.percentile(batch[1], 50))),
        result("BatchGetRecord(100) p99", batch_p99, "ms", "<= 10 ms", batch_p99 <= 10.0, baseline=floor_batch_p99, headline=True),
        result("PutRecord rate, one client (sequential)", put_rate, "records/s", ">= 0.75x floor",
               put_rate >= 0.75 * floor_put_rate, baseline=floor_put_rate, headline=True),
        result(f"bulk ingest {rows:,} rows", bulk_seconds, "s", "<= 60 s at full scale (5.4 M rows)",
               bulk_seconds <= 60.0 if rows >= FULL_ROWS else None, baseline=putrecord_seconds, headline=True),
    ]
    notes = (f"{calls} calls per latency series after warm-up, one boto3 client, keep-alive; floor = same server stack "
             f"answering {{}} (a canned 100-record answer to BatchGetRecord) in its own process. Bulk baseline = PutRecord at the measured one-client rate "
             f"({rows:,} rows / {put_rate:.0f} per s). Timings on a shared 2-core machine.")
    return {"name": "featurestore", "results": results, "notes": notes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="full", choices=list(SCALES), help="size of the bulk ingest and call counts")
    args = parser.parse_args()
    print(json.dumps(run(args.scale)))


if __name__ == "__main__":
    main()
