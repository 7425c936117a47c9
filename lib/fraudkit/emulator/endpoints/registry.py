"""Durable state of models, endpoint configs and endpoints (SQLite under the emulator's state dir),
plus the boosters of the endpoints that are in service, loaded once per endpoint.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from typing import Any

import numpy as np
import xgboost as xgb

from fraudkit.emulator.core import EmulatorState, backend
from fraudkit.emulator.endpoints.container import booster_from_tarball
from fraudkit.emulator.exceptions import AwsError, ValidationException
from fraudkit.emulator.objects import ObjectUnavailable

MODEL = "model"
ENDPOINT_CONFIG = "endpoint-config"
ENDPOINT = "endpoint"
# what the error messages call each kind, as SageMaker words them
KIND_NOUNS = {MODEL: "model", ENDPOINT_CONFIG: "endpoint configuration", ENDPOINT: "endpoint"}


def download_failure(uri: str) -> str:
    """SageMaker's FailureReason for an endpoint whose model artifact could not be read from S3."""
    return (
        f'Failed to download model data for container "container_1" from URL: "{uri}". Please ensure '
        "that there is an object located at the URL and that the role passed to CreateModel has "
        "permissions to download the object."
    )


class EndpointRegistry:
    """Models, endpoint configs and endpoints by kind and (case-insensitive) name."""

    # how long an endpoint stays Creating/Updating before it serves: long enough for a client to
    # observe the transition, short enough for tests
    ACTIVATION_SECONDS = 0.2

    def __init__(self, state: EmulatorState) -> None:
        self.region = state.region
        self.account_id = state.account_id
        self.root = state.emulator_dir
        self.objects = state.objects
        self.root.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.root / "endpoints.sqlite3", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS resources (kind TEXT, key TEXT, body TEXT, PRIMARY KEY (kind, key))"
        )
        self._db.commit()
        self._lock = threading.RLock()
        self._boosters: dict[str, xgb.Booster] = {}
        # per endpoint, bumped by every activation and delete: an activation whose number is no longer
        # current was overtaken (the endpoint deleted or redeployed while its model loaded) and changes nothing
        self._generations: dict[str, int] = {}
        self._activations: list[threading.Thread] = []
        for record in self.list(ENDPOINT):
            if record["EndpointStatus"] in ("Creating", "Updating"):
                self.activate(record["EndpointName"])

    def problems(self) -> list[str]:
        """None beyond a readable database (raises when it is not)."""
        with self._lock:
            self._db.execute("SELECT count(*) FROM resources").fetchone()
        return []

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{kind}/{name.lower()}"

    def missing(self, kind: str, name: str) -> ValidationException:
        return ValidationException(f'Could not find {KIND_NOUNS[kind]} "{self.arn(kind, name)}".')

    def already_exists(self, kind: str, name: str) -> ValidationException:
        return ValidationException(
            f'Cannot create already existing {KIND_NOUNS[kind]} "{self.arn(kind, name)}".'
        )

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM resources WHERE kind = ? AND key = ?", (kind, name.lower())
            ).fetchone()
        return json.loads(row[0]) if row else None

    def require(self, kind: str, name: str) -> dict[str, Any]:
        record = self.get(kind, name)
        if record is None:
            raise self.missing(kind, name)
        return record

    def put(self, kind: str, name: str, record: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO resources VALUES (?, ?, ?)", (kind, name.lower(), json.dumps(record))
            )
            self._db.commit()

    def insert(self, kind: str, name: str, record: dict[str, Any]) -> None:
        """Store a new resource; AWS refuses to create one whose name is taken."""
        with self._lock:
            if self.get(kind, name) is not None:
                raise self.already_exists(kind, name)
            self.put(kind, name, record)

    def delete(self, kind: str, name: str) -> None:
        with self._lock:
            self.require(kind, name)
            self._db.execute("DELETE FROM resources WHERE kind = ? AND key = ?", (kind, name.lower()))
            self._db.commit()
            if kind == ENDPOINT:
                self._boosters.pop(name.lower(), None)
                self._next_generation(name)

    def _next_generation(self, endpoint_name: str) -> int:
        """A new activation number for the endpoint (caller holds the lock)."""
        key = endpoint_name.lower()
        generation = self._generations[key] = self._generations.get(key, 0) + 1
        return generation

    def list(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM resources WHERE kind = ?", (kind,)).fetchall()
        return [json.loads(body) for (body,) in rows]

    # -- serving --
    def load_booster(self, endpoint_config_name: str) -> xgb.Booster:
        """The booster of the config's first production variant, from the model's ModelDataUrl."""
        config = self.require(ENDPOINT_CONFIG, endpoint_config_name)
        model = self.require(MODEL, config["ProductionVariants"][0]["ModelName"])
        container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
        url = container.get("ModelDataUrl")
        if not url:
            raise ValueError(f"model {model['ModelName']} has no PrimaryContainer.ModelDataUrl")
        return booster_from_tarball(self.objects.get(url))

    def activate(self, endpoint_name: str) -> None:
        """Load the endpoint's model in the background, then mark it InService (or Failed, with the reason)."""
        with self._lock:
            generation = self._next_generation(endpoint_name)
        thread = threading.Thread(target=self._activate, args=(endpoint_name, generation), daemon=True)
        self._activations = [t for t in self._activations if t.is_alive()] + [thread]
        thread.start()

    def _activate(self, endpoint_name: str, generation: int) -> None:
        time.sleep(self.ACTIVATION_SECONDS)
        record = self.get(ENDPOINT, endpoint_name)
        if record is None:
            return
        try:
            booster = self.load_booster(record["EndpointConfigName"])
        except (OSError, ValueError, KeyError, AwsError, xgb.core.XGBoostError) as exc:
            reason = (
                download_failure(exc.uri)
                if isinstance(exc, ObjectUnavailable)
                else f"could not load the model: {exc}"
            )
            if "ServingConfigName" in record:  # a failed update rolls back to the config still serving
                record.update(EndpointStatus="InService", EndpointConfigName=record["ServingConfigName"])
            else:
                record.update(EndpointStatus="Failed")
            record["FailureReason"] = reason
            booster = None
        else:
            record.update(EndpointStatus="InService", ServingConfigName=record["EndpointConfigName"])
            record.pop("FailureReason", None)
        record["LastModifiedTime"] = time.time()
        with self._lock:
            if self._generations.get(endpoint_name.lower()) != generation:
                return
            if booster is not None:
                self._boosters[endpoint_name.lower()] = booster
            self.put(ENDPOINT, endpoint_name, record)

    def serving_booster(self, endpoint_name: str) -> xgb.Booster | None:
        """The loaded booster of an in-service endpoint (loaded on first use after a restart)."""
        key = endpoint_name.lower()
        booster = self._boosters.get(key)
        if booster is not None:
            return booster
        record = self.get(ENDPOINT, endpoint_name)
        if record is None or "ServingConfigName" not in record:
            return None
        booster = self.load_booster(record["ServingConfigName"])
        with self._lock:  # cached only if the endpoint still serves that config (not deleted meanwhile)
            current = self.get(ENDPOINT, endpoint_name)
            if current is None or current.get("ServingConfigName") != record["ServingConfigName"]:
                return None
            return self._boosters.setdefault(key, booster)

    def warm(self) -> None:
        """Load the booster of every in-service endpoint and predict once with it (one that cannot be
        loaded stays lazy and answers its first InvokeEndpoint as before).

        Called at server start, before the heap is frozen: otherwise the first InvokeEndpoint after a
        restart reads and parses the artifact and sets XGBoost's predictor up (35 ms more than a warm call), and the
        first stream decisions after `services up` wait for it.
        """
        for record in self.list(ENDPOINT):
            if record.get("EndpointStatus") != "InService":
                continue
            try:
                booster = self.serving_booster(record["EndpointName"])
            except (OSError, ValueError, KeyError, AwsError, xgb.core.XGBoostError):
                continue
            if booster is not None:
                booster.inplace_predict(
                    np.zeros((1, booster.num_features()), dtype=np.float32), validate_features=False
                )

    def close(self) -> None:
        """Let pending activations finish (they write their status), then close the database."""
        for thread in self._activations:
            thread.join(timeout=10)
        with self._lock:
            self._db.close()


@backend("endpoints")
def _registry(state: EmulatorState) -> EndpointRegistry:
    return EndpointRegistry(state)
