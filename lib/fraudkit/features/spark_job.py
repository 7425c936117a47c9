"""The batch features as a PySpark job: the generated Spark SQL over a transactions Parquet dataset.

One file serves two uses. The kit runs it in `.venv-engines` on pyspark in local mode for
`python -m fraudkit.features cards|handbook --engine spark`; and `python -m fraudkit.features spark-job`
writes a standalone copy (the SQL text inlined, needing only pyspark) that a user submits unchanged to a
cluster: `spark-submit cards_features.py --input s3://bucket/transactions/ --output s3://bucket/features/`
on EMR, Glue or a SageMaker Processing job (the reference design's backfill), where the cluster provides
Java and the S3 file system.

The output keeps every input column and appends the features, one row per input row, as Parquet with
microsecond timestamps. The session time zone is UTC: naive timestamps (the Handbook's) are read as UTC
wall time, as every other engine of the kit does, and the calendar flags are UTC hours and weekdays.

Nothing here may import pyspark at module level or anything outside the standard library and pyspark
at all when EMBEDDED is set: the standalone copy runs where fraudkit is not installed.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from typing import Any

SOURCE_VIEW = "transactions"
# kind -> {"timestamp": column, "sql": Spark SQL}; a standalone copy has its feature set's entry inlined here
EMBEDDED: dict[str, dict[str, str]] = {}


def job_sql(kind: str) -> tuple[str, str]:
    """(timestamp column, Spark SQL) of a feature set: inlined in a standalone copy, else generated."""
    if kind in EMBEDDED:
        return EMBEDDED[kind]["timestamp"], EMBEDDED[kind]["sql"]
    from fraudkit.features.spec import FEATURE_SETS
    from fraudkit.features.sql import spark_sql

    feature_set = FEATURE_SETS[kind]
    return feature_set.timestamp, spark_sql(feature_set, SOURCE_VIEW)


def standalone_source(*kinds: str) -> str:
    """This module's text with the SQL of `kinds` inlined: a job that needs only pyspark."""
    with open(__file__, encoding="utf-8") as source:
        text = source.read()
    inlined = json.dumps({kind: dict(zip(("timestamp", "sql"), job_sql(kind), strict=True)) for kind in kinds}, indent=4)
    text, found = re.subn(r"^EMBEDDED: (.*) = \{\}$", lambda m: f"EMBEDDED: {m.group(1)} = {inlined}", text, flags=re.M)
    if found != 1:
        raise RuntimeError("spark_job.py: the EMBEDDED line must occur exactly once")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Add the fraudkit features to a transactions Parquet dataset with Spark SQL (input columns kept, "
        "features appended, one row per input row). --features/--input/--output may repeat to run several "
        "jobs in one Spark session.",
    )
    parser.add_argument("--features", action="append", choices=["cards", "handbook"], help="feature set (default: the one inlined)")
    parser.add_argument("--input", action="append", required=True, help="transactions Parquet file or directory URI (s3:// on a cluster)")
    parser.add_argument("--output", action="append", required=True, help="Parquet directory URI to write (overwritten)")
    parser.add_argument("--master", default=None, help="Spark master, e.g. local[2] (default: what spark-submit sets)")
    parser.add_argument("--shuffle-partitions", type=int, default=None, help="spark.sql.shuffle.partitions (default: Spark's)")
    return parser


def run(spark: Any, kind: str, input_uri: str, output_uri: str) -> None:
    """Read, compute, write one feature set: the only place the generated SQL meets Spark."""
    from pyspark.sql import functions

    timestamp, sql = job_sql(kind)
    transactions = spark.read.parquet(input_uri)
    # TIMESTAMP_NTZ (naive Parquet timestamps) -> TIMESTAMP in the UTC session zone: unix_micros needs it
    transactions.withColumn(timestamp, functions.col(timestamp).cast("timestamp")).createOrReplaceTempView(SOURCE_VIEW)
    spark.sql(sql).write.mode("overwrite").parquet(output_uri)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    kinds = args.features or list(EMBEDDED)
    if not (len(kinds) == len(args.input) == len(args.output)):
        raise SystemExit("spark_job: give one --features (unless inlined), --input and --output per job")
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    builder = SparkSession.builder.appName("fraudkit-features")
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    builder = builder.config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")  # not INT96
    if args.master:
        builder = builder.master(args.master).config("spark.ui.enabled", "false")
    if args.shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - started
    timings = []
    for kind, input_uri, output_uri in zip(kinds, args.input, args.output, strict=True):
        began = time.perf_counter()
        run(spark, kind, input_uri, output_uri)
        timings.append({"features": kind, "output": output_uri, "seconds": round(time.perf_counter() - began, 3)})
    spark.stop()
    print(json.dumps({"engine": "spark", "startup_seconds": round(startup, 3), "jobs": timings}))


if __name__ == "__main__":
    main()
