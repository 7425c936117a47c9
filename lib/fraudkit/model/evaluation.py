"""Train ours and the reference configuration on the same time split and report test metrics.

The test period is never seen by training, early stopping or the choice of threshold. For the
handbook data the Handbook's protocol also applies: test transactions of customers already known to be
compromised (fraud labels available before that test day, given the delay) are left out, and the report
holds the Handbook's own baseline reproduced on the same rows (model.handbook_comparison). The data is the
generated data set, or transactions a user brings (model.inputs), whose own dates decide the split.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from data_gen import ensure_dataset
from fraudkit.config import Settings
from fraudkit.model.artifact import model_path, save_model
from fraudkit.model.datasets import features_of, load_features
from fraudkit.model.inputs import load_transactions
from fraudkit.model.live_demo import run_live_demo
from fraudkit.model.metrics import evaluation_metrics
from fraudkit.model.specs import DATASETS, HANDBOOK_PUBLISHED_BASELINE, OURS_CONFIG, DataKind, DatasetSpec
from fraudkit.model.splits import TimeSplit, split_for, split_parts
from fraudkit.model.training import TrainedModel, train_model

REPORT_KEYS = ("average_precision", "roc_auc", "f1", "precision", "recall", "threshold", "card_precision_at_100")


@dataclass
class PreparedData:
    """One data set cut by its time split."""

    spec: DatasetSpec
    split: TimeSplit
    frame: pl.DataFrame
    parts: dict[str, pl.DataFrame]

    def sizes(self) -> dict[str, dict[str, int]]:
        label = self.spec.label_column
        return {
            name: {"rows": len(part), "frauds": int(part[label].sum())} for name, part in self.parts.items()
        }


def drop_known_compromised(df: pl.DataFrame, split: TimeSplit, spec: DatasetSpec, days: int) -> pl.DataFrame:
    """Test rows whose entity had no fraud label known on that test day.

    Known: a fraud in the `days` before the gap, or in the gap up to the test day minus the delay (the
    labels of a day arrive one gap later).
    """
    time, entity, label = spec.time_column, spec.entity_column, spec.label_column
    since = split.gap_start - timedelta(days=days)
    kept = []
    day = split.test_start
    while day < split.test_end:
        known_until = split.gap_start + (day - split.test_start)
        known = df.filter(
            (pl.col(time) >= since) & (pl.col(time) < known_until) & (pl.col(label) == 1)
        )[entity].unique()
        test_day = df.filter((pl.col(time) >= day) & (pl.col(time) < day + timedelta(days=1)))
        kept.append(test_day.filter(~pl.col(entity).is_in(known.implode())))
        day += timedelta(days=1)
    return pl.concat(kept)


def prepare_frame(spec: DatasetSpec, df: pl.DataFrame, test_end: datetime | None = None) -> PreparedData:
    """Cut a features frame into train, valid and test parts by the split its own dates give (`test_end`
    moves the handbook's test week)."""
    times = df[spec.time_column]
    split = split_for(spec.kind, times.min(), times.max(), test_end)  # type: ignore[arg-type]
    parts = split_parts(df, split, spec.time_column)
    if spec.known_compromised_days is not None:
        parts["test"] = drop_known_compromised(df, split, spec, spec.known_compromised_days)
    return PreparedData(spec, split, df, parts)


def prepare(kind: DataKind, settings: Settings) -> PreparedData:
    """Load the `kind` features (generated data) and cut them into train, valid and test parts."""
    return prepare_frame(DATASETS[kind], load_features(kind, settings))


# XGBoost threads per model: both cores of the kit's 2-core machine; 1 is faster when other jobs keep it busy
DEFAULT_THREADS = 2


def train_ours(prepared: PreparedData, seed: int, threads: int = DEFAULT_THREADS) -> TrainedModel:
    spec = prepared.spec
    return train_model(
        OURS_CONFIG, prepared.parts["train"], prepared.parts["valid"],
        features=spec.features, label=spec.label_column, seed=seed, nthread=threads,
    )


def train_reference(prepared: PreparedData, seed: int, threads: int = DEFAULT_THREADS) -> TrainedModel:
    spec, split = prepared.spec, prepared.split
    train = prepared.parts["train"]
    if spec.reference_train_days is not None:
        start = split.gap_start - timedelta(days=spec.reference_train_days)
        time = pl.col(spec.time_column)
        train = prepared.frame.filter((time >= start) & (time < split.gap_start))
    return train_model(
        spec.reference_config, train, prepared.parts["valid"],
        features=spec.reference_features, label=spec.label_column, seed=seed, nthread=threads,
    )


def train_and_save(kind: DataKind, settings: Settings) -> Path:
    """Train our model on `kind` and write its artifact and model card under `settings.model_dir`."""
    prepared = prepare(kind, settings)
    model = train_ours(prepared, settings.seed)
    facts = {"data": kind, "seed": settings.seed, "scale": settings.scale, "split": prepared.split.describe()}
    return save_model(model, model_path(settings, kind), extra=facts)


def score_test_part(prepared: PreparedData, model: TrainedModel) -> tuple[dict[str, Any], np.ndarray]:
    """Every report metric of `model` on the test part, and its scores there."""
    spec, test = prepared.spec, prepared.parts["test"]
    scores = model.predict(test)
    metrics = evaluation_metrics(
        test.with_columns(score=pl.Series(scores)),
        threshold=model.threshold,
        time_column=spec.time_column,
        entity_column=spec.entity_column,
        label_column=spec.label_column,
    )
    return metrics, scores


def _plot_paths(out: Path) -> dict[str, Path]:
    return {name: out.with_name(f"{out.stem}-{name}.png") for name in ("pr-curve", "scores", "importance")}


EVALUATION_STAGES = ("features", "ours", "reference", "test", "plots", "baseline")


def _live_demo(settings: Settings, model: TrainedModel) -> dict[str, Any]:
    """The reference design's live demo played after the card history, scored by `model`."""
    history = pl.read_parquet(ensure_dataset("cards", settings) / "transactions.parquet")
    result = run_live_demo(history, model.booster.inplace_predict, model.threshold, settings.seed)
    return {**asdict(result), "passed": result.passed}


def compare_on_test(
    prepared: PreparedData,
    ours: TrainedModel,
    reference: TrainedModel,
    settings: Settings,
    out: Path,
    progress: Callable[[str], None] = lambda stage: None,
) -> dict[str, Any]:
    """Score ours and the reference on the test period and draw the plots next to `out` (a report's
    path); the report fields every evaluation path shares (ours at the top level, the reference nested).

    `progress` is called with "test" once scored and "plots" once drawn.
    """
    our_metrics, our_scores = score_test_part(prepared, ours)
    reference_metrics, reference_scores = score_test_part(prepared, reference)
    labels = prepared.parts["test"][prepared.spec.label_column].to_numpy()
    progress("test")

    from fraudkit.model import plots  # matplotlib only here: scoring code imports this package too

    out.parent.mkdir(parents=True, exist_ok=True)
    paths = _plot_paths(out)
    plots.pr_curves(labels, {"ours": our_scores, reference.config.name: reference_scores}, paths["pr-curve"])
    plots.score_distributions(labels, our_scores, ours.threshold, paths["scores"])
    plots.feature_importance(ours.importance(), paths["importance"])
    progress("plots")
    return {
        "scale": settings.scale,
        "seed": settings.seed,
        **our_metrics,
        "reference": {"config": reference.config.name, "num_rounds": reference.num_rounds, **reference_metrics},
        "beats_reference": our_metrics["average_precision"] > reference_metrics["average_precision"],
        "split": prepared.split.describe(),
        "sizes": prepared.sizes(),
        "model": {
            "features": ours.features,
            "num_rounds": ours.num_rounds,
            "positive_weight_power": ours.positive_weight_power,
            "validation": ours.validation,
        },
        "plots": {name: path.name for name, path in paths.items()},
    }


def _ours_on_week(
    prepared: PreparedData, ours: TrainedModel, seed: int, threads: int
) -> Callable[[datetime], dict[str, Any]]:
    """Ours for the test week ending at a given time, trained on that week's own split (`ours` when it is the
    week `prepared` was cut for), scored there."""

    def on_week(test_end: datetime) -> dict[str, Any]:
        same = test_end == prepared.split.test_end
        week = prepared if same else prepare_frame(prepared.spec, prepared.frame, test_end)
        metrics, _ = score_test_part(week, ours if same else train_ours(week, seed, threads))
        headline = {key: metrics[key] for key in ("roc_auc", "average_precision", "card_precision_at_100")}
        return {**headline, "test_rows": len(week.parts["test"]), "split": week.split.describe()}

    return on_week


def _handbook_section(
    report: dict[str, Any],
    prepared: PreparedData,
    ours: TrainedModel,
    transactions: pl.DataFrame,
    seed: int,
    threads: int,
    prequential: bool,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    from fraudkit.model.handbook_comparison import handbook_comparison  # pandas and scikit-learn's scaler

    ours_test = {**report, "test_rows": len(prepared.parts["test"])}
    return handbook_comparison(
        transactions, prepared.split.test_start, _ours_on_week(prepared, ours, seed, threads), ours_test,
        prequential=prequential, progress=progress,
    )


def evaluate(
    kind: DataKind,
    settings: Settings,
    out: Path,
    progress: Callable[[str], None] = lambda stage: None,
    *,
    input_path: Path | None = None,
    prequential: bool = False,
    threads: int = DEFAULT_THREADS,
) -> dict[str, Any]:
    """Train both configurations, score the test period, write `out` (JSON) and the plots next to it.

    The data is the generated data set of `settings`, or the transactions at `input_path` (a user's file or
    directory, checked first: InputDataError before anything is written). For the handbook data the report
    also holds the Handbook's baseline reproduced on the same weeks (`prequential`: its Chapter 5 protocol
    too, see model.handbook_comparison). `progress` is called with each name of EVALUATION_STAGES as it
    finishes (and with the baseline's own steps).
    """
    source = load_transactions(kind, input_path) if input_path is not None else None
    if source is None:
        prepared = prepare(kind, settings)
    else:
        prepared = prepare_frame(DATASETS[kind], features_of(kind, source.frame))
    progress("features")
    ours = train_ours(prepared, settings.seed, threads)
    progress("ours")
    reference = train_reference(prepared, settings.seed, threads)
    progress("reference")
    report: dict[str, Any] = {"data": kind, **compare_on_test(prepared, ours, reference, settings, out, progress)}
    if source is not None:  # the data is the user's, not a generated scale
        report.update(input=source.description, scale=None)
    if kind == "cards" and source is None:  # the demo replays the generated cards' history
        report["live_demo"] = _live_demo(settings, ours)
    if kind == "handbook":
        report["published_baseline"] = HANDBOOK_PUBLISHED_BASELINE
        report["beats_published_baseline"] = all(
            report[key] > value for key, value in HANDBOOK_PUBLISHED_BASELINE.items()
        )
        transactions = source.frame if source else pl.read_parquet(ensure_dataset(kind, settings) / "transactions.parquet")
        report["handbook_baseline"] = _handbook_section(
            report, prepared, ours, transactions, settings.seed, threads, prequential, progress
        )
    progress("baseline")
    partial = out.with_name(out.name + ".partial")
    partial.write_text(json.dumps(report, indent=2, sort_keys=True))
    partial.replace(out)
    return report


def report_table(report: dict[str, Any]) -> pl.DataFrame:
    """The headline metrics of a report side by side: ours, the reference, the Handbook's baseline reproduced
    on the same week (handbook data) and the published baseline."""
    published = report.get("published_baseline", {})
    reproduced = report.get("handbook_baseline", {}).get("chapter3", {}).get("reproduced")
    columns: dict[str, list[Any]] = {
        "metric": list(REPORT_KEYS),
        "ours": [round(float(report[key]), 3) for key in REPORT_KEYS],
        report["reference"]["config"]: [round(float(report["reference"][key]), 3) for key in REPORT_KEYS],
    }
    if reproduced is not None:
        columns["handbook (reproduced)"] = [
            round(float(reproduced[key]), 3) if key in reproduced else None for key in REPORT_KEYS
        ]
    columns["published"] = [published.get(key) for key in REPORT_KEYS]
    return pl.DataFrame(
        columns, schema_overrides={"published": pl.Float64, "handbook (reproduced)": pl.Float64}
    )
