"""The model artifact in the format of SageMaker's built-in XGBoost container, plus a model card.

`model.tar.gz` holds the booster as `xgboost-model` in XGBoost's JSON format, written so that the
container's XGBoost 1.7 reads it exactly as ours does (see `container_model_json`); `model.json` next to
it records the features in CSV column order, the threshold chosen on validation data and how the model
was trained, so scoring code never guesses.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fraudkit.config import Settings

# XGBoost (also behind the emulator's endpoints package) takes a second or two to import; a stream stage
# reads the model card and never the booster, so they are imported where a booster is handled
if TYPE_CHECKING:
    import xgboost as xgb

    from fraudkit.model.training import TrainedModel

ARTIFACT_NAME = "model.tar.gz"
MODEL_CARD_NAME = "model.json"


def model_path(settings: Settings, kind: str) -> Path:
    """Where the artifact of the `kind` model lives (`settings.model_dir / kind / model.tar.gz`)."""
    return settings.model_dir / kind / ARTIFACT_NAME


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


def container_model_json(booster: xgb.Booster) -> bytes:
    """The booster's JSON model with `base_score` as a single number, the form XGBoost 1.7 parses.

    XGBoost 3.1+ writes `base_score` as a vector (`"[1.4E-1]"`). SageMaker's built-in container
    (sagemaker-xgboost:1.7-1) loads such a model without complaint but falls back to a base score of
    0.5, so every score on AWS would drift (measured with xgboost 1.7.6: mean score 0.23 -> 0.55 on our
    model). Newer releases read the scalar form as well.
    """
    model = json.loads(bytes(booster.save_raw(raw_format="json")))
    params = model["learner"]["learner_model_param"]
    values = str(params["base_score"]).strip("[]").split(",")
    if len(values) != 1:
        raise ValueError(
            f"the model has {len(values)} base scores (one per target); SageMaker's XGBoost 1.7 container serves "
            "single-target models only"
        )
    params["base_score"] = values[0].strip()
    return json.dumps(model, separators=(",", ":")).encode()


def _reproducible_tar_gz(files: dict[str, bytes]) -> bytes:
    """A gzipped tar of `files` whose bytes depend on the contents only.

    gzip stores the current time and the file name in its header and tar stores each member's mtime,
    owner and mode; all are fixed here and members are sorted, so the same model always gives the same
    artifact (and the same hash, hence no spurious "model changed" on redeploys or in reviews).
    """
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tarball_bytes(booster: xgb.Booster) -> bytes:
    """The booster packed as the built-in container expects, byte-reproducible."""
    from fraudkit.emulator.endpoints.container import MODEL_FILE

    return _reproducible_tar_gz({MODEL_FILE: container_model_json(booster)})


def save_model(model: TrainedModel, path: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write `model.tar.gz` and `model.json` (features, threshold, training facts) at `path`."""
    _write_atomically(path, tarball_bytes(model.booster))
    card = {
        "features": model.features,
        "threshold": model.threshold,
        "config": model.config.name,
        "params": model.config.params,
        "num_rounds": model.num_rounds,
        "validation": model.validation,
        **(extra or {}),
    }
    _write_atomically(path.with_name(MODEL_CARD_NAME), json.dumps(card, indent=2, sort_keys=True).encode())
    return path


def load_booster(path: Path) -> xgb.Booster:
    """The booster of a `model.tar.gz`, read exactly as the emulated container reads it."""
    from fraudkit.emulator.endpoints.container import booster_from_tarball

    return booster_from_tarball(path.read_bytes())


def load_model_card(path: Path) -> dict[str, Any]:
    """The `model.json` written next to the artifact at `path`."""
    card: dict[str, Any] = json.loads(path.with_name(MODEL_CARD_NAME).read_text())
    return card
