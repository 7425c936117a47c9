"""The evaluation's plots as PNG files: PR curves, score distributions, feature importance."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI machines or in papermill kernels

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_recall_curve


def _save(figure: plt.Figure, path: Path) -> Path:
    figure.tight_layout()
    partial = path.with_name(path.stem + ".partial.png")
    figure.savefig(partial, dpi=110)
    plt.close(figure)
    partial.replace(path)
    return path


def pr_curves(labels: np.ndarray, curves: dict[str, np.ndarray], path: Path) -> Path:
    """Precision-recall curve of each named score array on the same test labels."""
    figure, axes = plt.subplots(figsize=(6, 4.5))
    for name, scores in curves.items():
        precision, recall, _ = precision_recall_curve(labels, scores)
        axes.plot(recall, precision, label=name)
    axes.set(xlabel="recall", ylabel="precision", title="Precision-recall on the test period", ylim=(0, 1.02))
    axes.legend()
    return _save(figure, path)


def score_distributions(labels: np.ndarray, scores: np.ndarray, threshold: float, path: Path) -> Path:
    """Histograms of the scores of legitimate and fraudulent test transactions, with the threshold."""
    figure, axes = plt.subplots(figsize=(6, 4.5))
    bins = np.linspace(0, 1, 51).tolist()
    axes.hist(scores[labels == 0], bins=bins, alpha=0.6, label="legitimate", density=True)
    axes.hist(scores[labels == 1], bins=bins, alpha=0.6, label="fraud", density=True)
    axes.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3f}")
    axes.set(xlabel="score", ylabel="density (log)", yscale="log", title="Score distributions (test)")
    axes.legend()
    return _save(figure, path)


def feature_importance(importance: dict[str, float], path: Path) -> Path:
    """Total gain per feature, largest on top."""
    names = sorted(importance, key=importance.__getitem__)
    figure, axes = plt.subplots(figsize=(6, 0.35 * len(names) + 1.5))
    axes.barh(names, [importance[n] for n in names])
    axes.set(xlabel="total gain", title="Feature importance")
    return _save(figure, path)
