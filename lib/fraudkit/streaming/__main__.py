"""`python -m fraudkit.streaming`: produce, burst, run a pipeline stage, the live demo, the load test."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from fraudkit.config import Settings, SettingsError, settings_arguments
from fraudkit.streaming import DEFAULT_BATCHING_WINDOW_MS, REPLAY_LINGER_MS


def _positive(kind: type, zero: bool = False) -> Any:
    """An argparse type: a number of `kind` greater than zero (or at least zero when `zero`)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError("must be >= 0" if zero else "must be > 0")
        return value

    return parse


def _rate(text: str) -> float | None:
    """Transactions per second, or None for 'max' (as fast as the broker takes them)."""
    return None if text == "max" else float(_positive(float)(text))


def _add_batching_window(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--batching-window-ms", type=_positive(int, zero=True), default=DEFAULT_BATCHING_WINDOW_MS,
        help="how long a stage's batch gathers records after its first one, as Lambda's MaximumBatchingWindow"
        f"InSeconds (default {DEFAULT_BATCHING_WINDOW_MS}; 0 handles what has arrived at once: lower latency, more "
        "CPU per transaction)",
    )


def _add_linger(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--linger-ms", type=_positive(int, zero=True), default=REPLAY_LINGER_MS,
        help=f"how long the replay's producer gathers transactions into one request, Kafka's linger.ms (default "
        f"{REPLAY_LINGER_MS}; shorter: lower latency, more requests and stage batches, more CPU per transaction)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fraudkit.streaming", description=__doc__)
    common = settings_arguments()
    commands = parser.add_subparsers(dest="command", required=True)

    produce = commands.add_parser("produce", parents=[common], help="replay transactions in event-time order")
    produce.add_argument("--input", type=Path, help="transactions Parquet file (default: the generated card data)")
    produce.add_argument("--rate", type=_rate, default=1000.0, help="transactions per second, or 'max' (default 1000)")
    produce.add_argument("--limit", type=_positive(int), help="send only the first N transactions")
    _add_linger(produce)

    burst = commands.add_parser("burst", parents=[common], help="N transactions on one card, seconds apart")
    burst.add_argument("--cc-num", required=True, help="the 16-digit card number")
    burst.add_argument("--count", type=_positive(int), default=10, help="how many transactions (default 10)")
    burst.add_argument("--interval", type=_positive(float), default=1.5, help="seconds between them (default 1.5)")
    burst.add_argument("--fast", action="store_true", help="space them in event time only, send at once")

    run = commands.add_parser("run", parents=[common], help="run one pipeline stage until interrupted")
    run.add_argument("--stage", choices=["aggregator", "scorer"], required=True)
    run.add_argument("--batch-size", type=_positive(int), default=500, help="records per handler batch (default 500)")
    _add_batching_window(run)
    run.add_argument(
        "--checkpoint-interval-ms", type=_positive(int), default=1000,
        help="most time between checkpoints while records flow (default 1000; shorter = shorter replay after a crash)",
    )

    demo = commands.add_parser("demo", parents=[common], help="the reference design's live demo")
    demo.add_argument("--fast", action="store_true", help="simulate the burst's timing in event time")
    demo.add_argument("--json", action="store_true", help="one JSON object per decision")

    load = commands.add_parser("load", parents=[common], help="end-to-end load test on 127.0.0.1")
    load.add_argument("--rate", type=_positive(float), default=1000.0, help="transactions per second (default 1000)")
    load.add_argument("--seconds", type=_positive(float), default=10.0, help="how long to produce (default 10)")
    load.add_argument("--batch-size", type=_positive(int), default=500, help="records per stage batch (default 500)")
    _add_batching_window(load)
    _add_linger(load)
    load.add_argument(
        "--warmup", type=_positive(float, zero=True), default=3.0,
        help="seconds of unmeasured traffic first, on topics of their own (default 3; 0 measures a cold start)",
    )
    load.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_args(args)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_produce(args: argparse.Namespace, settings: Settings) -> int:
    from fraudkit.streaming.producer import produce, read_transactions

    path = args.input
    if path is None:
        from data_gen import ensure_dataset

        path = ensure_dataset("cards", settings) / "transactions.parquet"
    if not path.is_file():
        raise SettingsError(f"--input {path}: no such file (give a transactions Parquet file)")
    sent = produce(
        settings, read_transactions(path, args.limit), rate=args.rate, progress=not args.quiet and sys.stderr.isatty(),
        linger_ms=args.linger_ms,
    )
    print(f"sent {sent} transactions to {settings.transactions_topic}")
    return 0


def cmd_burst(args: argparse.Namespace, settings: Settings) -> int:
    from fraudkit.streaming.producer import burst_transactions, send_live
    from fraudkit.streaming.records import CARD_NUMBER

    if not CARD_NUMBER.match(args.cc_num):
        raise SettingsError(f"--cc-num {args.cc_num!r} is not 16 digits")
    for message in send_live(settings, burst_transactions(args.cc_num, args.count, args.interval, settings.seed), args.fast):
        print(orjson.dumps(message).decode())
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from fraudkit.heap import long_lived_objects_frozen
    from fraudkit.streaming.pipeline import make_stage
    from fraudkit.streaming.runner import Runner, RunnerBusy

    stop = _stop_on_signals()
    try:
        runner = Runner(settings, make_stage(settings, args.stage, warm=True), batch_size=args.batch_size,
                        batching_window_ms=args.batching_window_ms, checkpoint_interval_ms=args.checkpoint_interval_ms)
    except RunnerBusy as busy:
        print(f"python -m fraudkit.streaming run: {busy}", file=sys.stderr)
        return 1
    runner.recover()
    with long_lived_objects_frozen():
        print("ready", flush=True)
        cpu_at_ready = time.process_time()
        try:
            processed = runner.run(stop)
        finally:
            runner.close()
    # the last line: what the load test reads to account for this stage's CPU; `lost`: input records that a
    # recreated topic (a broker restart) dropped before this stage processed them
    summary = {"stage": args.stage, "processed": processed, "batches": runner.batches, "lost": runner.lost_records,
               "cpu_s": time.process_time() - cpu_at_ready}
    print(orjson.dumps(summary).decode())
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from fraudkit.streaming.demo import format_table, run_demo, table_row

    rows = [table_row(d) for d in run_demo(settings, fast=args.fast)]
    if args.json:
        for row in rows:
            print(orjson.dumps(row).decode())
    else:
        print(format_table(rows))
    return 0


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from fraudkit.streaming.load import run_load

    summary = run_load(
        settings, rate=args.rate, seconds=args.seconds, batch_size=args.batch_size, warmup_s=args.warmup,
        batching_window_ms=args.batching_window_ms, linger_ms=args.linger_ms,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    if args.json:
        print(orjson.dumps(summary).decode())
    else:
        for key, value in summary.items():
            print(f"{key:>24}: {value}")
    return 0


COMMANDS = {"produce": cmd_produce, "burst": cmd_burst, "run": cmd_run, "demo": cmd_demo, "load": cmd_load}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args, _settings(args))
    except SettingsError as error:
        print(f"{parser.prog} {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
