"""Every engine against the window definition itself: property tests on small streams, plus explicit edges."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from fraudkit.features import (
    CARD_FEATURES,
    ENGINES,
    HANDBOOK_FEATURES,
    FeatureSet,
    WindowAggregate,
    compute_card_features,
    compute_features,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BASE = dt.datetime(2024, 3, 4, tzinfo=dt.UTC)  # a Monday
MEAN_TOLERANCE = 1e-9


def card_frame(rows: list[tuple[str, dt.datetime, float]]) -> pl.DataFrame:
    """Transactions in the data contract's card layout (tid, event_time UTC, cc_num, amount, fraud_label)."""
    return pl.DataFrame(
        {
            "tid": [f"t{i}" for i in range(len(rows))],
            "event_time": [r[1] for r in rows],
            "cc_num": [r[0] for r in rows],
            "amount": [r[2] for r in rows],
            "fraud_label": [0] * len(rows),
        },
        schema={"tid": pl.Utf8, "event_time": pl.Datetime("us", "UTC"), "cc_num": pl.Utf8,
                "amount": pl.Float64, "fraud_label": pl.Int8},
    )


def handbook_frame(rows: list[tuple[int, int, dt.datetime, float, int]]) -> pl.DataFrame:
    """Transactions in the Handbook layout: (customer_id, terminal_id, naive tx_datetime, tx_amount, tx_fraud)."""
    return pl.DataFrame(
        {
            "transaction_id": list(range(len(rows))),
            "tx_datetime": [r[2] for r in rows],
            "customer_id": [r[0] for r in rows],
            "terminal_id": [r[1] for r in rows],
            "tx_amount": [r[3] for r in rows],
            "tx_fraud": [r[4] for r in rows],
        },
        schema={"transaction_id": pl.Int64, "tx_datetime": pl.Datetime("us"), "customer_id": pl.Int64,
                "terminal_id": pl.Int64, "tx_amount": pl.Float64, "tx_fraud": pl.Int8},
    )


def by_definition(df: pl.DataFrame, feature_set: FeatureSet, aggregate: WindowAggregate) -> list[float]:
    """The window rule read literally: for each row, scan every row for same key and s in [t-d-w, t-d]."""
    rows = df.to_dicts()
    ts, window = feature_set.timestamp, aggregate.window
    values = []
    for row in rows:
        members = [
            other for other in rows
            if other[aggregate.key] == row[aggregate.key]
            and row[ts] - window.start_offset <= other[ts] <= row[ts] - window.delay
        ]
        if aggregate.value is None:
            values.append(len(members))
        else:
            values.append(sum(m[aggregate.value] for m in members) / len(members) if members else 0.0)
    return values


def assert_matches_definition(df: pl.DataFrame, feature_set: FeatureSet) -> None:
    """Aggregates equal the definition on every engine; ratios and flags equal across engines."""
    derived = [r.name for r in feature_set.ratios] + [f.name for f in feature_set.flags]
    reference = compute_features(df, feature_set, "polars")
    for engine in ENGINES:
        out = compute_features(df, feature_set, engine)
        for name in derived:
            assert out[name].to_list() == pytest.approx(reference[name].to_list(), abs=MEAN_TOLERANCE, rel=0), name
        assert out.select(df.columns).equals(df), f"{engine} changed the input columns or row order"
        for aggregate in feature_set.aggregates:
            expected = by_definition(df, feature_set, aggregate)
            got = out[aggregate.name].to_list()
            if aggregate.function == "count":
                assert got == expected, f"{engine} {aggregate.name}"
            else:
                assert got == pytest.approx(expected, abs=MEAN_TOLERANCE, rel=0), f"{engine} {aggregate.name}"


# minutes chosen so windows hit their edges exactly: 10 min and 1 week (10080 min), with a 1 us nudge
card_minutes = st.one_of(st.integers(0, 25), st.integers(10_080 - 12, 10_080 + 12))
card_rows = st.lists(
    st.tuples(
        st.sampled_from(["4000000000000001", "4000000000000002", "4000000000000003"]),
        st.builds(lambda m, nudge: BASE + dt.timedelta(minutes=m, microseconds=nudge), card_minutes,
                  st.sampled_from([0, 0, 0, 1])),
        st.integers(1, 1_000_000).map(lambda cents: cents / 100),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(card_rows)
def test_card_engines_match_the_window_definition(rows: list[tuple[str, dt.datetime, float]]) -> None:
    assert_matches_definition(card_frame(rows), CARD_FEATURES)


# half-days, so the 1/7/30-day windows and the 7-day delay hit their edges exactly
handbook_rows = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.integers(0, 2),
        st.builds(lambda half_days, nudge: dt.datetime(2024, 3, 4) + dt.timedelta(hours=12 * half_days,
                                                                                   microseconds=nudge),
                  st.integers(0, 80), st.sampled_from([0, 0, 0, 1])),
        st.integers(1, 100_000).map(lambda cents: cents / 100),
        st.integers(0, 1),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(handbook_rows)
def test_handbook_engines_match_the_window_definition(rows: list[tuple[int, int, dt.datetime, float, int]]) -> None:
    assert_matches_definition(handbook_frame(rows), HANDBOOK_FEATURES)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_transaction_exactly_ten_minutes_earlier_is_in_the_window(engine: str) -> None:
    df = card_frame([("c1", BASE, 10.0), ("c1", BASE + dt.timedelta(minutes=10), 30.0)])
    out = compute_card_features(df, engine)
    assert out["num_trans_last_10m"].to_list() == [1, 2]
    assert out["avg_amt_last_10m"].to_list() == [10.0, 20.0]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_transaction_just_over_ten_minutes_earlier_is_out(engine: str) -> None:
    df = card_frame([("c1", BASE, 10.0), ("c1", BASE + dt.timedelta(minutes=10, microseconds=1), 30.0)])
    out = compute_card_features(df, engine)
    assert out["num_trans_last_10m"].to_list() == [1, 1]
    assert out["num_trans_last_1w"].to_list() == [1, 2]


@pytest.mark.parametrize("engine", ENGINES)
def test_same_timestamp_transactions_of_a_card_are_peers(engine: str) -> None:
    # the peers come first and last in input order; another card at the same time is not a peer
    df = card_frame([("c1", BASE, 10.0), ("c2", BASE, 99.0), ("c1", BASE - dt.timedelta(minutes=3), 5.0),
                     ("c1", BASE, 30.0)])
    out = compute_card_features(df, engine)
    assert out["num_trans_last_10m"].to_list() == [3, 1, 1, 3]
    assert out["avg_amt_last_10m"].to_list() == pytest.approx([15.0, 99.0, 5.0, 15.0], abs=MEAN_TOLERANCE)


@pytest.mark.parametrize("engine", ENGINES)
def test_output_keeps_input_order_of_unsorted_rows(engine: str) -> None:
    rows = [("c1", BASE + dt.timedelta(minutes=m), float(m + 1)) for m in (7, 0, 12, 3, 3)]
    out = compute_card_features(card_frame(rows), engine)
    assert out["tid"].to_list() == ["t0", "t1", "t2", "t3", "t4"]
    # minute 7 sees minutes 0, 3, 3, 7; minute 12 sees 3, 3, 7, 12 (minute 0 is 12 min earlier)
    assert out["num_trans_last_10m"].to_list() == [4, 1, 4, 3, 3]


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_input_gives_typed_empty_features(engine: str) -> None:
    out = compute_card_features(card_frame([]), engine)
    assert out.height == 0
    assert out.schema["num_trans_last_10m"] == pl.Int64
    assert out.schema["count_ratio"] == pl.Float64
