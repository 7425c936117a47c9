"""Remove every resource the workshop created, through the AWS APIs (real AWS or the local emulator).

Endpoints, endpoint configs and models are found from the endpoint the settings name, so the teardown
does not depend on how the deploy step named its configs. Feature groups are deleted and waited for,
so a rerun of the workshop can create them again; on aws their offline-store objects in S3 and their
Glue tables go too (the emulator keeps its offline store under the state directory instead).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from fraudkit.config import Settings

FEATURE_GROUP_DELETE_TIMEOUT_S = 600.0
POLL_INTERVAL_S = 0.5


def is_missing(error: ClientError) -> bool:
    """Whether `error` says the resource does not exist (the codes differ between SageMaker's APIs)."""
    info = error.response.get("Error", {})
    code, message = info.get("Code", ""), info.get("Message", "").lower()
    if code in ("ResourceNotFound", "ResourceNotFoundException", "EntityNotFoundException", "NoSuchKey"):
        return True
    return code in ("ValidationException", "ValidationError") and (
        "could not find" in message or "does not exist" in message
    )


def _describe_or_none(call: Callable[..., dict[str, Any]], **params: str) -> dict[str, Any] | None:
    try:
        return call(**params)
    except ClientError as error:
        if is_missing(error):
            return None
        raise


def delete_endpoint_and_models(settings: Settings) -> list[str]:
    """Delete the workshop's endpoint, its endpoint config and the models it serves, plus the named model."""
    sagemaker = settings.client("sagemaker")
    deleted: list[str] = []
    models = {settings.model_name}
    endpoint = _describe_or_none(sagemaker.describe_endpoint, EndpointName=settings.endpoint_name)
    if endpoint:
        config_name = endpoint["EndpointConfigName"]
        config = _describe_or_none(sagemaker.describe_endpoint_config, EndpointConfigName=config_name)
        sagemaker.delete_endpoint(EndpointName=settings.endpoint_name)
        deleted.append(f"endpoint {settings.endpoint_name}")
        if config:
            models.update(variant["ModelName"] for variant in config["ProductionVariants"])
            sagemaker.delete_endpoint_config(EndpointConfigName=config_name)
            deleted.append(f"endpoint config {config_name}")
    for model in sorted(models):
        if _describe_or_none(sagemaker.describe_model, ModelName=model):
            sagemaker.delete_model(ModelName=model)
            deleted.append(f"model {model}")
    return deleted


def _delete_offline_store_data(settings: Settings, offline_config: dict[str, Any]) -> None:
    """On aws: the feature group's offline-store objects in S3 and its Glue table."""
    uri = offline_config.get("S3StorageConfig", {}).get("ResolvedOutputS3Uri")
    if uri:
        location = urlparse(uri)
        s3 = settings.client("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=location.netloc, Prefix=location.path.lstrip("/")
        ):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=location.netloc, Delete={"Objects": keys, "Quiet": True})
    catalog = offline_config.get("DataCatalogConfig")
    if catalog:
        glue = settings.client("glue")
        _describe_or_none(glue.delete_table, DatabaseName=catalog["Database"], Name=catalog["TableName"])


def _wait_until_gone(settings: Settings, feature_group: str) -> None:
    sagemaker = settings.client("sagemaker")
    deadline = time.monotonic() + FEATURE_GROUP_DELETE_TIMEOUT_S
    while _describe_or_none(sagemaker.describe_feature_group, FeatureGroupName=feature_group):
        if time.monotonic() > deadline:
            raise TimeoutError(f"feature group {feature_group} still exists {FEATURE_GROUP_DELETE_TIMEOUT_S:.0f} s after delete")
        time.sleep(POLL_INTERVAL_S)


def delete_feature_groups(settings: Settings) -> list[str]:
    """Delete the workshop's two feature groups (and on aws their offline-store data and Glue tables)."""
    sagemaker = settings.client("sagemaker")
    deleted = []
    for name in (settings.online_feature_group, settings.batch_feature_group):
        group = _describe_or_none(sagemaker.describe_feature_group, FeatureGroupName=name)
        if group is None:
            continue
        sagemaker.delete_feature_group(FeatureGroupName=name)
        if settings.backend == "aws" and "OfflineStoreConfig" in group:
            _delete_offline_store_data(settings, group["OfflineStoreConfig"])
        _wait_until_gone(settings, name)
        deleted.append(f"feature group {name}")
    return deleted


def delete_topics(settings: Settings) -> list[str]:
    """Delete the workshop's Kafka topics that exist on the configured brokers (MSK with IAM on aws)."""
    from kafka import KafkaAdminClient

    from fraudkit.streaming.broker import topic_names
    from fraudkit.streaming.kafka_clients import client_config

    admin = KafkaAdminClient(**client_config(settings), client_id="fraudkit-teardown")
    try:
        existing = set(admin.list_topics())
        doomed = [topic for topic in topic_names(settings) if topic in existing]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()
    return [f"topic {topic}" for topic in doomed]


def delete_workshop_resources(settings: Settings) -> list[str]:
    """Delete endpoints, models and feature groups the workshop created; returns what was deleted."""
    return delete_endpoint_and_models(settings) + delete_feature_groups(settings)
