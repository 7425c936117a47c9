"""Time-based splits: train on earlier weeks, validate, then test after a gap.

Nothing from the test period (or the gap) reaches training or the choice of threshold. The gap is the
Handbook's delay period: labels of the last week before the test are not known yet when the model is
trained, and the longest aggregate window (one week for cards) cannot straddle train and test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

DAY = timedelta(days=1)
# The Fraud Detection Handbook's baseline trains on 2018-07-25..31, waits the delay week and tests on
# 2018-08-08..14: its published numbers were measured on that week, so ours are too when the data has it.
HANDBOOK_TEST_WEEK = (datetime(2018, 8, 8), datetime(2018, 8, 15))


@dataclass(frozen=True)
class TimeSplit:
    """Half-open periods [start, end) of each part, in the data's own time zone."""

    train_start: datetime
    valid_start: datetime
    gap_start: datetime
    test_start: datetime
    test_end: datetime

    def part(self, df: pl.DataFrame, time_column: str, name: str) -> pl.DataFrame:
        """Rows of `df` in the part `name` ("train", "valid", "gap" or "test")."""
        bounds = {
            "train": (self.train_start, self.valid_start),
            "valid": (self.valid_start, self.gap_start),
            "gap": (self.gap_start, self.test_start),
            "test": (self.test_start, self.test_end),
        }[name]
        column = pl.col(time_column)
        return df.filter((column >= bounds[0]) & (column < bounds[1]))

    def describe(self) -> dict[str, str]:
        """The periods as ISO dates, for reports."""
        return {
            "train": f"{self.train_start.date()}..{self.valid_start.date()}",
            "valid": f"{self.valid_start.date()}..{self.gap_start.date()}",
            "gap": f"{self.gap_start.date()}..{self.test_start.date()}",
            "test": f"{self.test_start.date()}..{self.test_end.date()}",
        }


def _midnight_after(moment: datetime) -> datetime:
    floor = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + DAY


def weekly_split(
    first: datetime,
    last: datetime,
    *,
    test_end: datetime | None = None,
    burn_in_days: int = 7,
    valid_fraction: float = 0.2,
    gap_days: int = 7,
    test_days: int = 7,
) -> TimeSplit:
    """Whole-day periods anchored at `test_end` (default: the end of the data): ... train | valid | gap | test.

    The first `burn_in_days` are dropped so every aggregate window is full. Validation takes
    `valid_fraction` of the days left before the gap (at least a week, so it holds enough fraud to stop
    early on), training the rest. ValueError when the data is too short for a week of each.
    """
    test_end = test_end or last.replace(hour=0, minute=0, second=0, microsecond=0) + DAY
    test_start = test_end - test_days * DAY
    gap_start = test_start - gap_days * DAY
    train_start = _midnight_after(first) + burn_in_days * DAY
    available_days = (gap_start - train_start).days
    valid_start = gap_start - max(7, round(valid_fraction * available_days)) * DAY
    if valid_start - train_start < 7 * DAY:
        raise ValueError(
            f"{(test_end - _midnight_after(first)).days} days of data are too few for burn-in {burn_in_days} "
            f"+ a training week + a validation week + gap {gap_days} + test {test_days} days: use a larger scale"
        )
    return TimeSplit(train_start, valid_start, gap_start, test_start, test_end)


def split_for(kind: str, first: datetime, last: datetime, test_end: datetime | None = None) -> TimeSplit:
    """The split each data set uses (the data's own dates decide it).

    cards: a week of burn-in for the 1-week aggregates, two test weeks when the data allows (as the
    reference design holds out its last two weeks). handbook: the Handbook's protocol of one test week
    after a one-week delay, with a 30-day burn-in for the 30-day windows; the test week is the
    Handbook's own (HANDBOOK_TEST_WEEK) when the data covers it with room to train (full scale), else
    the last week of the data. `test_end` moves the handbook's test week (the Handbook's later folds).
    """
    span_days = (last - first).days
    if kind == "cards":
        return weekly_split(first, last, test_days=14 if span_days >= 56 else 7)
    burn_in_days = 30 if span_days >= 65 else 7
    if test_end is None:
        week_start, week_end = HANDBOOK_TEST_WEEK
        covered = last >= week_end - DAY and first + timedelta(days=burn_in_days + 28) <= week_start
        test_end = week_end if covered else None
    return weekly_split(first, last, burn_in_days=burn_in_days, test_end=test_end)


def split_parts(df: pl.DataFrame, split: TimeSplit, time_column: str) -> dict[str, pl.DataFrame]:
    """Train, valid and test frames of `df` (the gap is left out on purpose)."""
    return {name: split.part(df, time_column, name) for name in ("train", "valid", "test")}
