"""Training, packaging, deployment and evaluation of the fraud models.

The card model scores rows of `CARD_MODEL_FEATURES` (CSV column order for InvokeEndpoint); its artifact
is `settings.model_dir / "cards" / "model.tar.gz"` in the built-in XGBoost container's format, with the
decision threshold (chosen on validation data) in `model.json` next to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fraudkit.lazy import submodule_attributes
from fraudkit.model.deploy import (
    DeploymentError,
    deploy,
    describe_endpoint,
    invoke_rows,
    rows_to_csv,
    undeploy,
    wait_for_endpoint,
)
from fraudkit.model.specs import CARD_MODEL_FEATURES, HANDBOOK_MODEL_FEATURES, REFERENCE_CARD_FEATURES

if TYPE_CHECKING:
    from fraudkit.model.artifact import load_booster, load_model_card, model_path, save_model
    from fraudkit.model.evaluation import REPORT_KEYS, evaluate, report_table, train_and_save
    from fraudkit.model.live_demo import (
        LiveDemoResult,
        live_demo_transactions,
        live_demo_verdict,
        run_live_demo,
    )
    from fraudkit.model.serving import (
        card_threshold,
        endpoint_live_demo,
        ensure_card_endpoint,
        ensure_card_model,
    )

# training, artifacts, evaluation and plots (XGBoost, scikit-learn, matplotlib) load when first asked for
__getattr__ = submodule_attributes(
    __name__,
    __path__,
    {
        "artifact": ("load_booster", "load_model_card", "model_path", "save_model"),
        "evaluation": ("REPORT_KEYS", "evaluate", "report_table", "train_and_save"),
        "live_demo": ("LiveDemoResult", "live_demo_transactions", "live_demo_verdict", "run_live_demo"),
        "serving": ("card_threshold", "endpoint_live_demo", "ensure_card_endpoint", "ensure_card_model"),
    },
)

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
    "endpoint_live_demo",
    "ensure_card_endpoint",
    "ensure_card_model",
    "evaluate",
    "invoke_rows",
    "live_demo_transactions",
    "live_demo_verdict",
    "load_booster",
    "load_model_card",
    "model_path",
    "report_table",
    "rows_to_csv",
    "run_live_demo",
    "save_model",
    "train_and_save",
    "undeploy",
    "wait_for_endpoint",
]
