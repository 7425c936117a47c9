"""Notebook 99's teardown against the real emulator and broker: everything the workshop made, nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from fraudkit.aws.teardown import delete_topics, delete_workshop_resources
from fraudkit.config import Settings
from fraudkit.featurestore import create_feature_groups, describe
from fraudkit.streaming.broker import create_topics, topic_names
from kafka import KafkaAdminClient

pytestmark = pytest.mark.integration

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def _model(sagemaker: Any, name: str) -> None:
    sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://nowhere/model.tar.gz"},
        ExecutionRoleArn="arn:aws:iam::000000000000:role/fraudkit-local",
    )


def _config(sagemaker: Any, name: str, model: str) -> None:
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )


def test_teardown_deletes_the_workshops_resources_and_only_those(emulator: Settings) -> None:
    settings = emulator.replace(
        model_name="td-model", endpoint_name="td-endpoint", online_feature_group="td-online",
        batch_feature_group="td-batch",
    )
    sagemaker = settings.client("sagemaker")
    create_feature_groups(settings)
    for model in ("td-model-old", "td-model-new", "td-modelling"):  # the last one is not the workshop's
        _model(sagemaker, model)
    _config(sagemaker, "td-endpoint-old", "td-model-old")  # left behind by an earlier deploy
    _config(sagemaker, "td-endpoint-new", "td-model-new")
    sagemaker.create_endpoint(EndpointName="td-endpoint", EndpointConfigName="td-endpoint-new")

    deleted = delete_workshop_resources(settings)

    assert deleted == {"endpoints": 1, "endpoint configs": 2, "models": 2, "feature groups": 2}
    assert describe(settings, "td-online") is None and describe(settings, "td-batch") is None
    remaining_models = {m["ModelName"] for m in sagemaker.list_models(NameContains="td-model")["Models"]}
    assert remaining_models == {"td-modelling"}
    assert sagemaker.list_endpoint_configs(NameContains="td-endpoint")["EndpointConfigs"] == []
    assert [e for e in sagemaker.list_endpoints()["Endpoints"] if e["EndpointName"] == "td-endpoint"] == []
    # a second run finds nothing left to delete
    assert delete_workshop_resources(settings) == {
        "endpoints": 0, "endpoint configs": 0, "models": 0, "feature groups": 0
    }


def test_delete_topics_removes_the_pipeline_topics(broker: Settings) -> None:
    settings = broker.replace(
        transactions_topic="td-tx", features_topic="td-feat", decisions_topic="td-dec", dead_letter_topic="td-dlq"
    )
    create_topics(settings)
    assert delete_topics(settings) == {"topics": 4}
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        assert not set(topic_names(settings)) & set(admin.list_topics())
    finally:
        admin.close()
    assert delete_topics(settings) == {"topics": 0}
