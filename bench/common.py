"""What the benchmarks share: the result record of bench/run.py's contract, progress on stderr, and,
for the HTTP benchmarks, a boto3 client, the do-nothing floor server and an interleaved latency sampler."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
import numpy as np
from botocore.config import Config

# The floor: the same server stack doing no work. It answers `{}`, except BatchGetRecord, which gets a
# canned copy of a real 100-record answer (argv[1], when given) so boto3's parsing of 100 records is in the floor too.
FLOOR_SERVER = """
import sys
from pathlib import Path
from fraudkit.emulator.server import EmulatorHTTPServer
from fraudkit.emulator.wire import HttpResponse
canned = Path(sys.argv[1]).read_bytes() if len(sys.argv) > 1 else b"{}"
headers = [("Content-Type", "application/json")]
server = EmulatorHTTPServer(0, lambda r: HttpResponse(200, canned if r.path == "/BatchGetRecord" else b"{}", headers))
print(server.port, flush=True)
server.serve_forever()
"""


def streaming_scale(scale: str) -> str:
    """The data scale of the streaming benchmarks at bench scale `scale`: the load replays at most 3,300 x
    seconds transactions, so data beyond the small preset adds nothing."""
    return "tiny" if scale == "tiny" else "small"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def client(service: str, url: str) -> Any:
    config = Config(retries={"max_attempts": 1}, tcp_keepalive=True)
    return boto3.client(  # type: ignore[call-overload]
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench", config=config
    )


def interleaved_latencies_ms(calls: list[Callable[[int], Any]], count: int, rounds: int = 20) -> list[np.ndarray]:
    """Per-call latencies of each target, measured in alternating rounds so load swings hit all alike."""
    for call in calls:
        for i in range(min(100, count)):
            call(i)
    samples: list[list[float]] = [[] for _ in calls]
    per_round = max(count // rounds, 1)
    for r in range(rounds):
        for call, out in zip(calls, samples, strict=True):
            for i in range(r * per_round, (r + 1) * per_round):
                started = time.perf_counter()
                call(i)
                out.append((time.perf_counter() - started) * 1000)
    return [np.array(out) for out in samples]


def result(metric: str, value: float, unit: str, target: str, met: bool | None,
           baseline: float | None = None, *, speedup: bool = False, headline: bool = False) -> dict[str, Any]:
    """One row of the report. The ratio is value / baseline, or baseline / value with `speedup` (how many times
    faster ours is than a baseline time); `headline` rows make the summary table (bench/run.py)."""
    ratio = None
    if baseline and value:
        ratio = baseline / value if speedup else value / baseline
    return {"metric": metric, "value": round(value, 4), "unit": unit,
            "baseline": None if baseline is None else round(baseline, 4),
            "ratio": None if ratio is None else round(ratio, 4), "target": target, "met": met, "headline": headline}
