"""Threshold-free and threshold metrics, and the Handbook's card precision@k per day."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, confusion_matrix, precision_recall_curve, roc_auc_score


def f1_optimal_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold that maximises F1 (chosen on validation data, applied to the test)."""
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    if len(thresholds) == 0:
        return 0.5
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[int(np.argmax(f1))])


@dataclass(frozen=True)
class ThresholdMetrics:
    threshold: float
    precision: float
    recall: float
    f1: float
    tn: int
    fp: int
    fn: int
    tp: int

    def confusion_matrix(self) -> dict[str, int]:
        return {"tn": self.tn, "fp": self.fp, "fn": self.fn, "tp": self.tp}


def at_threshold(labels: np.ndarray, scores: np.ndarray, threshold: float) -> ThresholdMetrics:
    """Precision, recall, F1 and the confusion matrix of `score >= threshold`."""
    predicted = (scores >= threshold).astype(np.int8)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(labels, predicted, labels=[0, 1]).ravel())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ThresholdMetrics(threshold, precision, recall, f1, tn, fp, fn, tp)


def ranking_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Average precision (PR-AUC) and ROC-AUC; NaN when the labels hold one class only."""
    if len(np.unique(labels)) < 2:
        return {"average_precision": float("nan"), "roc_auc": float("nan")}
    return {
        "average_precision": float(average_precision_score(labels, scores)),
        "roc_auc": float(roc_auc_score(labels, scores)),
    }


def card_precision_at_k(
    scored: pl.DataFrame, *, time_column: str, entity_column: str, label_column: str, k: int = 100
) -> float:
    """Mean over days of the share of compromised cards among the day's k highest-scored cards.

    The Handbook's definition: a card's daily score is the maximum over its transactions, it counts as
    compromised if any of its transactions that day is fraud, the denominator is always k, and cards
    found compromised on earlier days are left out of later days (they are already blocked).
    `scored` needs a `score` column.
    """
    daily = (
        scored.group_by(pl.col(time_column).dt.date().alias("day"), entity_column)
        .agg(pl.col("score").max(), pl.col(label_column).max().alias("compromised"))
        .sort("day", "score", entity_column, descending=[False, True, False])
    )
    known: set[object] = set()
    precisions = []
    for (_day,), cards in daily.group_by("day", maintain_order=True):
        top = cards.filter(~pl.col(entity_column).is_in(list(known))).head(k)
        hits = top.filter(pl.col("compromised") == 1)[entity_column].to_list()
        precisions.append(len(hits) / k)
        known.update(hits)
    return float(np.mean(precisions)) if precisions else float("nan")


def evaluation_metrics(
    scored: pl.DataFrame, *, threshold: float, time_column: str, entity_column: str, label_column: str
) -> dict[str, object]:
    """Every metric of the report for one scored test set (`score` column)."""
    labels = scored[label_column].to_numpy()
    scores = scored["score"].to_numpy()
    at = at_threshold(labels, scores, threshold)
    cp = card_precision_at_k(scored, time_column=time_column, entity_column=entity_column, label_column=label_column)
    fields = asdict(at)
    return {
        **ranking_metrics(labels, scores),
        **{name: fields[name] for name in ("f1", "precision", "recall", "threshold")},
        "card_precision_at_100": cp,
        "confusion_matrix": at.confusion_matrix(),
    }
