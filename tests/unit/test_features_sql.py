"""Generated SQL: it follows the specification, and the Flink/Spark text computes the same numbers.

Spark and Flink are not available offline, so the generated text runs in DuckDB with the few Spark
functions it uses defined as macros with Spark's documented semantics (weekday(): Monday 0 .. Sunday 6;
unix_micros(): microseconds since the epoch), and likewise Flink's DAYOFWEEK() (Sunday 1 .. Saturday 7).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest
from fraudkit.features import (
    CARD_FEATURES,
    HANDBOOK_FEATURES,
    WINDOW_1W,
    WINDOW_10M,
    FeatureSet,
    Ratio,
    TimeFlag,
    Window,
    WindowAggregate,
    compute_features,
    duckdb_sql,
    flink_sql,
    spark_sql,
)

from data_gen.cards import generate as generate_cards
from data_gen.handbook import generate as generate_handbook
from tests.unit.test_features_engines import card_frame

FLINK_MACROS = ("CREATE TEMP MACRO dayofweek(d) AS isodow(d) % 7 + 1",)  # Flink: Sunday 1 ... Saturday 7
SPARK_MACROS = (
    "CREATE TEMP MACRO weekday(ts) AS isodow(ts) - 1",
    "CREATE TEMP MACRO unix_micros(ts) AS epoch_us(ts)",
)


def run_in_duckdb(query: str, source: pl.DataFrame, macros: tuple[str, ...] = ()) -> pl.DataFrame:
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        for macro in macros:
            connection.execute(macro)
        connection.register("transactions", source.with_row_index("__row"))
        return connection.sql(f"SELECT * FROM ({query}) ORDER BY __row").pl()


def assert_same_features(got: pl.DataFrame, expected: pl.DataFrame, names: tuple[str, ...]) -> None:
    for name in names:
        if expected.schema[name].is_integer():
            assert got[name].cast(pl.Int64).to_list() == expected[name].to_list(), name
        else:
            assert got[name].to_list() == pytest.approx(expected[name].to_list(), abs=1e-9, rel=0), name


@pytest.fixture(scope="module")
def cards() -> pl.DataFrame:
    return generate_cards(transactions=3_000, cards=20, seed=7)


@pytest.fixture(scope="module")
def handbook() -> pl.DataFrame:
    return generate_handbook(customers=20, terminals=30, days=50, seed=7)["transactions"]


def test_spark_sql_computes_the_card_features(cards: pl.DataFrame) -> None:
    got = run_in_duckdb(spark_sql(CARD_FEATURES), cards, SPARK_MACROS)
    assert_same_features(got, compute_features(cards, CARD_FEATURES), CARD_FEATURES.feature_names)


def test_spark_sql_computes_the_handbook_features(handbook: pl.DataFrame) -> None:
    got = run_in_duckdb(spark_sql(HANDBOOK_FEATURES), handbook, SPARK_MACROS)
    assert_same_features(got, compute_features(handbook, HANDBOOK_FEATURES), HANDBOOK_FEATURES.feature_names)


@pytest.mark.parametrize("window", [WINDOW_10M, WINDOW_1W])
def test_flink_sql_computes_the_card_window(cards: pl.DataFrame, window: Window) -> None:
    text = flink_sql(CARD_FEATURES, window, sink="card_aggregates")
    assert text.startswith("INSERT INTO card_aggregates\n")
    got = run_in_duckdb(text.removeprefix("INSERT INTO card_aggregates\n").replace("SELECT", "SELECT __row,", 1), cards)
    names = tuple(a.name for a in CARD_FEATURES.aggregates if a.window == window)
    assert set(got.columns) == {"__row", "cc_num", "event_time", *names}
    assert_same_features(got, compute_features(cards, CARD_FEATURES), names)


def test_flink_sql_computes_a_handbook_customer_window_and_the_flags(handbook: pl.DataFrame) -> None:
    window = HANDBOOK_FEATURES.aggregates[0].window
    got = run_in_duckdb(flink_sql(HANDBOOK_FEATURES, window).replace("SELECT", "SELECT __row,", 1), handbook,
                        FLINK_MACROS)
    names = (*(a.name for a in HANDBOOK_FEATURES.aggregates if a.window == window), "tx_during_weekend",
             "tx_during_night")
    assert set(got.columns) == {"__row", "customer_id", "tx_datetime", *names}
    assert_same_features(got, compute_features(handbook, HANDBOOK_FEATURES), names)


def test_flink_sql_states_the_reference_window() -> None:
    assert "RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW" in flink_sql(CARD_FEATURES, WINDOW_10M)
    assert "RANGE BETWEEN INTERVAL '7' DAY PRECEDING AND CURRENT ROW" in flink_sql(CARD_FEATURES, WINDOW_1W)


def test_flink_refuses_a_delayed_window() -> None:
    with pytest.raises(ValueError, match="CURRENT ROW"):
        flink_sql(HANDBOOK_FEATURES, HANDBOOK_FEATURES.aggregates[-1].window)


def test_flink_intervals_wider_than_two_digits_carry_a_precision() -> None:
    wide = Window("100d", dt.timedelta(days=100))
    feature_set = FeatureSet("wide", "ts", (WindowAggregate("n", "count", "k", wide),))
    assert "INTERVAL '100' DAY(3) PRECEDING" in flink_sql(feature_set, wide)


def test_every_dialect_is_generated_from_the_specification() -> None:
    """A new specification (3-minute and 90-second-delayed windows, a ratio, a flag) changes every text."""
    three_minutes = Window("3m", dt.timedelta(minutes=3))
    delayed = Window("1m_late", dt.timedelta(minutes=1), delay=dt.timedelta(seconds=90))
    custom = FeatureSet(
        name="custom",
        timestamp="event_time",
        aggregates=(
            WindowAggregate("n_3m", "count", "cc_num", three_minutes),
            WindowAggregate("mean_3m", "mean", "cc_num", three_minutes, "amount"),
            WindowAggregate("n_late", "count", "cc_num", delayed),
        ),
        ratios=(Ratio("late_share", "n_late", "n_3m"),),
        flags=(TimeFlag("weekend", "weekend"),),
    )
    duck, spark, flink = duckdb_sql(custom), spark_sql(custom), flink_sql(custom, three_minutes)
    assert "RANGE BETWEEN INTERVAL 180000000 MICROSECONDS PRECEDING AND CURRENT ROW" in duck
    assert "RANGE BETWEEN INTERVAL 150000000 MICROSECONDS PRECEDING AND INTERVAL 90000000 MICROSECONDS PRECEDING" in duck
    assert "RANGE BETWEEN 150000000 PRECEDING AND 90000000 PRECEDING" in spark
    assert "RANGE BETWEEN INTERVAL '3' MINUTE PRECEDING AND CURRENT ROW" in flink
    for text in (duck, spark):
        assert all(name in text for name in custom.feature_names)
    rows = [("c1", dt.datetime(2024, 3, 9, tzinfo=dt.UTC) + dt.timedelta(seconds=s), 1.0 + s) for s in
            (0, 30, 90, 120, 150, 180, 181, 300)]
    df = card_frame(rows)
    expected = compute_features(df, custom, "polars")
    assert_same_features(compute_features(df, custom, "duckdb"), expected, custom.feature_names)
    assert_same_features(run_in_duckdb(spark, df, SPARK_MACROS), expected, custom.feature_names)
    # at t=180 s: 3-minute window [0, 180] holds 6 rows; the late window [30, 90] holds 2
    assert (expected["n_3m"][5], expected["n_late"][5], expected["late_share"][5]) == (6, 2, 2 / 6)
    assert expected["weekend"].to_list() == [1] * len(rows)  # 2024-03-09 is a Saturday
