"""The model artifact: the built-in container's layout, the 1.7-readable JSON, byte-reproducible packing."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time

import numpy as np
import pytest
import xgboost as xgb
from fraudkit.emulator.endpoints.container import booster_from_tarball
from fraudkit.model.artifact import tarball_bytes


def train(rounds: int) -> xgb.Booster:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)
    return xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "seed": 0}, xgb.DMatrix(x, label=y), rounds
    )


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    return train(10)


def test_tarball_round_trip_predicts_the_same(booster: xgb.Booster) -> None:
    rows = np.array([[0.1, -1.0, 2.0], [1.5, 0.3, -0.2]], dtype=np.float32)
    loaded = booster_from_tarball(tarball_bytes(booster))
    np.testing.assert_allclose(loaded.inplace_predict(rows), booster.inplace_predict(rows), rtol=1e-6)


def test_same_model_packed_at_different_times_gives_identical_bytes(
    booster: xgb.Booster, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tarball_bytes(booster)
    later = time.time() + 3 * 86400  # gzip would stamp this into its header
    monkeypatch.setattr(time, "time", lambda: later)
    assert tarball_bytes(booster) == first
    assert tarball_bytes(train(11)) != first  # a different model is a different artifact


def test_archive_headers_hold_no_time_name_or_owner(booster: xgb.Booster) -> None:
    data = tarball_bytes(booster)
    flags, mtime = data[3], int.from_bytes(data[4:8], "little")
    assert flags & 0x08 == 0  # FNAME: no file name stored
    assert mtime == 0
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r:") as archive:
        (member,) = archive.getmembers()
    assert (member.name, member.mtime, member.mode, member.uid, member.gid) == (
        "xgboost-model",
        0,
        0o644,
        0,
        0,
    )
    assert (member.uname, member.gname) == ("", "")


def test_artifact_states_the_base_score_as_one_number_for_the_1_7_container(booster: xgb.Booster) -> None:
    # XGBoost 1.7 reads a vector base score ("[1.4E-1]", as 3.x writes it) as its default 0.5
    with tarfile.open(fileobj=io.BytesIO(tarball_bytes(booster)), mode="r:gz") as archive:
        extracted = archive.extractfile("xgboost-model")
        assert extracted is not None
        model = json.loads(extracted.read())
    written = model["learner"]["learner_model_param"]["base_score"]
    own = json.loads(booster.save_config())["learner"]["learner_model_param"]["base_score"]
    assert float(written) == pytest.approx(float(own.strip("[]")))
    assert float(written) != pytest.approx(0.5)  # the trained base score, not the default


def test_multi_target_models_are_refused_for_the_container() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    y = np.stack([x[:, 0], x[:, 1] * 2], axis=1)
    two_targets = xgb.train({"tree_method": "hist", "seed": 0}, xgb.DMatrix(x, label=y), 2)
    with pytest.raises(ValueError, match="2 base scores"):
        tarball_bytes(two_targets)
