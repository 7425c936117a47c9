"""The polars engine's window sums (keys laid out end to end, one `Expr.rolling` per window) against the
`over` expression they replaced: the features must be equal bit for bit, on any input."""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

import numpy as np
import polars as pl
import pytest
from fraudkit.features import CARD_FEATURES, HANDBOOK_FEATURES, FeatureSet, compute_features, engine_polars
from fraudkit.features.engine_polars import flag_expr, ratio_expr
from fraudkit.features.spec import EMPTY_WINDOW_MEAN, Window, WindowAggregate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BASE = dt.datetime(2024, 3, 4, tzinfo=dt.UTC)


def _window_sum(column: str, timestamp: str, key: str, window: Window) -> pl.Expr:
    total = pl.col(column).rolling_sum_by(timestamp, window.start_offset, closed="both").over(key)
    if window.delay:
        total = total - pl.col(column).rolling_sum_by(timestamp, window.delay, closed="right").over(key)
    return total


def _aggregate_exprs(feature_set: FeatureSet, key: str, window: Window,
                     members: tuple[WindowAggregate, ...]) -> list[pl.Expr]:
    count = _window_sum("__one", feature_set.timestamp, key, window)
    exprs = []
    for aggregate in members:
        if aggregate.value is None:
            exprs.append(count.alias(aggregate.name))
            continue
        total = _window_sum(aggregate.value, feature_set.timestamp, key, window).cast(pl.Float64)
        mean = pl.when(count > 0).then(total / count.cast(pl.Float64)).otherwise(EMPTY_WINDOW_MEAN)
        exprs.append(mean.alias(aggregate.name))
    return exprs


def over_reference(df: pl.DataFrame, feature_set: FeatureSet) -> pl.DataFrame:
    """The polars engine as it was before (commit 2c76732): each window sum is rolling_sum_by(...).over(key)."""
    frame = df.with_row_index("__row").with_columns(pl.lit(1, dtype=pl.Int64).alias("__one"))
    time_sorted = frame[feature_set.timestamp].is_sorted()
    if not time_sorted:
        frame = frame.sort(feature_set.timestamp, maintain_order=True)
    integer_values = [c for c in feature_set.value_columns if frame.schema[c].is_integer()]
    frame = frame.with_columns(pl.col(integer_values).cast(pl.Int64))
    aggregates = [
        expr
        for (key, window), members in feature_set.frames().items()
        for expr in _aggregate_exprs(feature_set, key, window, members)
    ]
    result = (
        frame.lazy()
        .with_columns(aggregates)
        .with_columns(ratio_expr(r) for r in feature_set.ratios)
        .with_columns(flag_expr(f, feature_set.timestamp) for f in feature_set.flags)
        .select("__row", *feature_set.feature_names)
        .collect()
    )
    return (result if time_sorted else result.sort("__row")).drop("__row")


def engine_input(df: pl.DataFrame, feature_set: FeatureSet) -> pl.DataFrame:
    """What compute_features hands the engine: the input columns, times in microseconds."""
    return df.select(feature_set.input_columns).with_columns(pl.col(feature_set.timestamp).dt.cast_time_unit("us"))


def assert_bitwise_equal(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert got.columns == expected.columns
    for name in expected.columns:
        a, b = got[name], expected[name]
        assert a.dtype == b.dtype, name
        if a.dtype.is_float():  # bits: 0.0 and -0.0 differ, NaN equals NaN
            assert a.to_numpy().view(np.uint64).tolist() == b.to_numpy().view(np.uint64).tolist(), name
        else:
            assert a.to_list() == b.to_list(), name


@pytest.fixture
def over_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys whose sums went through the `over` fallback."""
    calls: list[str] = []
    original = engine_polars._sums_over

    def spy(frame: pl.DataFrame, timestamp: str, key: str,
            frames: dict[Window, tuple[WindowAggregate, ...]]) -> pl.DataFrame:
        calls.append(key)
        return original(frame, timestamp, key, frames)

    monkeypatch.setattr(engine_polars, "_sums_over", spy)
    return calls


# Amounts whose sums round differently in different orders or by another summation method: cents, wide
# magnitudes with both signs, -0.0, and now and then an infinity (a window holding +inf and -inf gives NaN).
amounts = st.one_of(
    st.integers(1, 1_000_000).map(lambda cents: cents / 100),
    st.floats(-1e16, 1e16, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.1, 0.2, 0.3, 1e-9, 3.3e15, -3.3e15, -0.0, math.inf, -math.inf]),
)
# minutes around the 10-minute and 1-week edges, with microsecond nudges and many ties
card_times = st.builds(
    lambda minutes, nudge: BASE + dt.timedelta(minutes=minutes, microseconds=nudge),
    st.one_of(st.integers(0, 30), st.integers(10_080 - 15, 10_080 + 15), st.integers(0, 30_000)),
    st.sampled_from([0, 0, 0, 1, -1]),
)
card_rows = st.lists(
    st.tuples(st.sampled_from(["4000000000000001", "4000000000000002", "4000000000000003", "x"]), card_times,
              amounts),
    min_size=1,
    max_size=60,
)


def card_frame(rows: list[tuple[str, dt.datetime, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"tid": [f"t{i}" for i in range(len(rows))], "event_time": [r[1] for r in rows],
         "cc_num": [r[0] for r in rows], "amount": [r[2] for r in rows], "fraud_label": [0] * len(rows)},
        schema={"tid": pl.Utf8, "event_time": pl.Datetime("us", "UTC"), "cc_num": pl.Utf8, "amount": pl.Float64,
                "fraud_label": pl.Int8},
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(card_rows)
def test_card_features_equal_the_over_expression_bit_for_bit(rows: list[tuple[str, dt.datetime, float]]) -> None:
    df = engine_input(card_frame(rows), CARD_FEATURES)
    assert_bitwise_equal(engine_polars.compute(df, CARD_FEATURES), over_reference(df, CARD_FEATURES))


handbook_rows = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(0, 3),
        st.builds(lambda half_days, nudge: dt.datetime(2024, 3, 4) + dt.timedelta(hours=12 * half_days,
                                                                                   microseconds=nudge),
                  st.integers(0, 100), st.sampled_from([0, 0, 0, 1, -1])),
        amounts,
        st.integers(0, 1),
    ),
    min_size=1,
    max_size=60,
)


def handbook_frame(rows: list[tuple[int, int, dt.datetime, float, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"transaction_id": list(range(len(rows))), "tx_datetime": [r[2] for r in rows],
         "customer_id": [r[0] for r in rows], "terminal_id": [r[1] for r in rows], "tx_amount": [r[3] for r in rows],
         "tx_fraud": [r[4] for r in rows]},
        schema={"transaction_id": pl.Int64, "tx_datetime": pl.Datetime("us"), "customer_id": pl.Int64,
                "terminal_id": pl.Int64, "tx_amount": pl.Float64, "tx_fraud": pl.Int8},
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(handbook_rows)
def test_handbook_features_equal_the_over_expression_bit_for_bit(
    rows: list[tuple[int, int, dt.datetime, float, int]],
) -> None:
    df = engine_input(handbook_frame(rows), HANDBOOK_FEATURES)
    assert_bitwise_equal(engine_polars.compute(df, HANDBOOK_FEATURES), over_reference(df, HANDBOOK_FEATURES))


def many_rows(seed: int, rows: int = 50_000, cards: int = 300) -> pl.DataFrame:
    """A larger, unsorted stream: long sliding windows, many keys, ties, amounts over 12 orders of magnitude."""
    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, 60 * 86_400, rows) // 30 * 30
    return card_frame(list(zip(
        [f"card{c}" for c in rng.integers(0, cards, rows)],
        [BASE + dt.timedelta(seconds=int(s)) for s in seconds],
        (rng.lognormal(3, 2, rows) * rng.choice([1, 1, 1, -1], rows)).round(2).tolist(),
        strict=True,
    )))


@pytest.mark.parametrize("seed", [1, 2])
def test_a_larger_stream_equals_the_over_expression_bit_for_bit(seed: int, over_calls: list[str]) -> None:
    df = engine_input(many_rows(seed), CARD_FEATURES)
    assert_bitwise_equal(engine_polars.compute(df, CARD_FEATURES), over_reference(df, CARD_FEATURES))
    assert over_calls == []  # the laid-out sums, not the fallback


@pytest.mark.parametrize("engine_affinity", ["streaming", "in-memory"])
def test_the_configured_polars_engine_does_not_change_the_sums(
    engine_affinity: Literal["streaming", "in-memory"],
) -> None:
    # the streaming engine would cut the rolling sums into batches; the engine pins the in-memory one
    df = engine_input(many_rows(3), CARD_FEATURES)
    expected = over_reference(df, CARD_FEATURES)
    with pl.Config(engine_affinity=engine_affinity):
        assert_bitwise_equal(engine_polars.compute(df, CARD_FEATURES), expected)


def test_the_command_path_gives_the_same_frame_as_before() -> None:
    df = many_rows(4, rows=20_000)
    out = compute_features(df, CARD_FEATURES, "polars")
    assert_bitwise_equal(out.select(df.columns), df)
    assert_bitwise_equal(out.select(CARD_FEATURES.feature_names), over_reference(engine_input(df, CARD_FEATURES),
                                                                                 CARD_FEATURES))


def test_a_single_row_is_summed_as_before(over_calls: list[str]) -> None:
    # one row takes polars' direct sum in a rolling context, which keeps -0.0; the per-key kernel gives 0.0
    df = engine_input(card_frame([("c1", BASE, -0.0)]), CARD_FEATURES)
    assert_bitwise_equal(engine_polars.compute(df, CARD_FEATURES), over_reference(df, CARD_FEATURES))
    assert over_calls == ["cc_num"]


def test_keys_too_far_apart_for_64_bit_axis_use_the_over_expression(over_calls: list[str]) -> None:
    # 250 years of times: 1,200 keys laid out 250 years apart would pass 2^63 microseconds
    rows = [(f"c{k}", time, float(k) + 0.25) for k in range(1_200)
            for time in (dt.datetime(1800, 1, 1, tzinfo=dt.UTC), dt.datetime(2050, 1, 1, tzinfo=dt.UTC))]
    df = engine_input(card_frame(rows), CARD_FEATURES)
    assert_bitwise_equal(engine_polars.compute(df, CARD_FEATURES), over_reference(df, CARD_FEATURES))
    assert over_calls == ["cc_num"]


def test_times_in_another_unit_than_microseconds_use_the_over_expression(over_calls: list[str]) -> None:
    df = engine_input(many_rows(6, rows=2_000), CARD_FEATURES)
    df = df.with_columns(pl.col("event_time").dt.cast_time_unit("ns"))
    assert_bitwise_equal(engine_polars.compute(df, CARD_FEATURES), over_reference(df, CARD_FEATURES))
    assert over_calls == ["cc_num"]


def test_the_fallback_flag_gives_the_same_features() -> None:
    df = engine_input(many_rows(5, rows=5_000), CARD_FEATURES)
    assert_bitwise_equal(engine_polars.compute(df, CARD_FEATURES, fallback=True),
                         engine_polars.compute(df, CARD_FEATURES))
