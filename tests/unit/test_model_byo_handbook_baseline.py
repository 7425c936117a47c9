"""fraudkit.model.handbook_baseline: the Handbook's own window convention, split and folds (its published
figures are checked by the published-data run, docs/handbook_published_report.json)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from fraudkit.model import handbook_baseline as hb
from fraudkit.model.datasets import features_of
from fraudkit.model.evaluation import prepare_frame
from fraudkit.model.specs import DATASETS, HANDBOOK_MODEL_FEATURES

from data_gen import handbook

T0 = dt.datetime(2018, 4, 2, 10, 0, 0)


def transactions(rows: list[tuple[int, dt.datetime, int, int, float, int]]) -> pl.DataFrame:
    """(transaction_id, time, customer, terminal, amount, fraud) rows in the kit's Handbook schema."""
    ids, times, customers, terminals, amounts, frauds = zip(*rows, strict=True)
    return pl.DataFrame(
        {
            "transaction_id": ids, "tx_datetime": times, "customer_id": customers,
            "terminal_id": terminals, "tx_amount": amounts, "tx_fraud": frauds,
        }
    )


def test_customer_windows_are_half_open_and_ties_row_by_row() -> None:
    day = dt.timedelta(days=1)
    df = hb.handbook_features(
        transactions([(0, T0, 1, 9, 10.0, 0), (1, T0 + day, 1, 9, 20.0, 0), (2, T0 + day, 1, 9, 60.0, 0)])
    )
    # (t - 1 day, t]: exactly one day earlier is out; of two same-second transactions the first does not see the second
    assert df["customer_id_nb_tx_1day_window"].tolist() == [1, 1, 2]
    assert df["customer_id_avg_amount_1day_window"].tolist() == [10.0, 20.0, 40.0]
    assert df["customer_id_nb_tx_7day_window"].tolist() == [1, 2, 3]
    # the kit's own features put both ends in the window and make same-second transactions peers
    kit = features_of("handbook", transactions([(0, T0, 1, 9, 10.0, 0), (1, T0 + day, 1, 9, 20.0, 0),
                                                (2, T0 + day, 1, 9, 60.0, 0)]))
    assert kit["customer_id_nb_tx_1day_window"].to_list() == [1, 3, 3]


def test_terminal_risk_is_delayed_and_zero_when_the_window_is_empty() -> None:
    day = dt.timedelta(days=1)
    df = hb.handbook_features(
        transactions([(0, T0, 1, 5, 10.0, 1), (1, T0 + 7.5 * day, 2, 5, 10.0, 0), (2, T0 + 9 * day, 3, 5, 10.0, 0)])
    )
    # at t = 7.5 days the 1-day window (t - 8 d, t - 7 d] holds the fraud at day 0; at 9 days it is empty
    assert df["terminal_id_nb_tx_1day_window"].tolist() == [0, 1, 0]
    assert df["terminal_id_risk_1day_window"].tolist() == [0.0, 1.0, 0.0]
    assert df["terminal_id_risk_7day_window"].tolist() == [0.0, 1.0, 1.0]


def test_weekend_and_night_flags() -> None:
    saturday_night = dt.datetime(2018, 4, 7, 6, 59)
    df = hb.handbook_features(
        transactions([(0, saturday_night, 1, 1, 1.0, 0), (1, saturday_night + dt.timedelta(hours=3), 1, 1, 1.0, 0)])
    )
    assert df["tx_during_weekend"].tolist() == [1, 1] and df["tx_during_night"].tolist() == [1, 0]


def test_known_compromised_customers_leave_the_test_days() -> None:
    day = dt.timedelta(days=1)
    start = dt.datetime(2018, 4, 1)
    rows = [(0, start + 0.5 * day, 1, 1, 5.0, 1)]  # customer 1: fraud in the training week
    rows += [(1, start + 7.5 * day, 2, 1, 5.0, 1)]  # customer 2: fraud on the first delay day
    rows += [(2 + d, start + (14 + d + 0.5) * day, c, 1, 5.0, 0) for d in range(7) for c in (1, 2, 3)]
    train, test = hb.Fold(start).sets(hb.handbook_features(transactions(rows)))
    assert len(train) == 1
    customers_by_day = test.groupby("day")["customer_id"].apply(sorted).tolist()
    # customer 2's fraud is known one delay after it happened: from the second test day on
    assert customers_by_day == [[2, 3]] + [[3]] * 6


def test_chapter5_folds_are_the_handbooks_weeks() -> None:
    folds = hb.chapter5_folds(dt.datetime(2018, 8, 8))
    assert [f.train_start.date().isoformat() for f in folds["validation"]] == [
        "2018-07-11", "2018-07-04", "2018-06-27", "2018-06-20"
    ]
    assert [f.describe()["test"] for f in folds["test"]] == [
        "2018-08-29..2018-09-04", "2018-08-22..2018-08-28", "2018-08-15..2018-08-21", "2018-08-08..2018-08-14"
    ]
    # scikit-learn's ParameterGrid order: the published settings are rows 9, 10 and 11
    assert [hb.CHAPTER5_GRID[i] for i in (9, 10, 11)] == [
        {"learning_rate": 0.3, "max_depth": 3, "n_estimators": trees} for trees in (25, 50, 100)
    ]


@pytest.fixture(scope="module")
def generated() -> pl.DataFrame:
    return handbook.generate(customers=300, terminals=600, days=60, seed=3)["transactions"]


def test_the_kit_and_the_handbook_test_the_same_rows(generated: pl.DataFrame) -> None:
    prepared = prepare_frame(DATASETS["handbook"], features_of("handbook", generated))
    df = hb.handbook_features(generated)
    _, test = hb.Fold(hb.chapter3_train_start(prepared.split.test_start)).sets(df)
    kit_test = prepared.parts["test"]
    assert len(test) == len(kit_test) > 0
    assert sorted(test["tx_amount"]) == sorted(kit_test["tx_amount"].to_list())


def test_chapter3_scores_better_than_chance_and_is_seeded(generated: pl.DataFrame) -> None:
    df = hb.handbook_features(generated)
    test_start = dt.datetime(2018, 5, 24)
    first = hb.chapter3(df, test_start)
    assert first["train"] == "2018-05-10..2018-05-16" and first["test"] == "2018-05-24..2018-05-30"
    assert first["roc_auc"] > 0.6 and 0 < first["card_precision_at_100"] <= 1
    assert hb.chapter3(df, test_start)["average_precision"] == first["average_precision"]
    assert set(HANDBOOK_MODEL_FEATURES) <= set(df.columns)
    assert np.isfinite(df[HANDBOOK_MODEL_FEATURES].to_numpy()).all()


def test_chapter5_chooses_on_validation_and_tests_only_the_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per metric the first setting with the best mean validation figure; the test folds are trained only for
    the chosen settings, so no test figure can inform a choice."""
    validation_means = {0: (0.80, 0.60, 0.20), 1: (0.90, 0.50, 0.25), 2: (0.90, 0.65, 0.25)}
    grid = tuple({"learning_rate": 0.3, "max_depth": 3, "n_estimators": n} for n in (1, 2, 3))
    calls: list[tuple[str, int]] = []

    def figures(df: object, folds: list[hb.Fold], settings: dict[str, float]) -> dict[str, dict[str, float]]:
        index = grid.index(settings)
        kind = "test" if folds[0].train_start > dt.datetime(2018, 7, 20) else "validation"
        calls.append((kind, index))
        means = validation_means[index] if kind == "validation" else (0.1 * index,) * 3
        return {metric: {"mean": mean, "std": 0.0} for metric, mean in zip(hb.METRICS, means, strict=True)}

    monkeypatch.setattr(hb, "CHAPTER5_GRID", grid)
    monkeypatch.setattr(hb, "fold_figures", figures)
    result = hb.chapter5(None, dt.datetime(2018, 8, 8))  # type: ignore[arg-type]
    chosen = {metric: grid.index(result["chosen"][metric]["settings"]) for metric in hb.METRICS}
    assert chosen == {"roc_auc": 1, "average_precision": 2, "card_precision_at_100": 1}  # ties: the first
    assert [c for c in calls if c[0] == "test"] == [("test", 1), ("test", 2)]
    assert result["roc_auc"] == pytest.approx(0.1) and result["average_precision"] == pytest.approx(0.2)
