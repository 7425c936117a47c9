"""Deployment helpers that need no server: guards, the CSV the endpoint receives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fraudkit.backends import BackendNotReady
from fraudkit.config import Settings
from fraudkit.emulator.endpoints.container import decode_rows
from fraudkit.model.deploy import deploy, rows_to_csv


def test_local_deploy_without_an_emulator_for_the_state_dir_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FRAUDKIT_EMULATOR_URL", raising=False)
    artifact = tmp_path / "model.tar.gz"
    artifact.write_bytes(b"not used")
    with pytest.raises(BackendNotReady, match="no emulator is serving the state dir"):
        deploy(Settings.load(backend="local", state_dir=tmp_path), artifact)
    assert not (tmp_path / "emulator").exists()  # nothing uploaded


def test_rows_to_csv_round_trips_through_the_container_parser() -> None:
    rows = np.array([[1.5, 0.1, 1e-7, 123456.78], [0.0, -2.25, 3.0, 4.0]])
    assert rows_to_csv(rows).count(b"\n") == 1 and b"," in rows_to_csv(rows)
    np.testing.assert_allclose(decode_rows(rows_to_csv(rows), "text/csv", 4), rows.astype(np.float32))
