"""The 1-week features a decision uses: the batch row, topped up with a newer 10-minute window."""

from __future__ import annotations

import pytest
from fraudkit.features import add_card_ratios, card_ratios
from fraudkit.streaming.records import COUNT_FEATURE, MEAN_FEATURE, format_time
from fraudkit.streaming.scoring import WEEK_COUNT, WEEK_MEAN, serving_week_features

SNAPSHOT_S = 1_700_000_000.0


def message(seconds_after_snapshot: float, count: int, mean: float) -> dict[str, object]:
    micros = round((SNAPSHOT_S + seconds_after_snapshot) * 1e6)
    return {"event_time": format_time(micros), "num_trans_last_10m": count, "avg_amt_last_10m": mean}


BATCH = {WEEK_COUNT: 4.0, WEEK_MEAN: 100.0, "trans_time": SNAPSHOT_S}


def test_a_window_wholly_after_the_snapshot_is_added_to_the_week() -> None:
    week = serving_week_features(BATCH, message(11 * 60, count=2, mean=10.0))
    assert week[WEEK_COUNT] == 6
    assert week[WEEK_MEAN] == pytest.approx((4 * 100 + 2 * 10) / 6)


@pytest.mark.parametrize("after_s", [0.0, 60.0, 600.0])
def test_a_window_overlapping_the_snapshot_is_not_counted_twice(after_s: float) -> None:
    assert serving_week_features(BATCH, message(after_s, count=2, mean=10.0)) == {WEEK_COUNT: 4.0, WEEK_MEAN: 100.0}


def test_a_batch_row_without_snapshot_time_is_used_as_it_is() -> None:
    batch = {**BATCH, "trans_time": float("nan")}
    assert serving_week_features(batch, message(3600, count=2, mean=10.0)) == {WEEK_COUNT: 4.0, WEEK_MEAN: 100.0}


def test_batch_ratios_equal_the_per_transaction_ratios() -> None:
    rows = [
        {"amount": 120.5, COUNT_FEATURE: 3, MEAN_FEATURE: 80.25, WEEK_COUNT: 12.0, WEEK_MEAN: 60.0},
        {"amount": 9.99, COUNT_FEATURE: 1, MEAN_FEATURE: 9.99, WEEK_COUNT: 0.0, WEEK_MEAN: 0.0},
        {"amount": 42.0, COUNT_FEATURE: 2, MEAN_FEATURE: 30.0, WEEK_COUNT: float("nan"), WEEK_MEAN: float("nan")},
    ]
    expected = [card_ratios(r["amount"], r[COUNT_FEATURE], r[MEAN_FEATURE], r[WEEK_COUNT], r[WEEK_MEAN]) for r in rows]
    add_card_ratios(rows)
    for row, ratios in zip(rows, expected, strict=True):
        assert {name: row[name] for name in ratios} == ratios
