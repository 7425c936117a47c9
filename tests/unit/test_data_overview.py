"""Notebook 01's summaries and plots on small hand-made frames whose answers are known."""

from __future__ import annotations

import datetime as dt

import polars as pl
from fraudkit.data_overview import (
    card_summary,
    fraud_by_scenario,
    handbook_summary,
    plot_card_overview,
    plot_handbook_overview,
)

UTC = dt.UTC
CARDS = pl.DataFrame(
    {
        "tid": ["a", "b", "c", "d"],
        "event_time": [dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 1, 5, tzinfo=UTC),
                       dt.datetime(2024, 1, 2, tzinfo=UTC), dt.datetime(2024, 1, 9, 23, tzinfo=UTC)],
        "cc_num": ["1111", "1111", "2222", "3333"],
        "amount": [10.0, 20.0, 30.0, 1.0],
        "fraud_label": pl.Series([0, 1, 0, 0], dtype=pl.Int8),
    }
)
HANDBOOK = pl.DataFrame(
    {
        "customer_id": [1, 1, 2, 3, 3],
        "terminal_id": [10, 11, 10, 12, 12],
        "tx_amount": [5.0, 15.0, 25.0, 35.0, 45.0],
        "tx_time_days": [0, 0, 1, 2, 4],
        "tx_fraud": pl.Series([0, 1, 0, 1, 1], dtype=pl.Int8),
        "tx_fraud_scenario": pl.Series([0, 2, 0, 1, 2], dtype=pl.Int8),
    }
)


def test_card_summary() -> None:
    row = card_summary(CARDS).row(0, named=True)
    assert row == {
        "transactions": 4, "cards": 3, "first_day": dt.date(2024, 1, 1), "last_day": dt.date(2024, 1, 9),
        "mean_amount": 15.25, "fraud_rate": 0.25,
    }


def test_handbook_summary_and_scenarios() -> None:
    row = handbook_summary(HANDBOOK).row(0, named=True)
    assert row == {"transactions": 5, "customers": 3, "terminals": 3, "days": 5, "mean_amount": 25.0, "fraud_rate": 0.6}
    assert fraud_by_scenario(HANDBOOK).rows() == [(1, 1), (2, 2)]


def test_plots_have_two_labelled_panels() -> None:
    cards = plot_card_overview(CARDS)
    assert [axes.get_title() for axes in cards.axes] == ["Amount by label", "Transactions per card"]
    handbook = plot_handbook_overview(HANDBOOK)
    assert [axes.get_title() for axes in handbook.axes][:2] == ["Per day", "Amounts"]
    assert handbook.axes[-1].get_ylabel() == "frauds"
