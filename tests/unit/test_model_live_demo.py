"""The live-demo transactions, their features after a card history, and the verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from fraudkit.model.live_demo import (
    demo_cards,
    demo_features,
    live_demo_transactions,
    live_demo_verdict,
    run_live_demo,
)
from fraudkit.model.specs import CARD_MODEL_FEATURES

START = datetime(2022, 6, 1, tzinfo=UTC)


def history(cards: int = 6, per_card: int = 20) -> pl.DataFrame:
    rng = np.random.default_rng(5)
    rows = [
        (f"h{c}-{i}", START - timedelta(days=6, hours=int(rng.integers(0, 140))), f"40000000000000{c:02d}",
         float(rng.uniform(20, 200)))
        for c in range(cards)
        for i in range(per_card)
    ]
    df = pl.DataFrame(rows, schema=["tid", "event_time", "cc_num", "amount"], orient="row")
    return df.with_columns(pl.col("event_time").dt.cast_time_unit("us")).sort("event_time", "tid")


def test_demo_shape_amounts_and_gaps() -> None:
    demo = live_demo_transactions(["a", "b", "c", "d"], START, seed=1)
    singles = demo.filter(pl.col("demo_role") == "single")
    burst = demo.filter(pl.col("demo_role") == "burst").sort("burst_index")
    assert singles["cc_num"].to_list() == ["a", "b", "c"] and set(burst["cc_num"]) == {"d"}
    assert singles["amount"].is_between(100, 5000).all() and burst["amount"].is_between(1, 50).all()
    gaps = burst["event_time"].diff().drop_nulls().dt.total_microseconds() / 1e6
    assert len(burst) == 10 and gaps.is_between(1.0, 2.0).all()
    assert demo.equals(live_demo_transactions(["a", "b", "c", "d"], START, seed=1))  # seeded


def test_demo_needs_four_distinct_cards() -> None:
    with pytest.raises(ValueError, match="4 distinct cards"):
        live_demo_transactions(["a", "a", "b", "c"], START, seed=1)


def test_verdict_counts_singles_and_burst_after_the_first() -> None:
    demo = live_demo_transactions(["a", "b", "c", "d"], START, seed=1)
    flags = [False] * 3 + [True] * 10  # the first burst transaction does not count
    assert live_demo_verdict(demo, flags).burst_flagged_after_first == 9
    assert live_demo_verdict(demo, flags).passed
    flags = [True, False, False] + [True, False] + [True] * 8
    result = live_demo_verdict(demo, flags)
    assert (result.singles_flagged, result.burst_flagged_after_first, result.passed) == (1, 8, False)
    assert live_demo_verdict(demo, [False] * 4 + [True] * 8 + [False]).passed  # 8 of 9 is enough


def test_features_include_the_history_and_the_burst_so_far() -> None:
    past = history()
    cards = demo_cards(past, seed=3)
    demo = live_demo_transactions(cards, past["event_time"].max() + timedelta(minutes=1), seed=3)
    featured = demo_features(past, demo)
    burst = featured.filter(pl.col("demo_role") == "burst").sort("burst_index")
    assert burst["num_trans_last_10m"].to_list() == list(range(1, 11))
    assert (burst["num_trans_last_1w"] > 10).all()  # the card's week of history counts too
    assert featured.select(CARD_MODEL_FEATURES).null_count().sum_horizontal().item() == 0


def test_a_burst_rule_passes_the_demo_and_a_flag_everything_rule_fails() -> None:
    past = history()
    count_column = CARD_MODEL_FEATURES.index("num_trans_last_10m")
    burst_rule = run_live_demo(past, lambda rows: (rows[:, count_column] >= 2).astype(float), 0.5, seed=3)
    assert burst_rule.passed
    everything = run_live_demo(past, lambda rows: np.ones(len(rows)), 0.5, seed=3)
    assert everything.singles_flagged == 3 and not everything.passed
