"""`python -m fraudkit.model train|evaluate|deploy|undeploy`: the workshop's model stage from a shell."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

from botocore.exceptions import BotoCoreError, ClientError
from tqdm import tqdm

from fraudkit.config import Settings, SettingsError, settings_arguments
from fraudkit.model import DeploymentError, deploy, ensure_card_model, undeploy
from fraudkit.model.evaluation import (
    DEFAULT_THREADS,
    EVALUATION_STAGES,
    REPORT_KEYS,
    evaluate,
    train_and_save,
)
from fraudkit.model.inputs import InputDataError
from fraudkit.model.specs import DATA_KINDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fraudkit.model",
        description="Train, evaluate and deploy the fraud models (XGBoost, time-based split, SageMaker endpoint).",
    )
    common = settings_arguments()
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", parents=[common], help="train our model and write model.tar.gz")
    train.add_argument("--data", choices=DATA_KINDS, default="cards", help="data set (default: cards)")
    report = commands.add_parser(
        "evaluate", parents=[common], help="train ours and the reference on one time split; write a JSON report"
    )
    report.add_argument("--data", choices=DATA_KINDS, required=True, help="data set to evaluate on")
    report.add_argument("--out", type=Path, required=True, help="report file (.json); plots go next to it")
    report.add_argument(
        "--input", type=Path, metavar="PATH",
        help="evaluate on these transactions instead of generated data: a Parquet or CSV file, or a directory of them",
    )
    report.add_argument(
        "--prequential", action="store_true",
        help="handbook: also reproduce the Handbook's Chapter 5 selection (its published figures; minutes)",
    )
    report.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS,
        help="XGBoost threads per model (default %(default)s; 1 is faster on a machine other jobs keep busy)",
    )
    commands.add_parser("deploy", parents=[common], help="deploy the card model (training it if absent)")
    commands.add_parser("undeploy", parents=[common], help="delete the card endpoint, its config and model")
    return parser


def fail(message: str, status: int = 2) -> NoReturn:
    """One line on stderr and the exit status, no traceback."""
    print(f"python -m fraudkit.model: error: {message}", file=sys.stderr)
    raise SystemExit(status)


def _settings(args: argparse.Namespace) -> Settings:
    try:
        return Settings.from_args(args)
    except SettingsError as error:
        fail(f"{error}; see --help")


def _evaluate(args: argparse.Namespace, settings: Settings) -> None:
    if args.threads < 1:
        fail(f"argument --threads: must be at least 1, got {args.threads}")
    if args.out.suffix != ".json" or args.out.is_dir():
        fail(f"argument --out: {args.out} is not a .json file name; give e.g. --out build/report.json")
    with tqdm(total=None if args.prequential else len(EVALUATION_STAGES), desc=f"evaluate {args.data}", unit="stage", file=sys.stderr,
              disable=args.quiet or not sys.stderr.isatty()) as bar:

        def advance(stage: str) -> None:
            bar.set_postfix_str(stage)
            bar.update()

        try:
            report = evaluate(
                args.data, settings, args.out, progress=advance, input_path=args.input, prequential=args.prequential,
                threads=args.threads,
            )
        except InputDataError as error:
            fail(f"argument --input: {error}")
    print(json.dumps({key: report[key] for key in REPORT_KEYS}, indent=2))


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = _settings(args)
    try:
        if args.command == "train":
            print(train_and_save(args.data, settings))
        elif args.command == "evaluate":
            _evaluate(args, settings)
        elif args.command == "deploy":
            print(deploy(settings, ensure_card_model(settings)))
        else:
            print("deleted" if undeploy(settings) else f"no endpoint {settings.endpoint_name}")
    except (ValueError, DeploymentError) as error:  # data too small for the split; endpoint not serving
        fail(str(error), status=1)
    except (ClientError, BotoCoreError) as error:
        fail(f"{error} (is the emulator running? `make local-up`)", status=1)


if __name__ == "__main__":
    main()
