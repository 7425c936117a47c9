"""Benchmark: the features command as a whole process, against the pandas reference run the same way.

What a user runs: `python -m fraudkit.features cards --input transactions.parquet --out features.parquet`
(start, read, compute, write), timed as a child process, wall and CPU (user + system) seconds. The baseline
is the same command with `--engine pandas` (the readable pandas reference), and DuckDB is shown beside it;
the engines run in alternating rounds so load swings hit them alike, and each figure is the median of its
rounds. The files they write must agree (counts exactly, means within 1e-9). The same for the Handbook
features (one round). Target (issue 17): the card command at least 5 times faster than the pandas
reference at full scale (5.4 M transactions). Prints progress on stderr and the JSON report as the last
line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from common import log, result
from fraudkit.config import Settings
from fraudkit.features import FEATURE_SETS, feature_differences

from data_gen import ensure_dataset

SPEEDUP_TARGET = 5.0
# rounds per kind and scale: tiny keeps `make bench SCALE=tiny` within its 2 minutes
ROUNDS = {"cards": 3, "handbook": 1}
TINY_ROUNDS = {"cards": 1, "handbook": 1}
ENGINES = ("polars", "pandas", "duckdb")
MEAN_TOLERANCE = 1e-9


def timed_command(kind: str, source: Path, out: Path, engine: str) -> tuple[float, float]:
    """Wall and CPU seconds of one `python -m fraudkit.features` process, start to exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fraudkit.features", kind, "--input", str(source), "--out", str(out),
                    "--engine", engine, "--quiet"], check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def bench_kind(kind: str, settings: Settings, scratch: Path) -> tuple[list[dict[str, Any]], str]:
    rounds = (TINY_ROUNDS if settings.scale == "tiny" else ROUNDS)[kind]
    source = ensure_dataset(kind, settings) / "transactions.parquet"
    rows = pl.scan_parquet(source).select(pl.len()).collect().item()
    walls: dict[str, list[float]] = {engine: [] for engine in ENGINES}
    cpus: dict[str, list[float]] = {engine: [] for engine in ENGINES}
    for round_ in range(rounds):
        for engine in ENGINES:
            wall, cpu = timed_command(kind, source, scratch / f"{kind}-{engine}.parquet", engine)
            walls[engine].append(wall)
            cpus[engine].append(cpu)
            log(f"{kind} round {round_ + 1}: {engine} {wall:.2f} s wall, {cpu:.2f} s CPU")
    wall = {engine: statistics.median(values) for engine, values in walls.items()}
    cpu = {engine: statistics.median(values) for engine, values in cpus.items()}
    written = {engine: pl.read_parquet(scratch / f"{kind}-{engine}.parquet") for engine in ENGINES}
    differences = {engine: feature_differences(written["polars"], written[engine], FEATURE_SETS[kind])
                   for engine in ("pandas", "duckdb")}
    agree = all(d["count_mismatches"] == 0 and d["max_float_difference"] <= MEAN_TOLERANCE for d in differences.values())
    targeted = kind == "cards" and settings.scale == "full"
    target = f">= {SPEEDUP_TARGET:g}x faster than pandas at full scale" if targeted else "report"
    ratio_met = wall["pandas"] / wall["polars"] >= SPEEDUP_TARGET if targeted else None
    results = [
        result(f"{kind} command wall time (polars) vs pandas reference", wall["polars"], "s", target, ratio_met,
               wall["pandas"], speedup=True, headline=kind == "cards"),
        result(f"{kind} command CPU time (polars) vs pandas reference", cpu["polars"], "s", "report (less load-sensitive)",
               None, cpu["pandas"], speedup=True, headline=kind == "cards"),
        result(f"{kind} command wall time (duckdb) vs pandas reference", wall["duckdb"], "s", "report", None,
               wall["pandas"], speedup=True),
        result(f"{kind} command rows per second (polars)", rows / wall["polars"], "rows/s", "report", None,
               rows / wall["pandas"]),
        result(f"{kind} files agree (polars, pandas, duckdb)", float(agree), "bool",
               f"counts equal, means within {MEAN_TOLERANCE:g}", agree),
    ]
    notes = (f"{kind}: {rows:,} transactions, {rounds} round(s), medians; walls "
             f"{json.dumps({e: [round(w, 2) for w in v] for e, v in walls.items()})}, CPU "
             f"{json.dumps({e: [round(c, 2) for c in v] for e, v in cpus.items()})}. ")
    return results, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["tiny", "small", "full"], default="full",
                        help="data size preset (default: full = 5.4 M card transactions)")
    parser.add_argument("--seed", type=int, default=None, help="data seed (default: the settings' seed)")
    args = parser.parse_args()
    settings = Settings.load(scale=args.scale, seed=args.seed)
    load_before = os.getloadavg()[0]
    results: list[dict[str, Any]] = []
    notes = ("Whole processes as a user runs them (interpreter start, imports, Parquet read, compute, Parquet write); "
             "ratio = pandas reference time / ours (the speed-up). ")
    with tempfile.TemporaryDirectory(prefix="fraudkit-bench-features-") as scratch:
        for kind in ("cards", "handbook"):
            kind_results, kind_notes = bench_kind(kind, settings, Path(scratch))
            results += kind_results
            notes += kind_notes
    notes += (f"The reference design's Spark processing job took about 8 minutes for the card features. Load average "
              f"(1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.")
    print(json.dumps({"name": "features", "results": results, "notes": notes}))


if __name__ == "__main__":
    main()
