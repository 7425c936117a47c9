"""The Handbook simulator: its profiles, transaction process and three fraud scenarios."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_gen import handbook

CUSTOMERS, TERMINALS, DAYS, SEED = 600, 1_200, 60, 3
START = dt.date(2018, 4, 1)
# P(0 < int(normal(43200, 20000)) < 86400): the Handbook drops times outside the day
P_TIME_IN_DAY = 0.9692


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    return handbook.generate(CUSTOMERS, TERMINALS, DAYS, START, SEED)


@pytest.fixture(scope="module")
def tx(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return tables["transactions"].join(tables["customers"], on="customer_id").join(
        tables["terminals"], on="terminal_id"
    ).sort("transaction_id")


def test_transactions_schema_is_the_shared_contract(tables: dict[str, pl.DataFrame]) -> None:
    assert tables["transactions"].schema == pl.Schema(
        {"transaction_id": pl.Int64, "tx_datetime": pl.Datetime("us"), "customer_id": pl.Int64,
         "terminal_id": pl.Int64, "tx_amount": pl.Float64, "tx_time_seconds": pl.Int64, "tx_time_days": pl.Int64,
         "tx_fraud": pl.Int8, "tx_fraud_scenario": pl.Int8}
    )


def test_ids_follow_time_order(tables: dict[str, pl.DataFrame]) -> None:
    frame = tables["transactions"]
    assert frame["transaction_id"].to_list() == list(range(frame.height))
    assert frame["tx_datetime"].is_sorted()


def test_times_are_seconds_after_the_start(tables: dict[str, pl.DataFrame]) -> None:
    frame = tables["transactions"]
    origin = dt.datetime(START.year, START.month, START.day)
    expected = pl.lit(origin) + pl.duration(seconds=pl.col("tx_time_seconds"))
    assert frame.select((pl.col("tx_datetime") == expected).all()).item()
    assert (frame["tx_time_days"] == frame["tx_time_seconds"] // 86_400).all()
    assert frame["tx_time_days"].min() == 0 and frame["tx_time_days"].max() == DAYS - 1
    second_of_day = frame["tx_time_seconds"] % 86_400
    assert second_of_day.min() > 0


def test_customers_only_use_terminals_within_radius_5(tx: pl.DataFrame) -> None:
    distance = ((tx["x_customer_id"] - tx["x_terminal_id"]) ** 2 + (tx["y_customer_id"] - tx["y_terminal_id"]) ** 2).sqrt()
    assert distance.max() < 5.0


def test_terminal_counts_match_the_geometry(tables: dict[str, pl.DataFrame]) -> None:
    customers, terminals = tables["customers"], tables["terminals"]
    c = customers.select("x_customer_id", "y_customer_id").to_numpy()
    t = terminals.select("x_terminal_id", "y_terminal_id").to_numpy()
    within = (np.hypot(c[:, None, 0] - t[None, :, 0], c[:, None, 1] - t[None, :, 1]) < 5).sum(axis=1)
    assert customers["nb_terminals"].to_list() == within.tolist()


def test_transaction_count_matches_the_customer_rates(tables: dict[str, pl.DataFrame]) -> None:
    customers = tables["customers"].filter(pl.col("nb_terminals") > 0)
    expected = customers["mean_nb_tx_per_day"].sum() * DAYS * P_TIME_IN_DAY
    assert tables["transactions"].height == pytest.approx(expected, rel=0.03)


def test_profiles_follow_the_handbook_ranges(tables: dict[str, pl.DataFrame]) -> None:
    customers = tables["customers"]
    assert customers["mean_amount"].is_between(5, 100).all()
    assert (customers["std_amount"] == customers["mean_amount"] / 2).all()
    assert customers["mean_nb_tx_per_day"].is_between(0, 4).all()
    for frame, prefix in ((customers, "customer"), (tables["terminals"], "terminal")):
        for axis in "xy":
            assert frame[f"{axis}_{prefix}_id"].is_between(0, 100).all()


def test_customers_carry_faker_pii(tables: dict[str, pl.DataFrame]) -> None:
    customers = tables["customers"]
    assert customers["customer_id"].to_list() == list(range(CUSTOMERS))
    for column in ("name", "email", "phone", "address"):
        assert (customers[column].str.len_chars() > 3).all()
    assert customers["email"].str.contains("@").all()
    assert not customers["address"].str.contains("\n").any()


def test_fraud_flag_is_any_scenario(tables: dict[str, pl.DataFrame]) -> None:
    frame = tables["transactions"]
    assert ((frame["tx_fraud"] == 1) == (frame["tx_fraud_scenario"] > 0)).all()
    assert set(frame["tx_fraud_scenario"].unique()) == {0, 1, 2, 3}


def test_scenario_1_is_amounts_above_220(tables: dict[str, pl.DataFrame]) -> None:
    frame = tables["transactions"]
    assert (frame.filter(pl.col("tx_fraud_scenario") == 1)["tx_amount"] > 220).all()
    assert (frame.filter(pl.col("tx_fraud_scenario") == 0)["tx_amount"] <= 220).all()


def test_scenario_2_takes_a_terminals_whole_day(tables: dict[str, pl.DataFrame]) -> None:
    """A compromised terminal's every transaction that day is fraud (scenario 3 may relabel some)."""
    per_terminal_day = tables["transactions"].group_by("terminal_id", "tx_time_days").agg(
        any_2=(pl.col("tx_fraud_scenario") == 2).any(), all_2_or_3=(pl.col("tx_fraud_scenario") >= 2).all()
    )
    assert per_terminal_day.filter(pl.col("any_2"))["all_2_or_3"].all()


def test_scenario_2_lasts_28_days_per_compromise(tables: dict[str, pl.DataFrame]) -> None:
    spans = tables["transactions"].filter(pl.col("tx_fraud_scenario") == 2).group_by("terminal_id").agg(
        span=pl.col("tx_time_days").max() - pl.col("tx_time_days").min()
    )
    assert spans.height > 0
    # one compromise spans at most 27 days; only a terminal compromised again can exceed that
    assert (spans["span"] <= 27).mean() > 0.8


def test_scenario_3_multiplies_a_third_of_the_amounts_by_5(tx: pl.DataFrame) -> None:
    ratio = tx["tx_amount"] / tx["mean_amount"]
    scenario = tx["tx_fraud_scenario"]
    assert ratio.filter(scenario == 3).mean() == pytest.approx(5.0, rel=0.2)
    assert ratio.filter(scenario == 0).mean() == pytest.approx(1.0, rel=0.1)


def test_fraud_rates_near_the_handbook(tables: dict[str, pl.DataFrame]) -> None:
    """The Handbook's 14,681 frauds in 1,754,155 transactions: 0.84%; a smaller town keeps the rate roughly."""
    fraud_rate = float(tables["transactions"]["tx_fraud"].mean())
    assert 0.004 < fraud_rate < 0.016


def test_compromises_per_day_are_the_handbooks_at_its_size() -> None:
    assert handbook.compromises_per_day(5_000, 10_000) == (2.0, 3.0)
    assert handbook.compromises_per_day(500, 1_000) == pytest.approx((0.2, 0.3))


@settings(max_examples=40, deadline=None)
@given(days=st.integers(1, 40), population=st.integers(1, 50), per_day=st.floats(0, 4), seed=st.integers(0, 2**32))
def test_daily_compromises_are_distinct_within_a_day(days: int, population: int, per_day: float, seed: int) -> None:
    pick_day, pick_id = handbook.daily_compromises(np.random.Generator(np.random.PCG64(seed)), days, population, per_day)
    counts = np.bincount(pick_day, minlength=days)
    assert ((counts >= min(int(per_day), population)) & (counts <= min(int(per_day) + 1, population))).all()
    assert len({(d, i) for d, i in zip(pick_day.tolist(), pick_id.tolist(), strict=True)}) == len(pick_id)
    assert ((pick_id >= 0) & (pick_id < population)).all()


def test_same_seed_same_tables_other_seed_other_tables(tables: dict[str, pl.DataFrame]) -> None:
    again = handbook.generate(CUSTOMERS, TERMINALS, DAYS, START, SEED)
    assert all(again[name].equals(tables[name]) for name in tables)
    other = handbook.generate(CUSTOMERS, TERMINALS, DAYS, START, SEED + 1)
    assert not other["transactions"].equals(tables["transactions"])


@pytest.mark.parametrize("field", ["customers", "terminals", "days"])
def test_bad_sizes_name_the_parameter(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        handbook.generate(**{"customers": 10, "terminals": 10, "days": 3, field: 0})
