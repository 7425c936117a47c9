"""Benchmark: the card features on the real engines (Spark, Flink) next to polars and pandas.

The generated Spark SQL runs on pyspark local[2] and the generated Flink SQL on PyFlink's mini-cluster in
streaming mode (parallelism 2), both in `.venv-engines` as a subprocess (built by `make setup-engines`
when absent; its time is not counted). Each engine's JVM start-up is reported apart from its compute;
the wall time also counts the subprocess and the data hand-over (Parquet for Spark, CSV for Flink).
polars (best of three) and pandas (one run) are timed in this process on the same frame, and every
engine is checked against polars (counts exactly, means within 1e-9). Prints progress on stderr and the
JSON report as the last line of stdout (the contract of bench/run.py).

At `--scale tiny`, a smoke run of the report that must fit `make bench SCALE=tiny`'s two minutes, the JVM
engines are not run (two JVM start-ups and a Flink job took about a minute, on 50,000 rows that polars does
in milliseconds): their rows are reported with no value and a note saying so. Small and full run them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import polars as pl
from fraudkit.config import Settings
from fraudkit.features import CARD_FEATURES, compute_features, engine_flink, engine_spark, feature_differences
from fraudkit.features.compute import validate_input
from fraudkit.features.engines_venv import ensure_engines_venv

from data_gen import ensure_dataset

POLARS_REPEATS = 3
FLINK_PARALLELISM = 2
MEAN_TOLERANCE = 1e-9
JVM_SCALES = ("small", "full")  # the scales the Spark and Flink engines run at
JVM_NOTE = ("Spark and Flink are not run at tiny scale, a smoke run of the report that must fit `make bench "
            "SCALE=tiny`'s two minutes: two JVM start-ups and a Flink job took about a minute on the 2-core machine, "
            "for 50,000 rows that polars does in milliseconds. Small and full scale run them. ")
JVM_SKIPPED = "not run at tiny scale (JVM start-ups alone take about a minute); small and full scale run it"


def log(message: str) -> None:
    print(f"[bench_engines] {message}", file=sys.stderr, flush=True)


def row(metric: str, value: float, unit: str, baseline: float | None = None, target: str = "report",
        met: bool | None = None) -> dict[str, Any]:
    ratio = round(value / baseline, 1) if baseline else None
    return {"metric": metric, "value": round(value, 3), "unit": unit, "baseline": baseline, "ratio": ratio,
            "target": target, "met": met}


def agrees(expected: pl.DataFrame, got: pl.DataFrame) -> bool:
    difference = feature_differences(expected, got, CARD_FEATURES)
    return difference["count_mismatches"] == 0 and difference["max_float_difference"] <= MEAN_TOLERANCE


# the JVM engines' rows: metric, unit, whether polars is the baseline, target (verdict rows: the agreement)
JVM_ROWS = (
    ("cards_spark_startup_seconds", "s", False, "report"),
    ("cards_spark_compute_seconds", "s", True, "report"),
    ("cards_spark_wall_seconds", "s", True, "report"),
    ("cards_flink_startup_seconds", "s", False, "report"),
    ("cards_flink_compute_seconds", "s", True, "report"),
    ("cards_flink_wall_seconds", "s", True, "report"),
    ("cards_spark_agrees", "bool", False, "counts equal, means within 1e-9"),
    ("cards_flink_agrees", "bool", False, "counts equal, means within 1e-9, no late rows"),
)


def jvm_engines(frame: pl.DataFrame, expected: pl.DataFrame) -> dict[str, float]:
    """Spark and Flink on `frame`: start-up, compute and wall seconds, and whether they agree with polars."""
    started = time.perf_counter()
    spark = engine_spark.compute_many([(frame, CARD_FEATURES)])
    spark_wall = time.perf_counter() - started
    spark_compute = float(spark.report["jobs"][0]["seconds"])
    log(f"spark: start-up {spark.report['startup_seconds']} s, compute {spark_compute} s, wall {spark_wall:.1f} s")

    started = time.perf_counter()
    flink = engine_flink.compute_many([(frame, CARD_FEATURES)], parallelism=FLINK_PARALLELISM)
    flink_wall = time.perf_counter() - started
    flink_compute = float(flink.report["compute_seconds"])
    log(f"flink: start-up {flink.report['startup_seconds']} s, compute {flink_compute} s, wall {flink_wall:.1f} s")

    return {
        "cards_spark_startup_seconds": float(spark.report["startup_seconds"]),
        "cards_spark_compute_seconds": spark_compute,
        "cards_spark_wall_seconds": spark_wall,
        "cards_flink_startup_seconds": float(flink.report["startup_seconds"]),
        "cards_flink_compute_seconds": flink_compute,
        "cards_flink_wall_seconds": flink_wall,
        "cards_spark_agrees": float(agrees(expected, spark.features[0])),
        "cards_flink_agrees": float(agrees(expected, flink.features[0]) and not flink.late[0]),
    }


def jvm_rows(values: dict[str, float] | None, polars: float) -> list[dict[str, Any]]:
    """The JVM engines' rows from jvm_engines' `values`; None (a scale that does not run them): the same rows
    with no value and a note saying why (bench/run.py's contract)."""
    rows = []
    for metric, unit, against_polars, target in JVM_ROWS:
        if values is None:
            rows.append({"metric": metric, "value": None, "unit": unit, "baseline": None, "ratio": None,
                         "target": target, "met": None, "notes": JVM_SKIPPED})
        elif unit == "bool":
            rows.append(row(metric, values[metric], unit, target=target, met=bool(values[metric])))
        else:
            rows.append(row(metric, values[metric], unit, baseline=polars if against_polars else None, target=target))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["tiny", "small", "full"], default="small",
                        help="data size preset (full = 5.4 M card transactions)")
    parser.add_argument("--seed", type=int, default=None, help="data seed (default: the settings' seed)")
    args = parser.parse_args()
    settings = Settings.load(scale=args.scale, seed=args.seed)
    load_before = os.getloadavg()[0]
    transactions = pl.read_parquet(ensure_dataset("cards", settings) / "transactions.parquet")
    validate_input(transactions, CARD_FEATURES)
    rows = transactions.height
    jvm = args.scale in JVM_SCALES
    log(f"cards: {rows:,} transactions; engines environment: {ensure_engines_venv() if jvm else 'not needed at tiny'}")
    frame = transactions.select(CARD_FEATURES.input_columns).with_columns(pl.col("event_time").dt.cast_time_unit("us"))

    polars_seconds = float("inf")
    for _ in range(POLARS_REPEATS):
        started = time.perf_counter()
        expected = compute_features(transactions, CARD_FEATURES, "polars").select(CARD_FEATURES.feature_names)
        polars_seconds = min(polars_seconds, time.perf_counter() - started)
    log(f"polars {polars_seconds:.2f} s")
    started = time.perf_counter()
    compute_features(transactions, CARD_FEATURES, "pandas")
    pandas_seconds = time.perf_counter() - started
    log(f"pandas {pandas_seconds:.2f} s")

    polars = round(polars_seconds, 3)
    results = [
        row("cards_polars_seconds", polars_seconds, "s"),
        row("cards_pandas_seconds", pandas_seconds, "s", baseline=polars),
        *jvm_rows(jvm_engines(frame, expected) if jvm else None, polars),
    ]
    notes = (
        f"scale {args.scale} ({rows:,} card transactions). Ratios are engine / polars seconds (polars best of "
        f"{POLARS_REPEATS}). Spark: local[2], compute = read Parquet + SQL + write Parquet. Flink: streaming mode, "
        f"parallelism {FLINK_PARALLELISM}, a watermark after every row, compute = the job (CSV in, CSV out). "
        "Start-up = JVM and session (Spark) or table environment and DDL (Flink); wall adds the subprocess and the "
        f"data hand-over. {'' if jvm else JVM_NOTE}Load average (1 min) before / "
        f"after: {load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs."
    )
    print(json.dumps({"name": "engines", "results": results, "notes": notes}))


if __name__ == "__main__":
    main()
