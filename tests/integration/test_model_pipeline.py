"""The card model end to end at tiny scale: train, deploy to the emulator, score through the endpoint."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from fraudkit.config import Settings
from fraudkit.model import (
    CARD_MODEL_FEATURES,
    REPORT_KEYS,
    describe_endpoint,
    endpoint_live_demo,
    ensure_card_endpoint,
    invoke_rows,
    load_booster,
    model_path,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tiny(emulator: Settings) -> Settings:
    return emulator.replace(scale="tiny")


def test_ensure_card_endpoint_trains_deploys_and_is_idempotent(tiny: Settings) -> None:
    name = ensure_card_endpoint(tiny)
    assert model_path(tiny, "cards").is_file()
    first = describe_endpoint(tiny, name)
    assert first is not None and first["EndpointStatus"] == "InService"
    assert ensure_card_endpoint(tiny) == name
    assert describe_endpoint(tiny, name)["LastModifiedTime"] == first["LastModifiedTime"]  # type: ignore[index]


def test_endpoint_scores_equal_the_local_booster(tiny: Settings) -> None:
    name = ensure_card_endpoint(tiny)
    rng = np.random.default_rng(0)
    rows = np.abs(rng.normal(size=(50, len(CARD_MODEL_FEATURES)))) * [100, 3, 100, 20, 100, 1, 1, 0.2]
    local = load_booster(model_path(tiny, "cards")).inplace_predict(rows.astype(np.float32))
    np.testing.assert_allclose(invoke_rows(tiny, rows, name), local, rtol=1e-5)


def test_live_demo_through_the_endpoint_is_sane(tiny: Settings) -> None:
    result = endpoint_live_demo(tiny)
    # a sanity bound at tiny scale (the targets are reported by the evaluation at larger scales)
    assert result.singles_flagged <= 1
    assert result.burst_flagged_after_first >= 6


def test_evaluate_cli_writes_report_and_plots(tiny: Settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    out = tmp_path_factory.mktemp("report") / "cards.json"
    done = subprocess.run(
        [sys.executable, "-m", "fraudkit.model", "evaluate", "--data", "cards", "--out", str(out),
         "--scale", "tiny", "--state-dir", str(tiny.state_dir), "--quiet"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert set(REPORT_KEYS) <= set(report) and json.loads(done.stdout).keys() == set(REPORT_KEYS)
    for key in ("average_precision", "roc_auc", "precision", "recall", "f1", "card_precision_at_100"):
        assert 0.0 <= report[key] <= 1.0
    assert report["roc_auc"] > 0.6  # far above chance even at tiny scale
    assert sum(report["confusion_matrix"].values()) == report["sizes"]["test"]["rows"]
    for name in report["plots"].values():
        assert (out.parent / name).stat().st_size > 1000
