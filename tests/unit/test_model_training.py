"""Training: early stopping, imbalance handling, thresholds, and the saved artifact."""

from __future__ import annotations

import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from fraudkit.model.artifact import load_booster, load_model_card, save_model
from fraudkit.model.metrics import ranking_metrics
from fraudkit.model.specs import OURS_CONFIG, REFERENCE_CONFIG
from fraudkit.model.training import train_model

FEATURES = ["signal", "noise"]


def frame(rows: int, seed: int) -> pl.DataFrame:
    """Rare positives whose `signal` is shifted: learnable, but not perfectly."""
    rng = np.random.default_rng(seed)
    label = (rng.random(rows) < 0.02).astype(np.int8)
    signal = rng.normal(size=rows) + 2.5 * label
    return pl.DataFrame({"signal": signal, "noise": rng.normal(size=rows), "label": label})


@pytest.fixture(scope="module")
def parts() -> dict[str, pl.DataFrame]:
    return {"train": frame(6000, 1), "valid": frame(3000, 2), "test": frame(3000, 3)}


def test_ours_learns_and_stops_early(parts: dict[str, pl.DataFrame]) -> None:
    model = train_model(OURS_CONFIG, parts["train"], parts["valid"], features=FEATURES, label="label", seed=7)
    assert model.num_rounds < OURS_CONFIG.num_rounds
    assert model.booster.num_boosted_rounds() == model.num_rounds  # cut at the best round
    test_metrics = ranking_metrics(parts["test"]["label"].to_numpy(), model.predict(parts["test"]))
    assert test_metrics["roc_auc"] > 0.85
    assert 0.0 < model.threshold < 1.0
    importance = model.importance()
    assert importance["signal"] > importance["noise"]


def test_reference_trains_exactly_its_rounds(parts: dict[str, pl.DataFrame]) -> None:
    model = train_model(REFERENCE_CONFIG, parts["train"], parts["valid"], features=FEATURES, label="label", seed=7)
    assert model.num_rounds == model.booster.num_boosted_rounds() == 100


def test_training_is_seeded(parts: dict[str, pl.DataFrame]) -> None:
    first, second = (
        train_model(OURS_CONFIG, parts["train"], parts["valid"], features=FEATURES, label="label", seed=3)
        for _ in range(2)
    )
    np.testing.assert_array_equal(first.predict(parts["test"]), second.predict(parts["test"]))


def test_a_period_without_fraud_is_refused(parts: dict[str, pl.DataFrame]) -> None:
    no_fraud = parts["valid"].with_columns(pl.lit(0, dtype=pl.Int8).alias("label"))
    with pytest.raises(ValueError, match="validation period holds no fraud"):
        train_model(OURS_CONFIG, parts["train"], no_fraud, features=FEATURES, label="label", seed=1)


def test_artifact_is_the_built_in_container_layout(parts: dict[str, pl.DataFrame], tmp_path: Path) -> None:
    model = train_model(OURS_CONFIG, parts["train"], parts["valid"], features=FEATURES, label="label", seed=7)
    path = save_model(model, tmp_path / "cards" / "model.tar.gz", extra={"data": "synthetic"})
    with tarfile.open(path) as archive:
        assert archive.getnames() == ["xgboost-model"]
    np.testing.assert_allclose(
        load_booster(path).inplace_predict(parts["test"].select(FEATURES).to_numpy().astype(np.float32)),
        model.predict(parts["test"]),
        rtol=1e-6,
    )
    card = load_model_card(path)
    assert card["features"] == FEATURES and card["threshold"] == model.threshold and card["data"] == "synthetic"
    assert not list(path.parent.glob("*.partial"))


def test_the_chosen_power_sets_scale_pos_weight(parts: dict[str, pl.DataFrame]) -> None:
    import json

    model = train_model(OURS_CONFIG, parts["train"], parts["valid"], features=FEATURES, label="label", seed=7)
    positives = float(parts["train"]["label"].sum())
    expected = ((len(parts["train"]) - positives) / positives) ** model.positive_weight_power
    config = json.loads(model.booster.save_config())
    assert float(config["learner"]["objective"]["reg_loss_param"]["scale_pos_weight"]) == pytest.approx(expected, rel=1e-5)
    reference = train_model(REFERENCE_CONFIG, parts["train"], parts["valid"], features=FEATURES, label="label", seed=7)
    assert float(json.loads(reference.booster.save_config())["learner"]["objective"]["reg_loss_param"]["scale_pos_weight"]) == 1.0


def test_class_weight_is_chosen_on_validation_only(parts: dict[str, pl.DataFrame]) -> None:
    chosen = train_model(OURS_CONFIG, parts["train"], parts["valid"], features=FEATURES, label="label", seed=7)
    assert chosen.positive_weight_power in OURS_CONFIG.positive_weight_powers
    for power in OURS_CONFIG.positive_weight_powers:
        single = replace(OURS_CONFIG, positive_weight_powers=(power,))
        other = train_model(single, parts["train"], parts["valid"], features=FEATURES, label="label", seed=7)
        assert other.validation["average_precision"] <= chosen.validation["average_precision"]
