"""The ratio rule, the specification's own checks, and the reference SQL bugs the kit must not copy."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
from fraudkit.features import (
    CARD_FEATURES,
    ENGINES,
    HANDBOOK_FEATURES,
    UNDEFINED_RATIO,
    FeatureInputError,
    FeatureSet,
    Window,
    WindowAggregate,
    card_ratios,
    compute_card_features,
    compute_handbook_features,
)

from tests.unit.test_features_engines import BASE, card_frame, handbook_frame

DAY = dt.timedelta(days=1)
MONDAY = dt.datetime(2024, 3, 4)


def test_card_ratios_divide_in_floating_point() -> None:
    ratios = card_ratios(amount=50.0, num_10m=1, avg_10m=20.0, num_1w=3, avg_1w=40.0)
    assert ratios == {"amt_ratio1": 0.5, "amt_ratio2": 1.25, "count_ratio": pytest.approx(1 / 3)}


@pytest.mark.parametrize("missing", [None, math.nan, 0, 0.0])
def test_card_ratios_with_a_zero_or_missing_denominator_are_undefined(missing: float | None) -> None:
    ratios = card_ratios(amount=50.0, num_10m=2, avg_10m=20.0, num_1w=missing, avg_1w=missing)
    assert ratios == dict.fromkeys(("amt_ratio1", "amt_ratio2", "count_ratio"), UNDEFINED_RATIO)


def test_card_ratios_with_aged_out_ten_minute_aggregates_are_undefined() -> None:
    ratios = card_ratios(amount=50.0, num_10m=None, avg_10m=None, num_1w=4, avg_1w=25.0)
    assert ratios == {"amt_ratio1": UNDEFINED_RATIO, "amt_ratio2": 2.0, "count_ratio": UNDEFINED_RATIO}


@pytest.mark.parametrize("engine", ENGINES)
def test_batch_ratios_follow_card_ratios(engine: str) -> None:
    minutes = (0, 2, 30, 31, 60 * 24 * 3)
    rows = [("c1", BASE + dt.timedelta(minutes=m), amount) for m, amount in zip(minutes, (0.0, 0.0, 7.0, 3.5, 9.25),
                                                                              strict=True)]
    out = compute_card_features(card_frame(rows), engine)
    for row in out.iter_rows(named=True):
        expected = card_ratios(row["amount"], row["num_trans_last_10m"], row["avg_amt_last_10m"],
                               row["num_trans_last_1w"], row["avg_amt_last_1w"])
        assert {name: row[name] for name in expected} == pytest.approx(expected, abs=1e-12)
    # the first two transactions have a zero 1-week mean amount: their amount ratios are undefined
    assert out["amt_ratio2"].to_list()[:2] == [UNDEFINED_RATIO, UNDEFINED_RATIO]
    assert out["count_ratio"].to_list()[3] == pytest.approx(2 / 4)  # an integer division would give 0


def test_spec_rejects_names_that_are_not_plain_identifiers() -> None:
    window = Window("1h", dt.timedelta(hours=1))
    with pytest.raises(ValueError, match="identifier"):
        FeatureSet("x", "ts", (WindowAggregate("bad-name", "count", "k", window),))


def test_spec_rejects_a_mean_without_a_value_column() -> None:
    with pytest.raises(ValueError, match="value column"):
        WindowAggregate("m", "mean", "k", Window("1h", dt.timedelta(hours=1)))


def test_spec_lists_the_contract_columns() -> None:
    assert CARD_FEATURES.input_columns == ("event_time", "cc_num", "amount")
    assert set(HANDBOOK_FEATURES.input_columns) == {"tx_datetime", "customer_id", "terminal_id", "tx_amount",
                                                    "tx_fraud"}


def test_missing_columns_are_named() -> None:
    with pytest.raises(FeatureInputError, match="amount"):
        compute_card_features(card_frame([("c1", BASE, 1.0)]).drop("amount"))


def test_null_amounts_are_rejected() -> None:
    df = card_frame([("c1", BASE, 1.0)]).with_columns(pl.lit(None, dtype=pl.Float64).alias("amount"))
    with pytest.raises(FeatureInputError, match="amount"):
        compute_card_features(df)


@pytest.mark.parametrize("engine", ENGINES)
def test_nanosecond_and_millisecond_times_are_accepted_and_kept(engine: str) -> None:
    df = card_frame([("c1", BASE, 1.0), ("c1", BASE + dt.timedelta(minutes=10), 3.0)])
    for unit in ("ns", "ms"):
        source = df.with_columns(pl.col("event_time").dt.cast_time_unit(unit))
        out = compute_card_features(source, engine)
        assert out["num_trans_last_10m"].to_list() == [1, 2]
        assert out.schema["event_time"] == source.schema["event_time"]


def test_sub_microsecond_times_are_rejected() -> None:
    df = card_frame([("c1", BASE, 1.0)]).with_columns(
        pl.col("event_time").dt.cast_time_unit("ns") + pl.duration(nanoseconds=1)
    )
    with pytest.raises(FeatureInputError, match="sub-microsecond"):
        compute_card_features(df)


def test_unknown_engine_is_rejected() -> None:
    with pytest.raises(ValueError, match="engine"):
        compute_card_features(card_frame([("c1", BASE, 1.0)]), engine="no-such-engine")


# -- the reference SQL bugs (Redshift near-real-time fraud detection), each caught on every engine --


@pytest.mark.parametrize("engine", ENGINES)
def test_count_counts_transactions_not_amounts(engine: str) -> None:
    df = handbook_frame([(1, 1, MONDAY, 50.0, 0), (1, 2, MONDAY + dt.timedelta(hours=1), 70.0, 0)])
    out = compute_handbook_features(df, engine)
    assert out["customer_id_nb_tx_1day_window"].to_list() == [1, 2]
    assert out["customer_id_avg_amount_1day_window"].to_list() == [50.0, 60.0]


@pytest.mark.parametrize("engine", ENGINES)
def test_weekend_flag_uses_the_right_weekday_codes(engine: str) -> None:
    days = [MONDAY + dt.timedelta(days=d, hours=12) for d in range(7)]  # Monday ... Sunday, noon
    out = compute_handbook_features(handbook_frame([(d.day, 1, d, 1.0, 0) for d in days]), engine)
    assert out["tx_during_weekend"].to_list() == [0, 0, 0, 0, 0, 1, 1]
    assert out["tx_during_night"].to_list() == [0] * 7


@pytest.mark.parametrize("engine", ENGINES)
def test_night_is_hour_six_or_earlier(engine: str) -> None:
    times = [MONDAY + dt.timedelta(hours=h, minutes=59) for h in (0, 5, 6, 7, 23)]
    out = compute_handbook_features(handbook_frame([(1, 1, t, 1.0, 0) for t in times]), engine)
    assert out["tx_during_night"].to_list() == [1, 1, 1, 0, 0]


@pytest.mark.parametrize("engine", ENGINES)
def test_terminal_risk_is_a_fraction_not_an_integer_division(engine: str) -> None:
    frauds = [1, 0, 0]
    rows = [(c, 7, MONDAY + dt.timedelta(hours=c), 10.0, f) for c, f in enumerate(frauds)]
    rows.append((9, 7, MONDAY + dt.timedelta(days=8), 10.0, 0))
    out = compute_handbook_features(handbook_frame(rows), engine)
    assert out["terminal_id_nb_tx_1day_window"].to_list()[-1] == 3
    assert out["terminal_id_risk_1day_window"].to_list()[-1] == pytest.approx(1 / 3)


@pytest.mark.parametrize("engine", ENGINES)
def test_windows_are_anchored_to_each_transaction_not_to_calendar_days(engine: str) -> None:
    # 23:00 then 01:00 next day: 2 h apart, same 1-day window (a calendar-date window would split them);
    # 01:00 then 23:00 next day: 46 h apart, different windows (a "today and yesterday" window would join them)
    times = [MONDAY + dt.timedelta(hours=23), MONDAY + dt.timedelta(days=1, hours=1),
             MONDAY + dt.timedelta(days=10, hours=1), MONDAY + dt.timedelta(days=11, hours=23)]
    out = compute_handbook_features(handbook_frame([(1, i, t, 10.0, 0) for i, t in enumerate(times)]), engine)
    assert out["customer_id_nb_tx_1day_window"].to_list() == [1, 2, 1, 1]


@pytest.mark.parametrize("engine", ENGINES)
def test_terminal_window_is_delayed_by_seven_days_with_both_edges_included(engine: str) -> None:
    fraud = (1, 5, MONDAY, 10.0, 1)
    later = {  # offset after the fraud -> is the fraud inside [t - 8 days, t - 7 days]?
        7 * DAY - dt.timedelta(microseconds=1): False,
        7 * DAY: True,
        8 * DAY: True,
        8 * DAY + dt.timedelta(microseconds=1): False,
    }
    rows = [fraud, *((2 + i, 5, MONDAY + offset, 10.0, 0) for i, offset in enumerate(later))]
    out = compute_handbook_features(handbook_frame(rows), engine)
    assert out["terminal_id_nb_tx_1day_window"].to_list()[1:] == [int(inside) for inside in later.values()]
    assert out["terminal_id_risk_1day_window"].to_list()[1:] == [float(inside) for inside in later.values()]
    assert out["terminal_id_nb_tx_1day_window"][0] == 0  # the fraud's own window is empty: count 0, risk 0.0
    assert out["terminal_id_risk_1day_window"][0] == 0.0
