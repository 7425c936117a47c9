"""The card model as the streaming stage and the notebooks use it: on disk, deployed, and judged live."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from data_gen import ensure_dataset
from fraudkit.config import Settings
from fraudkit.model.artifact import load_model_card, model_path
from fraudkit.model.deploy import artifact_digest, deploy, describe_endpoint, invoke_rows

if TYPE_CHECKING:
    from fraudkit.model.live_demo import LiveDemoResult

# Training and the live demo (XGBoost, scikit-learn) are imported where they are used: a stream stage that
# finds its model on disk and its endpoint in service starts without them, about 1.5 s sooner.


def ensure_card_model(settings: Settings) -> Path:
    """The card model's artifact, trained first when none is on disk."""
    path = model_path(settings, "cards")
    if path.exists():
        return path
    from fraudkit.model.evaluation import train_and_save

    return train_and_save("cards", settings)


def card_threshold(settings: Settings) -> float:
    """The decision threshold of the card model (score >= threshold means fraud)."""
    return float(load_model_card(ensure_card_model(settings))["threshold"])


def ensure_card_endpoint(settings: Settings) -> str:
    """The card endpoint's name: trains the model if none is on disk, deploys it unless already serving it."""
    artifact = ensure_card_model(settings)
    current = describe_endpoint(settings)
    if (
        current is not None
        and current["EndpointStatus"] == "InService"
        and current["EndpointConfigName"].endswith(artifact_digest(artifact))
    ):
        return settings.endpoint_name
    return deploy(settings, artifact)


def endpoint_live_demo(settings: Settings) -> LiveDemoResult:
    """The reference design's live demo after the card history, every row scored by the endpoint."""
    from fraudkit.model.live_demo import run_live_demo

    endpoint = ensure_card_endpoint(settings)
    history = pl.read_parquet(ensure_dataset("cards", settings) / "transactions.parquet")
    runtime = settings.client("sagemaker-runtime")
    return run_live_demo(
        history, lambda rows: invoke_rows(settings, rows, endpoint, runtime), card_threshold(settings), settings.seed
    )
