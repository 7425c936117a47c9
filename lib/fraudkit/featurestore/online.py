"""Online reads: GetRecord / BatchGetRecord results as typed Python values and polars frames."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import polars as pl

from fraudkit.config import Settings
from fraudkit.featurestore.admin import describe
from fraudkit.featurestore.specs import POLARS_TYPES

BATCH_LIMIT = 100  # BatchGetRecord's limit on identifiers per call
UNPROCESSED_RETRIES = 5  # BatchGetRecord calls after the first for identifiers AWS left unprocessed
UNPROCESSED_BACKOFF_S = 0.1  # the first retry's pause, doubled on each further retry (3.1 s in all)


def _types(settings: Settings, name: str) -> dict[str, str]:
    found = describe(settings, name)
    if found is None:
        raise KeyError(f"feature group {name} does not exist")
    return {d["FeatureName"]: d["FeatureType"] for d in found["FeatureDefinitions"]}


def typed_record(record: Sequence[dict[str, Any]], types: dict[str, str]) -> dict[str, Any]:
    """A wire Record as {feature: value} with Integral -> int, Fractional -> float."""
    values: dict[str, Any] = {}
    for item in record:
        name, text = item["FeatureName"], item.get("ValueAsString")
        kind = types.get(name, "String")
        values[name] = (
            int(text)
            if kind == "Integral" and text is not None
            else (float(text) if kind == "Fractional" and text is not None else text)
        )
    return values


def get_record(
    settings: Settings, name: str, record_id: str, features: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """The online record of `record_id` (typed), or None when there is none."""
    client = settings.client("sagemaker-featurestore-runtime")
    request: dict[str, Any] = {"FeatureGroupName": name, "RecordIdentifierValueAsString": str(record_id)}
    if features:
        request["FeatureNames"] = list(features)
    record = client.get_record(**request).get("Record")
    return typed_record(record, _types(settings, name)) if record else None


def _batch_get(client: Any, name: str, ids: list[str]) -> list[dict[str, Any]]:
    """BatchGetRecord of `ids` with the identifiers AWS left unprocessed retried.

    Feature Store may answer part of a batch and return the rest as `UnprocessedIdentifiers` (throttling,
    capacity); dropping them would silently lose records, so they are asked again with exponential backoff
    and a batch that stays incomplete is an error rather than a short frame.
    """
    identifiers: list[dict[str, Any]] = [{"FeatureGroupName": name, "RecordIdentifiersValueAsString": ids}]
    records: list[dict[str, Any]] = []
    for attempt in range(UNPROCESSED_RETRIES + 1):
        if attempt:
            time.sleep(UNPROCESSED_BACKOFF_S * 2 ** (attempt - 1))
        response = client.batch_get_record(Identifiers=identifiers)
        if response.get("Errors"):
            first = response["Errors"][0]
            raise RuntimeError(f"BatchGetRecord on {name}: {first['ErrorCode']}: {first['ErrorMessage']}")
        records += response.get("Records", [])
        identifiers = response.get("UnprocessedIdentifiers") or []
        if not identifiers:
            return records
    left = sum(len(i["RecordIdentifiersValueAsString"]) for i in identifiers)
    raise RuntimeError(
        f"BatchGetRecord on {name}: {left} of {len(ids)} record ids still unprocessed after "
        f"{UNPROCESSED_RETRIES} retries (throttled?); try again later or read fewer ids at once"
    )


def read_online(settings: Settings, name: str, record_ids: Sequence[str]) -> pl.DataFrame:
    """The online records of `record_ids` as a frame (ids without a record are absent), via BatchGetRecord."""
    client = settings.client("sagemaker-featurestore-runtime")
    types = _types(settings, name)
    rows = []
    for start in range(0, len(record_ids), BATCH_LIMIT):
        ids = [str(i) for i in record_ids[start : start + BATCH_LIMIT]]
        rows += [typed_record(r["Record"], types) for r in _batch_get(client, name, ids)]
    schema = {feature: POLARS_TYPES[kind] for feature, kind in types.items()}
    return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
