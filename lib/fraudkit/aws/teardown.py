"""Remove every resource the workshop created, through the AWS APIs (real AWS or the local emulator).

The stage modules own the deletions they know best (`fraudkit.model.deploy.undeploy`,
`fraudkit.featurestore.delete_feature_groups`); this module adds what no single stage sees: endpoint
configs and models left behind by earlier deploys (an endpoint update keeps the old ones), and what
the backend keeps after those deletions (`Backend.delete_offline_data`, `delete_model_artifacts`): on
aws the offline-store objects in S3, the feature groups' Glue tables and the uploaded model artifacts;
locally nothing, as the emulator keeps them under the state directory, which
`fraudkit.services.remove_local_state` deletes. Results are counts, so notebook 99 prints the same
thing on every run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from fraudkit.config import Settings


def is_missing(error: ClientError) -> bool:
    """Whether `error` says the resource does not exist (SageMaker's APIs word it differently)."""
    info = error.response.get("Error", {})
    code, message = info.get("Code", ""), info.get("Message", "").lower()
    if code in ("ResourceNotFound", "ResourceNotFoundException", "EntityNotFoundException"):
        return True
    return code in ("ValidationException", "ValidationError") and (
        "could not find" in message or "does not exist" in message
    )


def _delete_if_present(call: Callable[..., Any], **params: str) -> None:
    try:
        call(**params)
    except ClientError as error:
        if not is_missing(error):
            raise


def _names_with_prefix(sagemaker: Any, operation: str, items: str, key: str, prefix: str) -> list[str]:
    """Names listed by `operation` that are `prefix` or start with `prefix-` (the workshop's own)."""
    names = []
    for page in sagemaker.get_paginator(operation).paginate(NameContains=prefix):
        names += [item[key] for item in page[items] if item[key] == prefix or item[key].startswith(f"{prefix}-")]
    return sorted(names)


def delete_endpoint_and_models(settings: Settings) -> dict[str, int]:
    """Delete the workshop's endpoint and every endpoint config and model its deploys created."""
    from fraudkit.model.deploy import undeploy

    sagemaker = settings.client("sagemaker")
    configs = _names_with_prefix(
        sagemaker, "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", settings.endpoint_name
    )
    models = _names_with_prefix(sagemaker, "list_models", "Models", "ModelName", settings.model_name)
    endpoints = int(undeploy(settings))
    for config in configs:
        _delete_if_present(sagemaker.delete_endpoint_config, EndpointConfigName=config)
    for model in models:
        _delete_if_present(sagemaker.delete_model, ModelName=model)
    return {"endpoints": endpoints, "endpoint configs": len(configs), "models": len(models)}


def delete_workshop_feature_groups(settings: Settings) -> int:
    """Delete the workshop's feature groups (waiting until gone) and what the backend keeps of their offline data."""
    from fraudkit.featurestore import card_feature_groups, delete_feature_groups, describe

    names = [spec.name for spec in card_feature_groups(settings)]
    offline_configs = [group.get("OfflineStoreConfig") for group in (describe(settings, n) for n in names) if group]
    deleted = delete_feature_groups(settings, names)
    settings.provider.delete_offline_data([config for config in offline_configs if config])
    return len(deleted)


def delete_topics(settings: Settings) -> dict[str, int]:
    """Delete the workshop's Kafka topics that exist on the configured brokers (MSK with IAM on aws)."""
    from fraudkit.streaming.broker import delete_topics as delete_pipeline_topics

    return {"topics": len(delete_pipeline_topics(settings))}


def delete_workshop_resources(settings: Settings) -> dict[str, int]:
    """Delete the endpoint, models and feature groups the workshop created; how many of each."""
    deleted = delete_endpoint_and_models(settings)
    deleted["feature groups"] = delete_workshop_feature_groups(settings)
    deleted.update(settings.provider.delete_model_artifacts())
    return deleted
