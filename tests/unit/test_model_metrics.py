"""Metrics: threshold choice, threshold metrics, and the Handbook's card precision@k."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import polars as pl
from fraudkit.model.metrics import at_threshold, card_precision_at_k, f1_optimal_threshold, ranking_metrics


def test_f1_threshold_separates_perfectly_separable_scores() -> None:
    labels = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    threshold = f1_optimal_threshold(labels, scores)
    assert 0.3 < threshold <= 0.8
    assert at_threshold(labels, scores, threshold).f1 == 1.0


def test_threshold_metrics_count_the_confusion_matrix() -> None:
    labels = np.array([0, 0, 1, 1, 1, 0])
    scores = np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3])
    m = at_threshold(labels, scores, 0.5)
    assert (m.tn, m.fp, m.fn, m.tp) == (2, 1, 1, 2)
    assert math.isclose(m.precision, 2 / 3) and math.isclose(m.recall, 2 / 3) and math.isclose(m.f1, 2 / 3)


def test_ranking_metrics_of_one_class_are_nan() -> None:
    result = ranking_metrics(np.zeros(4), np.array([0.1, 0.2, 0.3, 0.4]))
    assert math.isnan(result["average_precision"]) and math.isnan(result["roc_auc"])


def test_card_precision_uses_max_per_card_fixed_k_and_drops_found_cards() -> None:
    day1, day2 = datetime(2018, 8, 1, 10), datetime(2018, 8, 2, 10)
    rows = [
        # day 1: card a (fraud) scored highest through its max, card b legit, card c fraud but ranked 3rd
        (day1, "a", 0.2, 1), (day1, "a", 0.95, 0), (day1, "b", 0.9, 0), (day1, "c", 0.1, 1),
        # day 2: card a again (already found: ignored), card d fraud
        (day2, "a", 0.99, 1), (day2, "d", 0.5, 1), (day2, "b", 0.4, 0),
    ]
    scored = pl.DataFrame(rows, schema=["t", "card", "score", "label"], orient="row")
    # k=2: day 1 top = a (compromised), b -> 1/2; day 2 without a: d, b -> 1/2
    assert card_precision_at_k(scored, time_column="t", entity_column="card", label_column="label", k=2) == 0.5
    # the denominator stays k even when fewer cards are left
    assert card_precision_at_k(scored, time_column="t", entity_column="card", label_column="label", k=4) == (
        (2 / 4 + 1 / 4) / 2
    )


def test_card_precision_is_one_for_a_perfect_ranking() -> None:
    start = datetime(2018, 8, 1)
    rows = [(start + timedelta(hours=i), f"c{i}", float(i % 2), i % 2) for i in range(20)]
    scored = pl.DataFrame(rows, schema=["t", "card", "score", "label"], orient="row")
    assert card_precision_at_k(scored, time_column="t", entity_column="card", label_column="label", k=10) == 1.0
