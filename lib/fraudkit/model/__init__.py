"""Training, packaging, deployment and evaluation of the fraud models.

The card model scores rows of `CARD_MODEL_FEATURES` (CSV column order for InvokeEndpoint); its artifact
is `settings.model_dir / "cards" / "model.tar.gz"` in the built-in XGBoost container's format, with the
decision threshold (chosen on validation data) in `model.json` next to it.
"""

from __future__ import annotations

from pathlib import Path

from fraudkit.config import Settings
from fraudkit.model.artifact import load_booster, load_model_card, model_path, save_model
from fraudkit.model.deploy import (
    DeploymentError,
    artifact_digest,
    deploy,
    describe_endpoint,
    invoke_rows,
    rows_to_csv,
    undeploy,
    wait_for_endpoint,
)
from fraudkit.model.evaluation import REPORT_KEYS, evaluate, train_and_save
from fraudkit.model.live_demo import LiveDemoResult, live_demo_transactions, live_demo_verdict, run_live_demo
from fraudkit.model.specs import CARD_MODEL_FEATURES, HANDBOOK_MODEL_FEATURES, REFERENCE_CARD_FEATURES


def ensure_card_model(settings: Settings) -> Path:
    """The card model's artifact, trained first when none is on disk."""
    path = model_path(settings, "cards")
    return path if path.exists() else train_and_save("cards", settings)


def card_threshold(settings: Settings) -> float:
    """The decision threshold of the card model (score >= threshold means fraud)."""
    return float(load_model_card(ensure_card_model(settings))["threshold"])


def ensure_card_endpoint(settings: Settings) -> str:
    """The card endpoint's name: trains the model if none is on disk, deploys it unless already serving it."""
    artifact = ensure_card_model(settings)
    current = describe_endpoint(settings)
    serving = current is not None and current["EndpointStatus"] == "InService"
    if serving and current is not None and current["EndpointConfigName"].endswith(artifact_digest(artifact)):
        return settings.endpoint_name
    return deploy(settings, artifact)


__all__ = [
    "CARD_MODEL_FEATURES",
    "HANDBOOK_MODEL_FEATURES",
    "REFERENCE_CARD_FEATURES",
    "REPORT_KEYS",
    "DeploymentError",
    "LiveDemoResult",
    "card_threshold",
    "deploy",
    "describe_endpoint",
    "ensure_card_endpoint",
    "ensure_card_model",
    "evaluate",
    "invoke_rows",
    "live_demo_transactions",
    "live_demo_verdict",
    "load_booster",
    "load_model_card",
    "model_path",
    "rows_to_csv",
    "run_live_demo",
    "save_model",
    "train_and_save",
    "undeploy",
    "wait_for_endpoint",
]
