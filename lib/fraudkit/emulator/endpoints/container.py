"""What SageMaker's built-in XGBoost container does with a model artifact and a request.

The artifact is `model.tar.gz` holding the booster as `xgboost-model`. Requests are `text/csv` rows
without a header (empty fields are missing values) or `application/json`; responses are
newline-separated scores (`text/csv`) or `{"predictions": [{"score": ...}]}` (`application/json`).
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import numpy as np
import xgboost as xgb

MODEL_FILE = "xgboost-model"
CSV = "text/csv"
JSON = "application/json"


class ContainerError(Exception):
    """A request the container rejects, with the HTTP status the container answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def booster_from_tarball(data: bytes) -> xgb.Booster:
    """Load the booster stored as `xgboost-model` in a gzipped tarball."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = next((m for m in archive.getmembers() if m.name.lstrip("./") == MODEL_FILE), None)
        extracted = archive.extractfile(member) if member is not None and member.isfile() else None
        if extracted is None:
            raise ValueError(f"model.tar.gz has no {MODEL_FILE!r} file")
        raw = extracted.read()
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    booster.set_param({"nthread": 1})  # one row at a time: threads cost more than they give
    return booster


def media_type(header: str | None, default: str = CSV) -> str:
    """`text/csv; charset=utf-8` -> `text/csv`; a missing header means `default`."""
    return (header or default).split(";", 1)[0].strip().lower() or default


def accepted_type(header: str | None) -> str:
    """The response type for an Accept header: the first listed type the container writes (`*/*` is
    CSV), as in `Accept: text/csv, application/json`; 406 when it lists none of them."""
    for item in (header or CSV).split(","):
        wanted = media_type(item, "")
        if wanted in (CSV, JSON):
            return wanted
        if wanted in ("*/*", "text/*"):
            return CSV
        if wanted == "application/*":
            return JSON
    raise ContainerError(406, f"Accept type {header} is not supported by this framework.")


def _csv_rows(body: bytes, n_features: int) -> np.ndarray:
    lines = [line for line in body.replace(b"\r", b"").split(b"\n") if line.strip()]
    if not lines:
        raise ContainerError(400, "Request body is empty: send one CSV row per record")
    for line in lines:
        if line.count(b",") + 1 != n_features:
            raise ContainerError(
                400,
                f"Feature size of csv inference data {line.count(b',') + 1} is not consistent "
                f"with feature size of trained model {n_features}.",
            )
    joined = b",".join(lines)
    try:
        if b",," in joined or joined.startswith(b",") or joined.endswith(b","):
            raise ValueError("missing values")
        values = np.array(joined.split(b","), dtype=np.float32)
    except ValueError:  # empty fields are missing values; anything else must be a number
        try:
            values = np.array(
                [float(v) if v.strip() else np.nan for v in joined.split(b",")], dtype=np.float32
            )
        except ValueError:
            raise ContainerError(
                400, "Loading csv data failed: every field must be a number or empty"
            ) from None
    return values.reshape(len(lines), n_features)


def _json_rows(body: bytes, n_features: int) -> np.ndarray:
    try:
        payload: Any = json.loads(body)
        instances = payload["instances"] if isinstance(payload, dict) else payload
        if not isinstance(instances, list):
            raise TypeError("instances is not a list")
        rows = [row["features"] if isinstance(row, dict) else row for row in instances]
        matrix = np.array(rows, dtype=np.float32)
    except (ValueError, KeyError, TypeError) as exc:
        raise ContainerError(
            400, f'JSON body must be {{"instances": [{{"features": [...]}}, ...]}} or a list of rows ({exc})'
        ) from None
    if matrix.ndim == 1 and matrix.size:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        raise ContainerError(400, "JSON body holds no rows of features")
    if matrix.shape[1] != n_features:
        raise ContainerError(
            400,
            f"Feature size of json inference data {matrix.shape[1]} is not consistent "
            f"with feature size of trained model {n_features}.",
        )
    return matrix


def decode_rows(body: bytes, content_type: str, n_features: int) -> np.ndarray:
    """The request body as a float32 matrix of shape (rows, n_features)."""
    if content_type == CSV:
        return _csv_rows(body, n_features)
    if content_type == JSON:
        return _json_rows(body, n_features)
    raise ContainerError(415, f"Content type {content_type} is not supported by this framework.")


def encode_scores(scores: np.ndarray, accept: str | None) -> tuple[bytes, str]:
    """Scores in the response format the client's Accept header asks for, and its content type."""
    values = scores.astype(np.float64).tolist()
    if accepted_type(accept) == CSV:
        return "\n".join(map(str, values)).encode(), CSV
    return json.dumps({"predictions": [{"score": v} for v in values]}).encode(), JSON


def invoke(
    booster: xgb.Booster, body: bytes, content_type: str | None, accept: str | None
) -> tuple[bytes, str]:
    """One InvokeEndpoint call against a loaded booster: decode, predict, encode."""
    rows = decode_rows(body, media_type(content_type), booster.num_features())
    scores = np.asarray(booster.inplace_predict(rows, validate_features=False))
    return encode_scores(scores, accept)
