"""InvokeEndpoint on the emulator through boto3, against a do-nothing server measured in the same run.

The floor is the emulator's own HTTP stack answering `{}` to everything, in its own process (the
helper of bench_featurestore.py): what it costs is boto3 plus loopback HTTP, which no endpoint can beat.
The endpoint serves a booster shaped like the card model (8 features, depth 6, 150 trees). Measured:
one-row CSV p99 (target <= 5 ms) and rows per second with batched CSV bodies (target >= 20,000),
each next to the floor's number for the same calls.

Usage: python bench/bench_endpoint.py [--scale tiny|small|full]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from common import FLOOR_SERVER, client, interleaved_latencies_ms, log, result
from fraudkit.config import Settings
from fraudkit.emulator import launcher
from fraudkit.model import CARD_MODEL_FEATURES, deploy, rows_to_csv
from fraudkit.model.artifact import tarball_bytes

CALLS = {"tiny": 300, "small": 1500, "full": 4000}
BATCH_ROWS = 1000
P99_TARGET_MS = 5.0
ROWS_PER_SECOND_TARGET = 20_000


def card_shaped_artifact(path: Path, seed: int = 0) -> Path:
    """A booster with the card model's input width and tree shape, trained on synthetic rows."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 1.0, size=(20_000, len(CARD_MODEL_FEATURES))).astype(np.float32)
    y = (x[:, 1] + rng.normal(size=len(x)) > 4).astype(np.float32)
    params = {"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "seed": seed, "nthread": 2}
    booster = xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=150)
    path.write_bytes(tarball_bytes(booster))
    return path


def run(scale: str) -> dict[str, Any]:
    calls = CALLS[scale]
    state_dir = Path(tempfile.mkdtemp(prefix="bench-endpoint-"))
    # the model is trained while the two servers start (set-up, not measured; XGBoost leaves the GIL)
    training = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    artifact = training.submit(card_shaped_artifact, state_dir / "model.tar.gz")
    floor = subprocess.Popen([sys.executable, "-c", FLOOR_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        record = launcher.start(state_dir, port=0)
        assert floor.stdout is not None
        floor_url = f"http://127.0.0.1:{floor.stdout.readline().strip()}"
        settings = Settings.load(backend="local", state_dir=state_dir, emulator_port=record["port"], scale=scale)
        log("deploying a card-shaped model")
        endpoint = deploy(settings, artifact.result())
        emulator_rt, floor_rt = (client("sagemaker-runtime", url) for url in (record["url"], floor_url))

        rng = np.random.default_rng(1)
        one_row = [rows_to_csv(rng.gamma(2.0, 1.0, size=(1, len(CARD_MODEL_FEATURES)))) for _ in range(64)]
        batches = [rows_to_csv(rng.gamma(2.0, 1.0, size=(BATCH_ROWS, len(CARD_MODEL_FEATURES)))) for _ in range(8)]

        def invoke(runtime: Any, bodies: list[bytes]) -> Any:
            return lambda i: runtime.invoke_endpoint(
                EndpointName=endpoint, ContentType="text/csv", Body=bodies[i % len(bodies)]
            )["Body"].read()

        log(f"one-row InvokeEndpoint x{calls} (emulator, floor, interleaved)")
        ours_ms, floor_ms = interleaved_latencies_ms([invoke(rt, one_row) for rt in (emulator_rt, floor_rt)], calls)
        batch_calls = max(calls // 20, 20)
        log(f"{BATCH_ROWS}-row InvokeEndpoint x{batch_calls} (emulator, floor, interleaved)")
        ours_rps, floor_rps = (
            BATCH_ROWS * 1000 / float(np.mean(ms))
            for ms in interleaved_latencies_ms([invoke(rt, batches) for rt in (emulator_rt, floor_rt)], batch_calls)
        )
    finally:
        training.shutdown()
        launcher.stop(state_dir)
        floor.terminate()
        floor.wait(timeout=10)
        shutil.rmtree(state_dir, ignore_errors=True)  # the emulator's state, the model
    ours_p99, floor_p99 = float(np.percentile(ours_ms, 99)), float(np.percentile(floor_ms, 99))
    results = [
        result("one-row p99", ours_p99, "ms", f"<= {P99_TARGET_MS} ms", ours_p99 <= P99_TARGET_MS, baseline=floor_p99,
               headline=True),
        result("one-row p50", float(np.median(ours_ms)), "ms", "", None, baseline=float(np.median(floor_ms))),
        result(f"batched ({BATCH_ROWS} rows) throughput", ours_rps, "rows/s", f">= {ROWS_PER_SECOND_TARGET:,} rows/s",
               ours_rps >= ROWS_PER_SECOND_TARGET, baseline=floor_rps, headline=True),
    ]
    notes = (f"{calls} one-row calls after warm-up and {batch_calls} calls of {BATCH_ROWS} rows, one boto3 client, "
             "keep-alive, CSV bodies encoded before timing; baseline = the do-nothing floor server for the same "
             "calls. Model: 8 features, depth 6, 150 trees. Timings on a shared 2-core machine.")
    return {"name": "endpoint", "results": results, "notes": notes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="full", choices=list(CALLS), help="number of calls per series")
    args = parser.parse_args()
    print(json.dumps(run(args.scale)))


if __name__ == "__main__":
    main()
