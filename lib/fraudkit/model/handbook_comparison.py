"""The Handbook's baseline, reproduced (model.handbook_baseline), beside the kit's model on the same weeks.

Two sections, one per set of figures the Handbook publishes: Chapter 3's single test week (always; anchored at
the kit's test week, the Handbook's 2018-08-08..14 on its data) and Chapter 5's four prequential test weeks
(on request: 18 settings x 4 validation weeks are trained, minutes on the published data), whose mean test
figures are the 0.869 / 0.687 / 0.303 the kit quotes. The kit's model is trained once per test week with its
own split (every choice on the validation weeks before that week's delay) and scored on the Handbook's test
set of that week (the same rows: known compromised customers left out the same way).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from fraudkit.model import handbook_baseline as hb

TOLERANCE = 0.01  # how close the reproduced figures must come to the published ones
# the kit's model trained with test weeks ending at the given time; its test rows and metrics there
OursOnWeek = Callable[[datetime], dict[str, Any]]


def _headline(figures: dict[str, Any]) -> dict[str, float]:
    return {metric: float(figures[metric]) for metric in hb.METRICS}


def _versus(ours: dict[str, float], other: dict[str, float]) -> dict[str, bool]:
    return {metric: ours[metric] > other[metric] for metric in hb.METRICS}


def _within(reproduced: dict[str, float], published: dict[str, float]) -> dict[str, bool]:
    return {metric: abs(reproduced[metric] - published[metric]) <= TOLERANCE for metric in hb.METRICS}


def _trainable(df: pd.DataFrame, fold: hb.Fold) -> str | None:
    """Why the Handbook's protocol cannot run on `fold` of this data (no fraud to learn or to find), or None."""
    train, test = fold.sets(df)
    for name, part in (("training", train), ("test", test)):
        if part["tx_fraud"].nunique() < 2:
            return f"the Handbook's {name} week {fold.describe()['train' if name == 'training' else 'test']} lacks fraud or legitimate transactions"
    return None


def chapter3_section(df: pd.DataFrame, test_start: datetime, ours: dict[str, Any]) -> dict[str, Any]:
    """Chapter 3's baseline reproduced on the week at `test_start`, against the published figures (meaningful
    on the Handbook's own data and week) and against ours on the same rows."""
    reason = _trainable(df, hb.Fold(hb.chapter3_train_start(test_start)))
    if reason:
        return {"skipped": reason}
    reproduced = hb.chapter3(df, test_start)
    published = hb.PUBLISHED["chapter3"]
    return {
        "reproduced": reproduced,
        "published": published,
        "within_tolerance_of_published": _within(_headline(reproduced), published),
        "ours": {**_headline(ours), "test_rows": ours["test_rows"]},
        "ours_beats_reproduced": _versus(_headline(ours), _headline(reproduced)),
    }


def _ours_on_folds(folds: list[hb.Fold], ours_on_week: OursOnWeek) -> dict[str, Any]:
    per_fold = [ours_on_week(fold.test_start + hb.WEEK_DAYS * hb.DAY) for fold in folds]
    return {
        "folds": per_fold,
        **{
            metric: {"mean": float(np.mean([f[metric] for f in per_fold])), "std": float(np.std([f[metric] for f in per_fold]))}
            for metric in hb.METRICS
        },
    }


def chapter5_section(
    df: pd.DataFrame, test_start: datetime, ours_on_week: OursOnWeek, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Chapter 5's model selection reproduced, and ours on its four test weeks (means over the weeks)."""
    folds = hb.chapter5_folds(test_start)
    every_fold = folds["validation"] + folds["test"]
    if not hb.covered_by(df, every_fold):
        first = min(f.train_start for f in every_fold).date()
        last = (max(f.test_start for f in every_fold) + timedelta(days=hb.WEEK_DAYS - 1)).date()
        return {"skipped": f"the data does not cover the Handbook's Chapter 5 weeks {first}..{last}"}
    reproduced = hb.chapter5(df, test_start, progress)
    ours = _ours_on_folds(folds["test"], ours_on_week)
    progress("ours on the Chapter 5 test weeks")
    published = hb.PUBLISHED["chapter5"]
    our_means = {metric: ours[metric]["mean"] for metric in hb.METRICS}
    return {
        "reproduced": reproduced,
        "published": published,
        "within_tolerance_of_published": _within(_headline(reproduced), published),
        "ours": ours,
        "ours_beats_published": _versus(our_means, published),
        "ours_beats_reproduced": _versus(our_means, _headline(reproduced)),
    }


def handbook_comparison(
    transactions: pl.DataFrame,
    test_start: datetime,
    ours_on_week: OursOnWeek,
    ours_test: dict[str, Any],
    *,
    prequential: bool,
    progress: Callable[[str], None] = lambda stage: None,
) -> dict[str, Any]:
    """The report's `handbook_baseline` section for Handbook-schema `transactions` whose kit test week starts at
    `test_start` (`ours_test`: the kit model's metrics and test rows there)."""
    df = hb.handbook_features(transactions)
    section: dict[str, Any] = {"tolerance": TOLERANCE, "chapter3": chapter3_section(df, test_start, ours_test)}
    progress("Chapter 3 baseline")
    if prequential:
        section["chapter5"] = chapter5_section(df, test_start, ours_on_week, progress)
    return section
