"""The emulated built-in XGBoost container: reading the artifact, decoding requests, encoding responses."""

from __future__ import annotations

import io
import json
import tarfile

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


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)
    return xgb.train({"objective": "binary:logistic", "max_depth": 3, "seed": 0}, xgb.DMatrix(x, label=y), 10)


def test_tarball_without_model_file_is_rejected() -> None:
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
