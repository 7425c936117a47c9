"""Create, describe and delete feature groups; idempotent so every notebook can call them again."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from fraudkit.config import Settings
from fraudkit.featurestore.specs import FeatureGroupSpec, card_feature_groups

WAIT_TIMEOUT = 600.0  # AWS takes minutes to create a feature group; the emulator milliseconds


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def describe(settings: Settings, name: str) -> dict[str, Any] | None:
    """DescribeFeatureGroup, or None when the group does not exist."""
    try:
        return dict(settings.client("sagemaker").describe_feature_group(FeatureGroupName=name))
    except ClientError as err:
        if _code(err) == "ResourceNotFound":
            return None
        raise


def wait_for_status(settings: Settings, name: str, wanted: str | None, timeout: float = WAIT_TIMEOUT) -> None:
    """Poll until the group has status `wanted` (None: until it is gone); raise on a failed state."""
    deadline, pause = time.monotonic() + timeout, 0.02
    while True:
        found = describe(settings, name)
        status = found["FeatureGroupStatus"] if found else None
        if status == wanted:
            return
        if status in ("CreateFailed", "DeleteFailed"):
            raise RuntimeError(f"feature group {name} is {status}: {found.get('FailureReason') if found else ''}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"feature group {name} is still {status} after {timeout:.0f} s")
        time.sleep(pause)
        pause = min(pause * 2, 5.0)


def create_feature_group(settings: Settings, spec: FeatureGroupSpec) -> str:
    """Create `spec` unless it exists, wait until Created; returns the group's ARN."""
    client = settings.client("sagemaker")
    try:
        arn = str(client.create_feature_group(**spec.create_request(settings))["FeatureGroupArn"])
    except ClientError as err:
        if _code(err) != "ResourceInUse":
            raise
        existing = describe(settings, spec.name)
        if existing and existing["FeatureGroupStatus"] == "Deleting":
            wait_for_status(settings, spec.name, None)
            return create_feature_group(settings, spec)
        arn = str(existing["FeatureGroupArn"]) if existing else ""
    wait_for_status(settings, spec.name, "Created")
    return arn


def create_feature_groups(settings: Settings, specs: Sequence[FeatureGroupSpec] | None = None) -> dict[str, str]:
    """Create the reference design's feature groups (or `specs`); name -> ARN."""
    return {spec.name: create_feature_group(settings, spec) for spec in (specs or card_feature_groups(settings))}


def delete_feature_groups(settings: Settings, names: Sequence[str] | None = None) -> list[str]:
    """Delete the named groups (default: the reference design's) and wait until gone; returns those deleted."""
    names = list(names) if names is not None else [spec.name for spec in card_feature_groups(settings)]
    client = settings.client("sagemaker")
    deleted = []
    for name in names:
        try:
            client.delete_feature_group(FeatureGroupName=name)
        except ClientError as err:
            if _code(err) != "ResourceNotFound":
                raise
            continue
        deleted.append(name)
    for name in deleted:
        wait_for_status(settings, name, None)
    return deleted
