"""The reference design's live demo through the real pipeline: three single transactions on three
cards, then a burst of ten on a fourth card 1-2 s apart (`fraudkit.model.live_demo` defines them).

The demo is played in event time right after the generated history (the 1-week features of
`cc-agg-batch-fg` describe the cards at that point). Each run is shifted by one more window width
plus the allowed lateness, with run-specific transaction ids, so a run never shares a 10-minute
window with an earlier run and its decisions are the same every time.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from fraudkit.config import Settings
from fraudkit.features import WINDOW_10M
from fraudkit.model.live_demo import LiveDemoResult
from fraudkit.streaming.aggregator import DEFAULT_LATENESS
from fraudkit.streaming.pipeline import Pipeline, TopicTail, prepare
from fraudkit.streaming.producer import send_live, transactions_of
from fraudkit.streaming.scoring import FRAUD

DEMO_SPACING = WINDOW_10M.width + DEFAULT_LATENESS + timedelta(minutes=1)
DEMO_TIMEOUT_S = 120.0
TABLE_COLUMNS = ("tid", "cc_num", "amount", "num_trans_last_10m", "score", "decision", "latency_ms")


def last_decisions_path(settings: Settings) -> Path:
    """Where the last demo's decisions are kept, for the workshop's results page."""
    return settings.state_dir / "streaming" / "demo-decisions.json"


def _next_run_index(settings: Settings) -> int:
    """A counter under the state dir: how many demos this state has played."""
    path = settings.state_dir / "streaming" / "demo-runs.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        index = int(orjson.loads(path.read_bytes())["runs"])
    except (OSError, ValueError, KeyError, TypeError):
        index = 0
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(orjson.dumps({"runs": index + 1}))
    partial.replace(path)
    return index


def demo_plan(settings: Settings, run_index: int) -> pl.DataFrame:
    """The demo's 13 transactions for this run, on cards active in the history's last week."""
    from data_gen import ensure_dataset
    from fraudkit.model.live_demo import demo_cards, live_demo_transactions

    history = pl.read_parquet(ensure_dataset("cards", settings) / "transactions.parquet", columns=["event_time", "cc_num"])
    last: datetime = history["event_time"].max()  # type: ignore[assignment]
    start = last + DEMO_SPACING * (run_index + 1)
    plan = live_demo_transactions(demo_cards(history, settings.seed), start, settings.seed)
    return plan.with_columns(pl.col("tid") + f"-run{run_index}")


def run_demo(
    settings: Settings,
    fast: bool = False,
    on_decision: Callable[[dict[str, Any]], None] | None = None,
    timeout_s: float = DEMO_TIMEOUT_S,
) -> list[dict[str, Any]]:
    """Start what is missing, play the demo through the pipeline and return its decisions in demo order."""
    scorer = prepare(settings)
    plan = demo_plan(settings, _next_run_index(settings))
    wanted = set(plan["tid"])
    decisions: dict[str, dict[str, Any]] = {}
    tail = TopicTail(settings, settings.decisions_topic)
    try:
        # on aws the deployed Flink application and Lambda functions run the stages
        with contextlib.nullcontext() if settings.provider.hosts_stream_stages else Pipeline(settings, scorer):
            sender = threading.Thread(target=send_live, args=(settings, list(transactions_of(plan)), fast), daemon=True)
            sender.start()
            for message in tail.messages(timeout_s, until=lambda _: wanted <= decisions.keys()):
                if message.get("tid") in wanted:
                    decisions[message["tid"]] = message
                    if on_decision is not None:
                        on_decision(message)
            sender.join()
    finally:
        tail.close()
    missing = wanted - decisions.keys()
    if missing:
        raise TimeoutError(f"no decision within {timeout_s:.0f} s for {len(missing)} demo transactions")
    ordered = [decisions[tid] for tid in plan["tid"]]
    partial = last_decisions_path(settings).with_suffix(".partial")
    partial.write_bytes(orjson.dumps(ordered))
    partial.replace(last_decisions_path(settings))
    return ordered


def demo_verdict(decisions: list[dict[str, Any]]) -> LiveDemoResult:
    """The model task's verdict on the demo's decisions (in demo order: the singles, then the burst)."""
    from fraudkit.model.live_demo import BURST, SINGLES, live_demo_verdict

    roles = pl.DataFrame(
        {"demo_role": ["single"] * SINGLES + ["burst"] * BURST, "burst_index": [None] * SINGLES + list(range(BURST))},
        schema={"demo_role": pl.String, "burst_index": pl.Int64},
    )
    return live_demo_verdict(roles, [d["decision"] == FRAUD for d in decisions])


def table_row(decision: dict[str, Any]) -> dict[str, Any]:
    """The columns the demo prints for one decision."""
    features = decision.get("features", {})
    return {
        "tid": decision["tid"],
        "cc_num": decision["cc_num"],
        "amount": features.get("amount"),
        "num_trans_last_10m": features.get("num_trans_last_10m"),
        "score": round(float(decision["score"]), 4),
        "decision": decision["decision"],
        "latency_ms": round(float(decision["latency_ms"]), 1),
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in TABLE_COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in TABLE_COLUMNS)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in TABLE_COLUMNS) for r in rows]
    return "\n".join(lines)
