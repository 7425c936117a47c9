"""The emulated built-in XGBoost container: artifact format, request decoding, response encoding."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xgboost as xgb
from fraudkit.emulator.endpoints.container import (
    ContainerError,
    booster_from_tarball,
    decode_rows,
    encode_scores,
    invoke,
    media_type,
)
from fraudkit.model.artifact import tarball_bytes


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)
    return xgb.train({"objective": "binary:logistic", "max_depth": 3, "seed": 0}, xgb.DMatrix(x, label=y), 10)


def test_tarball_round_trip_predicts_the_same(booster: xgb.Booster) -> None:
    rows = np.array([[0.1, -1.0, 2.0], [1.5, 0.3, -0.2]], dtype=np.float32)
    loaded = booster_from_tarball(tarball_bytes(booster))
    np.testing.assert_allclose(loaded.inplace_predict(rows), booster.inplace_predict(rows), rtol=1e-6)
    assert tarball_bytes(booster) == tarball_bytes(booster)  # reproducible artifact bytes


def test_artifact_states_the_base_score_as_one_number_for_the_1_7_container(booster: xgb.Booster) -> None:
    # XGBoost 1.7 reads a vector base score ("[1.4E-1]", as 3.x writes it) as its default 0.5
    import io
    import json
    import tarfile

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


def test_tarball_without_model_file_is_rejected() -> None:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("other-file")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ValueError, match="xgboost-model"):
        booster_from_tarball(buffer.getvalue())


def test_csv_rows_without_header_and_missing_values() -> None:
    rows = decode_rows(b"1,2,3\n4,,6\n\n", "text/csv", 3)
    assert rows.shape == (2, 3)
    assert rows[0].tolist() == [1, 2, 3]
    assert np.isnan(rows[1, 1]) and rows[1, 2] == 6


@pytest.mark.parametrize("body", [b"1,2", b"1,2,3\n1,2,3,4"])
def test_csv_wrong_feature_count_is_a_client_error(body: bytes) -> None:
    with pytest.raises(ContainerError, match="not consistent with feature size of trained model 3") as caught:
        decode_rows(body, "text/csv", 3)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [{"features": [1, 2, 3]}, {"features": [4, 5, 6]}]}',
        b'{"instances": [[1, 2, 3], [4, 5, 6]]}',
        b"[[1, 2, 3], [4, 5, 6]]",
    ],
)
def test_json_request_shapes(body: bytes) -> None:
    assert decode_rows(body, "application/json", 3).tolist() == [[1, 2, 3], [4, 5, 6]]


def test_json_errors_name_the_expected_shape() -> None:
    with pytest.raises(ContainerError, match="instances"):
        decode_rows(b'{"rows": 1}', "application/json", 3)
    with pytest.raises(ContainerError, match="Feature size of json inference data 2"):
        decode_rows(b"[[1, 2]]", "application/json", 3)


def test_unsupported_types() -> None:
    with pytest.raises(ContainerError) as caught:
        decode_rows(b"1,2,3", "image/png", 3)
    assert caught.value.status == 415
    with pytest.raises(ContainerError) as caught:
        encode_scores(np.array([0.5]), "text/html")
    assert caught.value.status == 406


def test_media_type_strips_parameters_and_defaults_to_csv() -> None:
    assert media_type("text/csv; charset=utf-8") == "text/csv"
    assert media_type(None) == "text/csv"


def test_invoke_csv_gives_newline_separated_scores(booster: xgb.Booster) -> None:
    rows = np.array([[0.1, -1.0, 2.0], [1.5, 0.3, -0.2], [0, 0, 0]], dtype=np.float32)
    body = b"\n".join(b",".join(str(v).encode() for v in row) for row in rows.tolist())
    out, content_type = invoke(booster, body, "text/csv", None)
    assert content_type == "text/csv"
    scores = np.array(out.split(b"\n"), dtype=np.float64)
    np.testing.assert_allclose(scores, booster.inplace_predict(rows), rtol=1e-6)


def test_invoke_json_answer(booster: xgb.Booster) -> None:
    out, content_type = invoke(booster, b"[[0.1, -1.0, 2.0]]", "application/json", "application/json")
    assert content_type == "application/json"
    (prediction,) = json.loads(out)["predictions"]
    assert 0.0 <= prediction["score"] <= 1.0
