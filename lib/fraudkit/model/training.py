"""Train one XGBoost configuration on the train part, stop early on the validation part, and choose
the decision threshold on validation data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import xgboost as xgb

from fraudkit.model.metrics import f1_optimal_threshold, ranking_metrics
from fraudkit.model.specs import TrainingConfig


@dataclass
class TrainedModel:
    """A booster holding only the trees it serves with, the features it takes, and its threshold."""

    config: TrainingConfig
    booster: xgb.Booster
    features: list[str]
    threshold: float
    num_rounds: int
    validation: dict[str, float]
    positive_weight_power: float = 0.0

    def predict(self, df: pl.DataFrame) -> np.ndarray:
        return np.asarray(self.booster.inplace_predict(feature_matrix(df, self.features)))

    def importance(self) -> dict[str, float]:
        """Total gain per feature (features never split on get 0)."""
        gains = self.booster.get_score(importance_type="total_gain")
        return {name: float(np.sum(gains.get(name, 0.0))) for name in self.features}


def feature_matrix(df: pl.DataFrame, features: list[str]) -> np.ndarray:
    """The features as a float32 matrix in the model's column order (nulls become NaN = missing)."""
    return df.select(pl.col(features).cast(pl.Float32)).to_numpy()


def _dmatrix(df: pl.DataFrame, features: list[str], label: str) -> xgb.DMatrix:
    return xgb.DMatrix(feature_matrix(df, features), label=df[label].to_numpy(), feature_names=features)


def train_model(
    config: TrainingConfig,
    train: pl.DataFrame,
    valid: pl.DataFrame,
    *,
    features: list[str],
    label: str,
    seed: int,
    nthread: int = 2,
) -> TrainedModel:
    """Train `config` once per class-weight power; keep the best by validation average precision.

    With early stopping each booster is cut at its best validation round.
    """
    for part, frame in (("training", train), ("validation", valid)):
        if frame[label].sum() == 0:
            raise ValueError(f"the {part} period holds no fraud: use a larger scale or another seed")
    dtrain = _dmatrix(train, features, label)
    dvalid = _dmatrix(valid, features, label)
    positives = float(train[label].sum())
    candidates = [
        _train_weighted(
            config,
            dtrain,
            dvalid,
            valid,
            power,
            ((len(train) - positives) / positives) ** power,
            features=features,
            label=label,
            seed=seed,
            nthread=nthread,
        )
        for power in config.positive_weight_powers
    ]
    # first best wins ties, so the order of the powers decides between equals
    return max(candidates, key=lambda m: np.nan_to_num(m.validation["average_precision"], nan=-1.0))


def _train_weighted(
    config: TrainingConfig,
    dtrain: xgb.DMatrix,
    dvalid: xgb.DMatrix,
    valid: pl.DataFrame,
    power: float,
    positive_weight: float,
    *,
    features: list[str],
    label: str,
    seed: int,
    nthread: int,
) -> TrainedModel:
    params = {
        **config.params,
        "seed": seed,
        "nthread": nthread,
        "eval_metric": "aucpr",
        "tree_method": "hist",
    }
    if power:
        params["scale_pos_weight"] = positive_weight
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=config.num_rounds,
        evals=[(dvalid, "valid")],
        early_stopping_rounds=config.early_stopping_rounds,
        verbose_eval=False,
    )
    rounds = config.num_rounds
    if config.early_stopping_rounds is not None:
        rounds = booster.best_iteration + 1
        booster = booster[:rounds]
    valid_scores = np.asarray(booster.inplace_predict(feature_matrix(valid, features)))
    valid_labels = valid[label].to_numpy()
    return TrainedModel(
        config=config,
        booster=booster,
        features=features,
        threshold=f1_optimal_threshold(valid_labels, valid_scores),
        num_rounds=rounds,
        validation=ranking_metrics(valid_labels, valid_scores),
        positive_weight_power=power,
    )
