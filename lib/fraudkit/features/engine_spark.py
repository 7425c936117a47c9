"""The Spark engine: the generated Spark SQL on pyspark in local mode, in `.venv-engines` (`spark_job`).

The same job file a user submits to a cluster runs here on `local[2]`; the kit hands it Parquet with a
row number and reads back the features in input order. Several feature sets share one Spark session
(one JVM start, about 5-10 s), which the tests and the benchmark use.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from fraudkit.features.engines_venv import run_job
from fraudkit.features.spec import FeatureSet

ROW = "__row"
LOCAL_MASTER = "local[2]"
# Spark's default of 200 shuffle partitions is for clusters; on two local cores it is mostly scheduling
LOCAL_SHUFFLE_PARTITIONS = 8


@dataclass
class SparkRun:
    """The features of each task, in input order, and the job's timings (start-up apart from compute)."""

    features: list[pl.DataFrame] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def compute_many(tasks: list[tuple[pl.DataFrame, FeatureSet]], job: list[str] | None = None) -> SparkRun:
    """Run every (transactions, feature set) task in one Spark session.

    `job` is the command that runs the job in `.venv-engines` (default: `-m fraudkit.features.spark_job`;
    the tests pass a standalone copy's path).
    """
    with tempfile.TemporaryDirectory(prefix="fraudkit-spark-") as tmp:
        args = [*(job or ["-m", "fraudkit.features.spark_job"]), "--master", LOCAL_MASTER,
                "--shuffle-partitions", str(LOCAL_SHUFFLE_PARTITIONS)]
        outputs = []
        for index, (df, feature_set) in enumerate(tasks):
            source, target = Path(tmp) / f"in{index}.parquet", Path(tmp) / f"out{index}"
            df.with_row_index(ROW).write_parquet(source)
            args += ["--input", str(source), "--output", str(target)]
            if job is None:
                args += ["--features", feature_set.name]
            outputs.append(target)
        report = run_job(args)
        frames = [
            pl.read_parquet(target / "*.parquet", columns=[ROW, *feature_set.feature_names]).sort(ROW).drop(ROW)
            for target, (_, feature_set) in zip(outputs, tasks, strict=True)
        ]
    return SparkRun(frames, report)


def compute(df: pl.DataFrame, feature_set: FeatureSet) -> pl.DataFrame:
    """The feature columns of `feature_set` for `df`, in the input's row order (one Spark session)."""
    return compute_many([(df, feature_set)]).features[0]


def spark_job_command(argv: list[str]) -> None:
    """`python -m fraudkit.features spark-job`: write the standalone job, print how to submit it, optionally run it."""
    import argparse

    from fraudkit.features.engines_venv import REPO_ROOT
    from fraudkit.features.spark_job import standalone_source

    parser = argparse.ArgumentParser(
        prog="python -m fraudkit.features spark-job",
        description="Write the feature job as one PySpark file with the generated Spark SQL inlined (needs only "
        "pyspark), to submit unchanged with spark-submit, on EMR, Glue or a SageMaker Processing job. Input: a "
        "transactions Parquet file or directory; output: a Parquet directory (input columns plus the features).",
    )
    parser.add_argument("kind", choices=["cards", "handbook"], help="which feature set")
    parser.add_argument("--input", required=True, help="transactions URI, e.g. s3://bucket/cards/transactions/")
    parser.add_argument("--output", required=True, help="output URI, e.g. s3://bucket/cards/features/")
    parser.add_argument("--script", type=Path, default=None, help="where to write the job (default: build/spark-job/KIND_features.py)")
    parser.add_argument("--run", action="store_true", help="also run it here on pyspark local[2] (.venv-engines; local paths)")
    args = parser.parse_args(argv)
    script = args.script or REPO_ROOT / "build" / "spark-job" / f"{args.kind}_features.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(standalone_source(args.kind), encoding="utf-8")
    print(f"wrote {script}\nsubmit with: spark-submit {script.name} --input {args.input} --output {args.output}")
    if args.run:
        report = run_job([str(script), "--input", args.input, "--output", args.output, "--master", LOCAL_MASTER,
                          "--shuffle-partitions", str(LOCAL_SHUFFLE_PARTITIONS)])
        print(f"ran locally: Spark start-up {report['startup_seconds']} s, job {report['jobs'][0]['seconds']} s")
