"""The Fraud Detection Handbook's XGBoost baseline, reproduced the way the Handbook computes it.

Everything here follows the Handbook (Le Borgne et al., *Reproducible Machine Learning for Credit Card Fraud
Detection - Practical Handbook*), not the kit's own conventions, so its published figures can be checked:

- features (Chapter 3, "Baseline feature transformation"): pandas' time-based `rolling("Nd")` per customer and
  per terminal, i.e. windows (t - N days, t] taken row by row (of two transactions of a key at the same time,
  the first does not see the second); terminal windows end one delay (7 days) before t, computed as the
  difference of a (delay + N)-day and a delay-day window; an undefined risk is 0; weekend = Saturday or Sunday,
  night = hour <= 6. (The kit's own features use closed windows [t - N, t] with peers, see fraudkit.features.)
- split (Chapter 3): one training week, a delay week, a test week; each test day leaves out the customers whose
  fraud was known by then (a fraud in the training week, or in the delay week up to the day before the test
  day shifted back by the delay).
- model: the features standardised on the training week (scikit-learn's StandardScaler), then XGBoost's
  classifier with the library defaults of the Handbook's time (XGBoost 1.x: exact tree method, base score
  0.5), random_state 0.
- metrics: ROC-AUC, average precision and card precision@100 (fraudkit.model.metrics, the same definitions).

Two protocols, because the Handbook publishes two sets of figures:

- Chapter 3 ("Baseline fraud detection system"): default XGBoost (100 trees, depth 6, learning rate 0.3),
  trained on 2018-07-25..31, tested on 2018-08-08..14: ROC-AUC 0.862, AP 0.639, CP@100 0.273.
- Chapter 5 ("Model selection", XGBoost grid): the figures the kit quotes, ROC-AUC 0.869, AP 0.687,
  CP@100 0.303. Prequential: each of 18 settings (depth 3/6/9 x 25/50/100 trees x learning rate 0.1/0.3) is
  trained on four validation folds (training weeks starting 2018-07-11, 07-04, 06-27, 06-20) and four test
  folds (training weeks starting 2018-08-15, 08-08, 08-01, 07-25: test weeks 2018-08-08 to 09-04); per metric,
  the setting with the best mean validation figure is chosen and its mean test figure published. The three
  figures therefore come from three settings (100/0.3/3, 50/0.3/3 and 25/0.3/3) averaged over four test weeks,
  not from one model on the week 2018-08-08..14.

On other data the same protocols are anchored at the kit's test week (fraudkit.model.splits): the Chapter 3
training week starts two weeks before it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import xgboost as xgb
from sklearn.preprocessing import StandardScaler

from fraudkit.model.metrics import card_precision_at_k, ranking_metrics
from fraudkit.model.specs import HANDBOOK_MODEL_FEATURES

DAY = timedelta(days=1)
WINDOW_DAYS = (1, 7, 30)
DELAY_DAYS = 7
WEEK_DAYS = 7
FOLDS = 4
METRICS = ("roc_auc", "average_precision", "card_precision_at_100")

# XGBoost 1.x's XGBClassifier defaults as the Handbook ran them (tree_method "auto" chose "exact" on data of
# this size; the base score was 0.5, where XGBoost 2+ estimates it from the labels)
HANDBOOK_XGBOOST = {
    "n_estimators": 100,
    "max_depth": 6,
    "learning_rate": 0.3,
    "tree_method": "exact",
    "base_score": 0.5,
    "random_state": 0,
}
# Chapter 5's grid, in scikit-learn's ParameterGrid order (sorted names, the last one varying fastest), so a
# tie in validation is broken as the Handbook's np.argmax broke it
CHAPTER5_GRID: tuple[dict[str, float], ...] = tuple(
    {"learning_rate": rate, "max_depth": depth, "n_estimators": trees}
    for rate, depth, trees in itertools.product((0.1, 0.3), (3, 6, 9), (25, 50, 100))
)
PUBLISHED = {
    "chapter3": {"roc_auc": 0.862, "average_precision": 0.639, "card_precision_at_100": 0.273},
    "chapter5": {"roc_auc": 0.869, "average_precision": 0.687, "card_precision_at_100": 0.303},
}


def handbook_features(transactions: pl.DataFrame) -> pd.DataFrame:
    """Chapter 3's 15 features (lower-case names, fraudkit.model.specs.HANDBOOK_MODEL_FEATURES) for every
    transaction, with `day` (days since the first midnight of the data) and its transaction_id when it has
    one; rows in time order."""
    ids = ["transaction_id"] if "transaction_id" in transactions.columns else []
    frame = transactions.sort("tx_datetime", *ids)
    df = frame.select(*ids, "tx_datetime", "customer_id", "terminal_id", "tx_amount", "tx_fraud").to_pandas()
    df["tx_fraud"] = df["tx_fraud"].astype(np.float64)
    first_midnight = df["tx_datetime"].iloc[0].normalize()
    df["day"] = (df["tx_datetime"].dt.normalize() - first_midnight).dt.days
    df["tx_during_weekend"] = (df["tx_datetime"].dt.weekday >= 5).astype(np.int64)
    df["tx_during_night"] = (df["tx_datetime"].dt.hour <= 6).astype(np.int64)
    customers = handbook_key_order(df, "customer_id")
    for days in WINDOW_DAYS:
        count = _rolling(df, customers, "customer_id", "tx_amount", days, "count")
        df[f"customer_id_nb_tx_{days}day_window"] = count
        amounts = _rolling(df, customers, "customer_id", "tx_amount", days, "sum")
        df[f"customer_id_avg_amount_{days}day_window"] = amounts / count
    terminals = handbook_key_order(df, "terminal_id")
    delay_frauds = _rolling(df, terminals, "terminal_id", "tx_fraud", DELAY_DAYS, "sum")
    delay_count = _rolling(df, terminals, "terminal_id", "tx_fraud", DELAY_DAYS, "count")
    for days in WINDOW_DAYS:
        count = _rolling(df, terminals, "terminal_id", "tx_fraud", DELAY_DAYS + days, "count") - delay_count
        frauds = _rolling(df, terminals, "terminal_id", "tx_fraud", DELAY_DAYS + days, "sum") - delay_frauds
        df[f"terminal_id_nb_tx_{days}day_window"] = count
        # the Handbook's fillna(0): a risk over an empty window (0 / 0) is 0
        df[f"terminal_id_risk_{days}day_window"] = np.divide(frauds, count, out=np.zeros_like(frauds), where=count > 0)
    df["tx_fraud"] = df["tx_fraud"].astype(np.int64)
    return df


def handbook_key_order(df: pd.DataFrame, key: str) -> np.ndarray:
    """Positions of `df`'s rows grouped by `key` (ascending) and, within a key, in the order the Handbook's
    `sort_values("TX_DATETIME")` gave them: numpy's default (unstable) quicksort of the key's rows taken in
    transaction-id order. It decides which of two same-second transactions of a key sees the other."""
    ids = df["transaction_id"].to_numpy() if "transaction_id" in df.columns else np.arange(len(df))
    keys = df[key].to_numpy()
    times = df["tx_datetime"].to_numpy()
    by_id = np.lexsort((ids, keys))
    starts = np.flatnonzero(np.diff(keys[by_id])) + 1
    groups = np.split(by_id, starts)
    return np.concatenate([g[np.argsort(times[g], kind="quicksort")] for g in groups])


def _rolling(df: pd.DataFrame, order: np.ndarray, key: str, value: str, days: int, how: str) -> np.ndarray:
    """pandas' `rolling(f"{days}D")` of `value` per `key` over the time column with the rows of each key in
    `order` (handbook_key_order), aligned with `df`'s rows."""
    rolled = df.iloc[order].groupby(key, sort=True).rolling(f"{days}D", on="tx_datetime")[value]
    values = (rolled.sum() if how == "sum" else rolled.count()).to_numpy(dtype=np.float64)  # in `order`
    aligned = np.empty(len(df))
    aligned[order] = values
    return aligned


@dataclass(frozen=True)
class Fold:
    """One training week, the delay week, one test week (the Handbook's get_train_test_set)."""

    train_start: datetime

    @property
    def test_start(self) -> datetime:
        return self.train_start + (WEEK_DAYS + DELAY_DAYS) * DAY

    def describe(self) -> dict[str, str]:
        last = self.test_start + (WEEK_DAYS - 1) * DAY
        train_last = self.train_start + (WEEK_DAYS - 1) * DAY
        return {"train": f"{self.train_start.date()}..{train_last.date()}", "test": f"{self.test_start.date()}..{last.date()}"}

    def sets(self, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(train, test): the test days without the customers known to be compromised on each of them."""
        time = df["tx_datetime"]
        train = df[(time >= self.train_start) & (time < self.train_start + WEEK_DAYS * DAY)]
        if train.empty:
            raise ValueError(f"no transactions in the Handbook training week {self.describe()['train']}")
        first_day = int(train["day"].min())
        known = set(train.loc[train["tx_fraud"] == 1, "customer_id"])
        test_days = []
        for offset in range(WEEK_DAYS):
            delay_day = df[df["day"] == first_day + WEEK_DAYS + offset - 1]
            known |= set(delay_day.loc[delay_day["tx_fraud"] == 1, "customer_id"])
            test_day = df[df["day"] == first_day + WEEK_DAYS + DELAY_DAYS + offset]
            test_days.append(test_day[~test_day["customer_id"].isin(known)])
        return train, pd.concat(test_days)


def fit_predict(train: pd.DataFrame, test: pd.DataFrame, settings: dict[str, Any], nthread: int = 1) -> np.ndarray:
    """Test scores of XGBoost's classifier with `settings` on the standardised features (scaler fit on train)."""
    scaler = StandardScaler().fit(train[HANDBOOK_MODEL_FEATURES])
    model = xgb.XGBClassifier(**{**HANDBOOK_XGBOOST, **settings}, n_jobs=nthread)
    model.fit(scaler.transform(train[HANDBOOK_MODEL_FEATURES]), train["tx_fraud"].to_numpy())
    return np.asarray(model.predict_proba(scaler.transform(test[HANDBOOK_MODEL_FEATURES]))[:, 1])


def assess(test: pd.DataFrame, scores: np.ndarray) -> dict[str, float]:
    """ROC-AUC, average precision and card precision@100 of `scores` on the Handbook test set `test`."""
    labels = test["tx_fraud"].to_numpy()
    scored = pl.DataFrame(
        {"tx_datetime": test["tx_datetime"].to_numpy(), "customer_id": test["customer_id"].to_numpy(),
         "tx_fraud": labels, "score": scores}
    )
    cp = card_precision_at_k(scored, time_column="tx_datetime", entity_column="customer_id", label_column="tx_fraud")
    return {**ranking_metrics(labels, scores), "card_precision_at_100": cp}


def chapter3_train_start(test_start: datetime) -> datetime:
    """The Chapter 3 training week for a test week starting at `test_start` (a delay week in between)."""
    return test_start - (WEEK_DAYS + DELAY_DAYS) * DAY


def chapter3(df: pd.DataFrame, test_start: datetime) -> dict[str, Any]:
    """Chapter 3's baseline: default XGBoost on one training week, scored on the test week at `test_start`."""
    fold = Fold(chapter3_train_start(test_start))
    train, test = fold.sets(df)
    metrics = assess(test, fit_predict(train, test, {}))
    return {
        **fold.describe(),
        "settings": HANDBOOK_XGBOOST,
        "rows": {"train": len(train), "test": len(test), "test_frauds": int(test["tx_fraud"].sum())},
        **metrics,
    }


def chapter5_folds(test_start: datetime) -> dict[str, list[Fold]]:
    """Chapter 5's validation and test folds for a first test week starting at `test_start`."""
    first = chapter3_train_start(test_start)
    return {
        "validation": [Fold(first - (2 + k) * WEEK_DAYS * DAY) for k in range(FOLDS)],
        "test": [Fold(first + (FOLDS - 1 - k) * WEEK_DAYS * DAY) for k in range(FOLDS)],
    }


def covered_by(df: pd.DataFrame, folds: Sequence[Fold]) -> bool:
    """True when the data holds every day of every fold's training and test weeks."""
    first = min(f.train_start for f in folds)
    last = max(f.test_start for f in folds) + (WEEK_DAYS - 1) * DAY
    return bool(df["tx_datetime"].min() <= first and df["tx_datetime"].max() >= last)


def fold_figures(df: pd.DataFrame, folds: Sequence[Fold], settings: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation (over folds, numpy's population std as scikit-learn's grid search) of each
    metric of `settings` trained and tested fold by fold."""
    per_fold = []
    for fold in folds:
        train, test = fold.sets(df)
        per_fold.append(assess(test, fit_predict(train, test, settings)))
    return {
        metric: {"mean": float(np.mean([f[metric] for f in per_fold])), "std": float(np.std([f[metric] for f in per_fold]))}
        for metric in METRICS
    }


def chapter5(
    df: pd.DataFrame, test_start: datetime, progress: Callable[[str], None] = lambda stage: None
) -> dict[str, Any]:
    """Chapter 5's model selection: every grid setting on the validation folds, then per metric the setting
    with the best mean validation figure on the test folds. The test folds never inform a choice."""
    folds = chapter5_folds(test_start)
    validation = []
    for settings in CHAPTER5_GRID:
        validation.append(fold_figures(df, folds["validation"], settings))
        progress(f"validation {len(validation)}/{len(CHAPTER5_GRID)}")
    chosen: dict[str, Any] = {}
    tested: dict[int, dict[str, dict[str, float]]] = {}
    for metric in METRICS:
        best = int(np.argmax([v[metric]["mean"] for v in validation]))  # first best, as the Handbook's argmax
        if best not in tested:
            tested[best] = fold_figures(df, folds["test"], CHAPTER5_GRID[best])
            progress(f"test {metric}")
        chosen[metric] = {
            "settings": CHAPTER5_GRID[best],
            "validation": validation[best][metric],
            "test": tested[best][metric],
        }
    return {
        "validation_folds": [f.describe() for f in folds["validation"]],
        "test_folds": [f.describe() for f in folds["test"]],
        "chosen": chosen,
        **{metric: chosen[metric]["test"]["mean"] for metric in METRICS},
    }
