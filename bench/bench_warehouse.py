"""Benchmark: the SQL-warehouse path on the Handbook data (full scale: about 1.75 M transactions).

The transactions are published to a fresh local broker (setup, timed apart), ingested into a new DuckDB
warehouse by the kit's ingestion loop (rows/s; baseline: the replay producer's rate in the same run), and the
feature view is computed in full into a table (its refresh time; baseline: the polars engine on the same
transactions in the same process, whose values the view must equal). Target: ingest + views <= 60 s at full
scale. Prints progress on stderr and the JSON report as the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from fraudkit.config import Settings
from fraudkit.features import HANDBOOK_FEATURES, compute_features, feature_differences
from fraudkit.streaming import broker as broker_launcher
from fraudkit.warehouse import FEATURES_VIEW, connect, create_topic, create_views, ingest, publish

from data_gen import ensure_dataset

TARGET_SECONDS = 60.0


def log(message: str) -> None:
    print(f"[bench_warehouse] {message}", file=sys.stderr, flush=True)


def run(settings: Settings, scratch: Path) -> tuple[list[dict], str]:
    transactions = pl.read_parquet(ensure_dataset("handbook", settings) / "transactions.parquet")
    rows = transactions.height
    record = broker_launcher.start(scratch)
    try:
        work = settings.replace(state_dir=scratch, bootstrap_servers=record["bootstrap_servers"])
        create_topic(work)
        started = time.perf_counter()
        publish(work, transactions)
        publish_seconds = time.perf_counter() - started
        log(f"published {rows:,} transactions in {publish_seconds:.1f} s")
        connection = connect(work)
        result = ingest(work, connection)
        log(f"ingested {result.inserted:,} rows in {result.seconds:.1f} s ({result.duplicates} repeats, {result.rejected} malformed)")
        create_views(connection)
        started = time.perf_counter()
        connection.execute(f"CREATE TABLE refreshed AS SELECT * FROM {FEATURES_VIEW}")
        view_seconds = time.perf_counter() - started
        views = connection.sql("SELECT * FROM refreshed ORDER BY transaction_id").pl()
        connection.close()
    finally:
        broker_launcher.stop(scratch)
    log(f"feature view computed in {view_seconds:.2f} s")
    started = time.perf_counter()
    batch = compute_features(transactions.sort("transaction_id"), HANDBOOK_FEATURES, "polars")
    polars_seconds = time.perf_counter() - started
    differences = feature_differences(batch, views.select(HANDBOOK_FEATURES.feature_names), HANDBOOK_FEATURES)
    agree = result.inserted == rows and differences["count_mismatches"] == 0 and differences["max_float_difference"] <= 1e-9
    log(f"polars {polars_seconds:.2f} s; views equal the polars features: {agree} {differences}")
    total = result.seconds + view_seconds
    full = settings.scale == "full"
    results = [
        {"metric": "ingest_rows_per_second", "value": round(rows / result.seconds), "unit": "rows/s",
         "baseline": round(rows / publish_seconds), "ratio": round(publish_seconds / result.seconds, 2),
         "target": "report (baseline: the replay producer's rate; ratio ingest / produce)", "met": None},
        {"metric": "view_refresh_seconds", "value": round(view_seconds, 3), "unit": "s",
         "baseline": round(polars_seconds, 3), "ratio": round(view_seconds / polars_seconds, 2),
         "target": "report (baseline: the polars engine; ratio view / polars)", "met": None},
        {"metric": "ingest_plus_views_seconds", "value": round(total, 2), "unit": "s", "baseline": None, "ratio": None,
         "target": f"<= {TARGET_SECONDS:.0f} s at full scale", "met": total <= TARGET_SECONDS if full else None},
        {"metric": "views_equal_polars", "value": float(agree), "unit": "bool", "baseline": None, "ratio": None,
         "target": "every row ingested once; counts equal, means within 1e-9", "met": agree},
    ]
    notes = (f"scale {settings.scale}: {rows:,} Handbook transactions published to a fresh tansu broker in "
             f"{publish_seconds:.1f} s (setup), ingested in batches of the default size, feature view materialized "
             "once into a table. ")
    return results, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["tiny", "small", "full"], default="full",
                        help="data size preset (default: full = about 1.75 M Handbook transactions)")
    parser.add_argument("--seed", type=int, default=None, help="data seed (default: the settings' seed)")
    args = parser.parse_args()
    settings = Settings.load(scale=args.scale, seed=args.seed)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fraudkit-bench-warehouse-") as scratch:
        results, notes = run(settings, Path(scratch))
    notes += f"Load average (1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs."
    print(json.dumps({"name": "warehouse", "results": results, "notes": notes}))


if __name__ == "__main__":
    main()
