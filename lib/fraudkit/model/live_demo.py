"""The reference design's live demo as data and a verdict, reusable by the streaming stage.

Three single transactions of 100-5,000 on three different cards, then a burst of ten transactions of
1-50 on a fourth card, 1-2 s apart. A good model scores the singles as legitimate and at least 8 of
the 9 burst transactions after the first as fraud (the first has no burst behind it yet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from fraudkit.features import compute_card_features
from fraudkit.model.specs import CARD_MODEL_FEATURES
from fraudkit.model.training import feature_matrix

SINGLES, BURST = 3, 10
SINGLE_AMOUNT, BURST_AMOUNT = (100.0, 5_000.0), (1.0, 50.0)
BURST_GAP_SECONDS = (1.0, 2.0)
MIN_BURST_FLAGGED = 8


@dataclass(frozen=True)
class LiveDemoResult:
    singles_flagged: int
    burst_flagged_after_first: int

    @property
    def passed(self) -> bool:
        return self.singles_flagged == 0 and self.burst_flagged_after_first >= MIN_BURST_FLAGGED


def live_demo_transactions(cards: list[str], start: datetime, seed: int) -> pl.DataFrame:
    """The demo's 13 transactions (tid, event_time, cc_num, amount, demo_role, burst_index) on 4 cards."""
    if len(set(cards)) != SINGLES + 1:
        raise ValueError(f"the live demo needs {SINGLES + 1} distinct cards, got {cards}")
    rng = np.random.default_rng(seed)
    single_amounts = rng.uniform(*SINGLE_AMOUNT, size=SINGLES).round(2)
    burst_amounts = rng.uniform(*BURST_AMOUNT, size=BURST).round(2)
    gaps = rng.uniform(*BURST_GAP_SECONDS, size=BURST - 1)
    burst_start = start + timedelta(seconds=SINGLES + 5)
    burst_times = [burst_start + timedelta(seconds=float(s)) for s in np.concatenate([[0.0], np.cumsum(gaps)])]
    return pl.DataFrame(
        {
            "tid": [f"live-demo-{seed}-{i:02d}" for i in range(SINGLES + BURST)],
            "event_time": [start + timedelta(seconds=i) for i in range(SINGLES)] + burst_times,
            "cc_num": cards[:SINGLES] + [cards[SINGLES]] * BURST,
            "amount": np.concatenate([single_amounts, burst_amounts]),
            "demo_role": ["single"] * SINGLES + ["burst"] * BURST,
            "burst_index": [None] * SINGLES + list(range(BURST)),
        },
        schema_overrides={"event_time": pl.Datetime("us", "UTC"), "burst_index": pl.Int64},
    )


def live_demo_verdict(demo: pl.DataFrame, flagged: list[bool] | np.ndarray) -> LiveDemoResult:
    """Count the flagged singles and burst transactions (after the first) of `demo`, row-aligned with `flagged`."""
    marked = demo.with_columns(flagged=pl.Series(list(map(bool, flagged)), dtype=pl.Boolean))
    singles = marked.filter(pl.col("demo_role") == "single")["flagged"].sum()
    burst = marked.filter((pl.col("demo_role") == "burst") & (pl.col("burst_index") > 0))["flagged"].sum()
    return LiveDemoResult(int(singles), int(burst))


def demo_cards(history: pl.DataFrame, seed: int) -> list[str]:
    """Four distinct cards, seeded, among those active in the last week of `history`."""
    last = history["event_time"].max()
    active = history.filter(pl.col("event_time") > last - timedelta(weeks=1))["cc_num"].unique().sort()  # type: ignore[operator]
    if len(active) < SINGLES + 1:
        raise ValueError("the history has fewer than 4 cards active in its last week")
    rng = np.random.default_rng(seed)
    return [str(card) for card in rng.choice(active.to_numpy(), size=SINGLES + 1, replace=False)]


def demo_features(history: pl.DataFrame, demo: pl.DataFrame) -> pl.DataFrame:
    """The demo transactions with the card features they get after `history` (last week of it is enough)."""
    start = demo["event_time"].min()
    recent = history.filter(
        pl.col("cc_num").is_in(demo["cc_num"].unique().implode()) & (pl.col("event_time") >= start - timedelta(weeks=1))  # type: ignore[operator]
    ).select("tid", "event_time", "cc_num", "amount")
    combined = pl.concat([recent, demo.select(recent.columns)]).sort("event_time", "tid")
    featured = compute_card_features(combined)
    return demo.join(featured.drop("event_time", "cc_num", "amount"), on="tid", how="left", maintain_order="left")


def run_live_demo(
    history: pl.DataFrame, score: Callable[[np.ndarray], np.ndarray], threshold: float, seed: int
) -> LiveDemoResult:
    """Play the demo right after `history` (raw card transactions) and judge `score`'s decisions.

    `score` maps a matrix of CARD_MODEL_FEATURES rows to fraud scores: a local booster or the endpoint.
    """
    last: datetime = history["event_time"].max()  # type: ignore[assignment]
    demo = live_demo_transactions(demo_cards(history, seed), last + timedelta(hours=1), seed)
    featured = demo_features(history, demo)
    scores = score(feature_matrix(featured, CARD_MODEL_FEATURES))
    return live_demo_verdict(demo, scores >= threshold)
