"""A first look at the generated data sets: one-row summaries and overview plots for notebook 01.

Figures are built with `matplotlib.figure.Figure` rather than pyplot, so a notebook shows each one
exactly once (when it is the cell's value) and nothing accumulates in pyplot's global state.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from matplotlib.figure import Figure

FRAUD_COLOUR, LEGIT_COLOUR = "#cf222e", "#0969da"


def card_summary(transactions: pl.DataFrame) -> pl.DataFrame:
    """Size, time span and fraud rate of the card transactions (reference design 1)."""
    return transactions.select(
        pl.len().alias("transactions"),
        pl.col("cc_num").n_unique().alias("cards"),
        pl.col("event_time").min().dt.date().alias("first_day"),
        pl.col("event_time").max().dt.date().alias("last_day"),
        pl.col("amount").mean().round(2).alias("mean_amount"),
        pl.col("fraud_label").cast(pl.Float64).mean().round(4).alias("fraud_rate"),
    )


def handbook_summary(transactions: pl.DataFrame) -> pl.DataFrame:
    """Size, time span and fraud rate of the customer/terminal transactions (the Handbook simulator)."""
    return transactions.select(
        pl.len().alias("transactions"),
        pl.col("customer_id").n_unique().alias("customers"),
        pl.col("terminal_id").n_unique().alias("terminals"),
        (pl.col("tx_time_days").max() + 1).alias("days"),
        pl.col("tx_amount").mean().round(2).alias("mean_amount"),
        pl.col("tx_fraud").cast(pl.Float64).mean().round(4).alias("fraud_rate"),
    )


def fraud_by_scenario(transactions: pl.DataFrame) -> pl.DataFrame:
    """How many Handbook frauds each scenario (1: risky amounts, 2: compromised terminals, 3: customers) made."""
    return (
        transactions.filter(pl.col("tx_fraud") == 1)
        .group_by("tx_fraud_scenario")
        .agg(pl.len().alias("frauds"))
        .sort("tx_fraud_scenario")
    )


def plot_card_overview(transactions: pl.DataFrame) -> Figure:
    """Amounts of fraudulent and legitimate card transactions, and transactions per card."""
    figure = Figure(figsize=(11, 3.8), layout="constrained")
    amounts, per_card = figure.subplots(1, 2)
    positive = transactions.filter(pl.col("amount") > 0)["amount"].to_numpy()
    # amounts span cents to thousands: log-spaced bins on a log axis show both ends
    bins = np.geomspace(positive.min(), positive.max(), 60)
    for label, colour, name in ((0, LEGIT_COLOUR, "legitimate"), (1, FRAUD_COLOUR, "fraud")):
        values = transactions.filter(pl.col("fraud_label") == label)["amount"].to_numpy()
        amounts.hist(values, bins=bins, color=colour, alpha=0.6, density=True, label=name)
    amounts.set(title="Amount by label", xlabel="amount", ylabel="density", xscale="log")
    amounts.legend()
    counts = transactions.group_by("cc_num").len()["len"].to_numpy()
    per_card.hist(counts, bins=40, color=LEGIT_COLOUR)
    per_card.set(title="Transactions per card", xlabel="transactions", ylabel="cards")
    return figure


def plot_handbook_overview(transactions: pl.DataFrame) -> Figure:
    """Daily transactions and frauds of the Handbook simulator, and its amount distribution."""
    daily = (
        transactions.group_by("tx_time_days")
        .agg(pl.len().alias("transactions"), pl.col("tx_fraud").sum().alias("frauds"))
        .sort("tx_time_days")
    )
    figure = Figure(figsize=(11, 3.8), layout="constrained")
    per_day, amounts = figure.subplots(1, 2)
    per_day.plot(daily["tx_time_days"], daily["transactions"], color=LEGIT_COLOUR)
    per_day.set(title="Per day", xlabel="day", ylabel="transactions", ylim=(0, None))
    frauds = per_day.twinx()  # frauds are rare: their own axis keeps them visible
    frauds.bar(daily["tx_time_days"], daily["frauds"], color=FRAUD_COLOUR, alpha=0.7)
    frauds.set_ylabel("frauds", color=FRAUD_COLOUR)
    amounts.hist(transactions["tx_amount"].to_numpy(), bins=60, color=LEGIT_COLOUR)
    amounts.set(title="Amounts", xlabel="amount", ylabel="transactions")
    return figure
