"""`python -m data_gen {cards,handbook,import-handbook}`: generate a data set, or import the Handbook's, into a directory.

Sizes come from `--scale` (the presets of fraudkit.config; the reference "full" sizes when not given), and
explicit size flags override the preset. `import-handbook` converts the Handbook's published daily pickles
(see data_gen.import_handbook). Bad input ends with one line naming the argument, exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import polars as pl
from fraudkit.config import SCALES, Scale

from data_gen import cards, handbook, import_handbook
from data_gen.datasets import GENERATOR_STAGES, generate_tables
from data_gen.output import move_files_into, staging_directory, write_tables
from data_gen.progress import stage_bar
from data_gen.validate import iso_date, non_negative, positive

# size flag -> Scale field, per data set
SIZE_FLAGS = {
    "cards": {"transactions": "card_transactions", "cards": "cards"},
    "handbook": {"customers": "customers", "terminals": "terminals", "days": "days"},
}
DEFAULT_SEEDS = {"cards": 42, "handbook": 0}  # the seeds of the reference commands


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2) instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="python -m data_gen", description=__doc__.splitlines()[0])
    kinds = parser.add_subparsers(
        dest="kind", required=True, metavar="{cards,handbook,import-handbook}", parser_class=OneLineErrorParser
    )
    card_parser = kinds.add_parser(
        "cards", help="card-burst transactions of the SageMaker Feature Store + MSK reference design",
        description=cards.__doc__.splitlines()[0] if cards.__doc__ else None,
    )
    card_parser.add_argument("--transactions", type=int, help="number of transactions (full: 5400000)")
    card_parser.add_argument("--cards", type=int, help="number of distinct cards (full: 10000)")
    handbook_parser = kinds.add_parser(
        "handbook", help="customer/terminal simulator of the Fraud Detection Handbook",
        description=handbook.__doc__.splitlines()[0] if handbook.__doc__ else None,
    )
    handbook_parser.add_argument("--customers", type=int, help="number of customers (full: 5000)")
    handbook_parser.add_argument("--terminals", type=int, help="number of terminals (full: 10000)")
    handbook_parser.add_argument("--days", type=int, help="days simulated (full: 183)")
    handbook_parser.add_argument(
        "--start", default=handbook.START.isoformat(), help="first simulated day, YYYY-MM-DD (default %(default)s)"
    )
    for kind, sub in (("cards", card_parser), ("handbook", handbook_parser)):
        sub.add_argument("--seed", type=int, default=DEFAULT_SEEDS[kind], help="random seed (default %(default)s)")
        sub.add_argument("--scale", choices=sorted(SCALES), help="size preset; size flags override it (default full)")
        sub.add_argument("--out", type=Path, required=True, help="directory to write the Parquet files into")
        sub.add_argument("--csv", action="store_true", help="also write a .csv next to every .parquet")
        sub.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_import_parser(kinds)
    return parser


def _add_import_parser(kinds: argparse._SubParsersAction) -> None:
    importer = kinds.add_parser(
        "import-handbook", help="the Fraud Detection Handbook's published daily pickles as transactions.parquet",
        description=import_handbook.__doc__.splitlines()[0] if import_handbook.__doc__ else None,
    )
    importer.add_argument("directory", type=Path, metavar="DIR", help="folder of YYYY-MM-DD.pkl files (or its parent)")
    importer.add_argument("--out", type=Path, required=True, help="directory to write transactions.parquet into")
    importer.add_argument(
        "--trust-pickle", action="store_true", help="load the pickles (loading a pickle can run arbitrary code)"
    )
    importer.add_argument("--csv", action="store_true", help="also write transactions.csv")
    importer.add_argument("--quiet", action="store_true", help="no progress bar")


def sizes_from(args: argparse.Namespace) -> Scale:
    """The preset named by --scale (full when absent) with the explicit size flags applied and checked."""
    overrides = {}
    for flag, field in SIZE_FLAGS[args.kind].items():
        value = getattr(args, flag)
        if value is not None:
            overrides[field] = positive(f"--{flag}", value)
    return dataclasses.replace(SCALES[args.scale or "full"], **overrides)


def _summary(name: str, frame: pl.DataFrame) -> str:
    fraud_column = next((c for c in ("fraud_label", "tx_fraud") if c in frame.columns), None)
    fraud = f", {int(frame[fraud_column].sum())} fraud" if fraud_column else ""
    return f"{name}: {frame.height} rows{fraud}"


def _generate_into(
    out: Path, kind: str, sizes: Scale, seed: int, start: dt.date, *, csv: bool, show_progress: bool
) -> dict[str, pl.DataFrame]:
    """Generate the tables and move their files into `out` only once all are written (staged inside `out`,
    so an unwritable directory fails before the work starts)."""
    with staging_directory(out) as staging:
        with stage_bar(f"data_gen {kind}", GENERATOR_STAGES[kind] + 1, show_progress) as advance:
            tables = generate_tables(kind, sizes, seed, start, progress=advance)
            write_tables(tables, staging, csv=csv)
            advance("write")
        for path in move_files_into(staging, out):
            print(f"wrote {path}")
    return tables


def _import_into(out: Path, directory: Path, days: int, *, csv: bool, show_progress: bool) -> pl.DataFrame:
    """Read the `days` trusted Handbook pickles, then move transactions.parquet into `out` once written (as
    _generate_into does)."""
    with staging_directory(out) as staging:
        with stage_bar("data_gen import-handbook", days + 1, show_progress) as advance:
            frame = import_handbook.read_handbook_pickles(directory, trust_pickle=True, progress=advance)
            write_tables({"transactions": frame}, staging, csv=csv)
            advance("write")
        for path in move_files_into(staging, out):
            print(f"wrote {path}")
    return frame


def _import_main(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not args.trust_pickle:  # refuse before touching --out or the files
        parser.error(import_handbook.untrusted_message(args.directory))
    try:
        days = len(import_handbook.daily_files(args.directory))
        frame = _import_into(args.out, args.directory, days, csv=args.csv, show_progress=not args.quiet)
    except import_handbook.InputDataError as exc:
        parser.error(f"argument DIR: {exc}")
    except OSError as exc:
        parser.error(f"argument --out: cannot write to {args.out} ({exc.strerror or exc}); choose a writable directory")
    print(_summary("transactions", frame))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.kind == "import-handbook":
        return _import_main(parser, args)
    try:
        sizes = sizes_from(args)
        seed = non_negative("--seed", args.seed)
        start = iso_date("--start", args.start) if args.kind == "handbook" else handbook.START
    except ValueError as exc:
        parser.error(str(exc))
    try:
        tables = _generate_into(args.out, args.kind, sizes, seed, start, csv=args.csv, show_progress=not args.quiet)
    except OSError as exc:
        parser.error(f"argument --out: cannot write to {args.out} ({exc.strerror or exc}); choose a writable directory")
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; nothing was written", file=sys.stderr)
        return 130
    for name, frame in sorted(tables.items()):
        print(_summary(name, frame))
    return 0
