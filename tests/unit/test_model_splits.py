"""Time splits: ordered, disjoint, with a gap, and the Handbook's known-compromised rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from fraudkit.model.evaluation import drop_known_compromised
from fraudkit.model.specs import DATASETS
from fraudkit.model.splits import split_for, split_parts, weekly_split


def test_parts_are_ordered_whole_days_with_a_week_gap() -> None:
    split = weekly_split(datetime(2022, 1, 1, 0, 0, 5, tzinfo=UTC), datetime(2022, 5, 31, 23, 59, tzinfo=UTC))
    assert split.train_start < split.valid_start < split.gap_start < split.test_start < split.test_end
    assert split.test_start - split.gap_start == timedelta(days=7)
    assert split.train_start == datetime(2022, 1, 9, tzinfo=UTC)  # the first partial day + a week of burn-in
    assert split.test_end == datetime(2022, 6, 1, tzinfo=UTC)
    assert split.gap_start - split.valid_start >= timedelta(days=7)


def test_rows_fall_in_exactly_one_part_and_the_gap_is_left_out() -> None:
    start = datetime(2022, 1, 1, tzinfo=UTC)
    df = pl.DataFrame({"t": [start + timedelta(hours=h) for h in range(24 * 90)]})
    split = split_for("cards", df["t"].min(), df["t"].max())
    parts = split_parts(df, split, "t")
    assert parts["train"]["t"].max() < parts["valid"]["t"].min()
    assert parts["valid"]["t"].max() < split.gap_start <= split.test_start <= parts["test"]["t"].min()
    in_gap = split.part(df, "t", "gap")
    assert len(in_gap) == 7 * 24
    burn_in = df.filter(pl.col("t") < split.train_start)
    assert sum(len(p) for p in parts.values()) + len(in_gap) + len(burn_in) == len(df)


def test_too_short_data_names_the_fix() -> None:
    with pytest.raises(ValueError, match="larger scale"):
        weekly_split(datetime(2022, 1, 1), datetime(2022, 1, 25))


def test_known_compromised_customers_leave_the_test_days() -> None:
    spec = DATASETS["handbook"]
    start = datetime(2018, 4, 1)
    split = weekly_split(start, start + timedelta(days=40), burn_in_days=0)
    rows = [
        (split.train_start, 4, 1),  # customer 4: fraud before the 7-day lookback -> not known
        (split.test_start + timedelta(hours=2), 4, 0),
        (split.gap_start - timedelta(days=3), 1, 1),  # customer 1: fraud in the lookback week -> known
        (split.test_start + timedelta(hours=5), 1, 1),
        (split.gap_start + timedelta(days=2), 2, 1),  # customer 2: fraud in the gap, known 7 days later
        (split.test_start + timedelta(days=1), 2, 1),  # test day 1: not known yet -> kept
        (split.test_start + timedelta(days=3, hours=1), 2, 0),  # test day 3: known -> dropped
        (split.test_start + timedelta(days=2), 3, 0),  # customer 3 never defrauded -> kept
    ]
    df = pl.DataFrame(rows, schema=[spec.time_column, spec.entity_column, spec.label_column], orient="row")
    kept = drop_known_compromised(df, split, spec, days=7)
    assert sorted(kept[spec.entity_column].to_list()) == [2, 3, 4]
    assert kept.filter(pl.col(spec.entity_column) == 2)[spec.time_column].item() == split.test_start + timedelta(days=1)


def test_handbook_tests_on_the_handbook_week_when_the_data_has_it() -> None:
    full = split_for("handbook", datetime(2018, 4, 1), datetime(2018, 9, 30, 23))
    assert (full.test_start, full.test_end) == (datetime(2018, 8, 8), datetime(2018, 8, 15))
    assert full.gap_start == datetime(2018, 8, 1) and full.train_start == datetime(2018, 5, 1)
    short = split_for("handbook", datetime(2018, 4, 1), datetime(2018, 6, 30, 23))
    assert short.test_end == datetime(2018, 7, 1)  # the last week of data
