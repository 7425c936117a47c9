"""CLI: `python -m fraudkit.features {cards,handbook} --input transactions.parquet --out features.parquet`.

`--engine spark|flink` runs the generated SQL on the real engines (`.venv-engines`, set up on first use);
`python -m fraudkit.features spark-job ...` writes the Spark job a user submits to a cluster.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

import polars as pl
from tqdm import tqdm

from fraudkit.features.compute import ENGINES, JVM_ENGINES, FeatureInputError, compute_features
from fraudkit.features.engines_venv import EngineError
from fraudkit.features.spec import FEATURE_SETS
from fraudkit.features.store import write_parquet_atomically


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fraudkit.features",
        description="Add the workshop's windowed features to a transactions Parquet file. The output keeps "
        "every input row and column (in input order) and appends the features; it is written atomically.",
        epilog="`python -m fraudkit.features spark-job --help`: the same features as a Spark job for a cluster.",
    )
    parser.add_argument("kind", choices=sorted(FEATURE_SETS), help="which feature set: card path or handbook path")
    parser.add_argument("--input", required=True, type=Path, help="transactions Parquet file (data_gen layout)")
    parser.add_argument("--out", required=True, type=Path, help="Parquet file to write")
    parser.add_argument("--engine", choices=(*ENGINES, *JVM_ENGINES), default="polars",
                        help="engine to compute with (default: polars); spark and flink run the generated SQL on "
                        "Apache Spark / Apache Flink in .venv-engines (made by `make setup-engines` on first use)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def fail(message: str) -> NoReturn:
    """One line on stderr, exit status 2 (usage error), no traceback."""
    print(f"python -m fraudkit.features: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["spark-job"]:
        from fraudkit.features.engine_spark import spark_job_command

        spark_job_command(argv[1:])
        return
    args = build_parser().parse_args(argv)
    if not args.input.is_file():
        fail(f"argument --input: no such file {args.input}; give a transactions Parquet file")
    if args.out.is_dir():
        fail(f"argument --out: {args.out} is a directory; give a file name such as features.parquet")
    steps = ("read", "compute", "write")
    with tqdm(total=len(steps), desc=f"{args.kind} features", unit="step", file=sys.stderr,
              disable=args.quiet or not sys.stderr.isatty()) as progress:
        progress.set_postfix_str(steps[0])
        try:
            transactions = pl.read_parquet(args.input)
        except (OSError, pl.exceptions.PolarsError) as error:
            fail(f"argument --input: cannot read {args.input} as Parquet ({type(error).__name__})")
        progress.update()
        progress.set_postfix_str(steps[1])
        try:
            features = compute_features(transactions, FEATURE_SETS[args.kind], args.engine)
        except FeatureInputError as error:
            fail(f"argument --input: {error}")
        except EngineError as error:  # the Spark/Flink set-up or job failed: its last output lines
            print(f"python -m fraudkit.features: {args.engine} failed: {error}", file=sys.stderr)
            raise SystemExit(1) from None
        progress.update()
        progress.set_postfix_str(steps[2])
        try:
            write_parquet_atomically(features, args.out)
        except OSError as error:
            fail(f"argument --out: cannot write {args.out} ({error.strerror or type(error).__name__})")
        progress.update()


if __name__ == "__main__":
    main()
