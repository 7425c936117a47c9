"""The aws backend without an account: every AWS call answered by botocore's Stubber, which checks the
operation, its exact parameters and the shape of each canned response against the service models."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import polars as pl
import pytest
from botocore.stub import ANY, Stubber
from fraudkit.aws.stack import StackNotReady
from fraudkit.backends.aws import AwsBackend, xgboost_image_versions
from fraudkit.config import Settings, SettingsError
from fraudkit.featurestore import create_feature_group, online_group
from fraudkit.model.deploy import artifact_digest, deploy

ACCOUNT = "123456789012"
BUCKET = "fraudkit-data-123"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fraudkit-sagemaker"
CLUSTER = f"arn:aws:kafka:us-east-1:{ACCOUNT}:cluster/fraudkit/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0-1"  # pragma: allowlist secret (a made-up cluster ARN)
IAM_BROKERS = (
    "b-1.fraudkit.kafka.us-east-1.amazonaws.com:9098,b-2.fraudkit.kafka.us-east-1.amazonaws.com:9098"
)
OUTPUTS = {"OfflineStoreBucket": BUCKET, "SageMakerRoleArn": ROLE, "MskClusterArn": CLUSTER}


class StubbedAws:
    """One stubbed client per service, handed out by the backend's `client` (so each call is checked)."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(
                service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
            )
            self.stubbers[service] = Stubber(self.clients[service])
            self.stubbers[service].activate()
        return self.clients[service]

    def stub(self, service: str) -> Stubber:
        self.client(service)
        return self.stubbers[service]

    def stack(self, outputs: dict[str, str]) -> None:
        """DescribeStacks of the workshop's stack, expected exactly once."""
        response = {
            "Stacks": [
                {
                    "StackId": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/fraudkit/0f1e2d3c",
                    "StackName": "fraudkit",
                    "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
                }
            ]
        }
        self.stub("cloudformation").add_response("describe_stacks", response, {"StackName": "fraudkit"})


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, StubbedAws]]:
    settings = Settings(backend="aws", stack_name="fraudkit", region="us-east-1")
    stubbed = StubbedAws()
    monkeypatch.setattr(settings.provider, "client", stubbed.client)
    yield settings, stubbed
    for stubber in stubbed.stubbers.values():
        stubber.assert_no_pending_responses()


def test_the_stack_is_read_once_into_typed_fields(aws: tuple[Settings, StubbedAws]) -> None:
    settings, stubbed = aws
    stubbed.stack(OUTPUTS)
    backend = settings.provider
    assert isinstance(backend, AwsBackend)
    assert (backend.bucket, backend.role_arn, backend.account_id) == (BUCKET, ROLE, ACCOUNT)
    assert backend.outputs.msk_cluster_arn == CLUSTER
    assert backend.bucket == BUCKET  # no second DescribeStacks: the stubber has none to give


def test_bootstrap_brokers_are_the_clusters_iam_brokers(aws: tuple[Settings, StubbedAws]) -> None:
    settings, stubbed = aws
    stubbed.stack(OUTPUTS)
    stubbed.stub("kafka").add_response(
        "get_bootstrap_brokers", {"BootstrapBrokerStringSaslIam": IAM_BROKERS}, {"ClusterArn": CLUSTER}
    )
    assert settings.kafka_bootstrap_servers == IAM_BROKERS
    config = settings.provider.kafka_config()
    assert config["bootstrap_servers"] == IAM_BROKERS.split(",")
    assert (config["security_protocol"], config["sasl_mechanism"]) == ("SASL_SSL", "OAUTHBEARER")
    assert settings.kafka_bootstrap_servers == IAM_BROKERS  # GetBootstrapBrokers once


def test_a_process_given_the_cluster_reads_no_stack(
    aws: tuple[Settings, StubbedAws], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Lambda functions: FRAUDKIT_MSK_CLUSTER_ARN, kafka:GetBootstrapBrokers, no DescribeStacks."""
    settings, stubbed = aws
    stubbed.stub("kafka").add_response(
        "get_bootstrap_brokers", {"BootstrapBrokerStringSaslIam": IAM_BROKERS}, {"ClusterArn": CLUSTER}
    )
    given = settings.replace(msk_cluster_arn=CLUSTER)
    monkeypatch.setattr(given.provider, "client", stubbed.client)
    assert given.kafka_bootstrap_servers == IAM_BROKERS


def test_a_cluster_without_iam_brokers_is_named(aws: tuple[Settings, StubbedAws]) -> None:
    settings, stubbed = aws
    stubbed.stack(OUTPUTS)
    stubbed.stub("kafka").add_response(
        "get_bootstrap_brokers", {"BootstrapBrokerStringTls": "b-1.example:9094"}, {"ClusterArn": CLUSTER}
    )
    with pytest.raises(StackNotReady, match="no brokers with IAM client authentication"):
        settings.provider.bootstrap_servers  # noqa: B018


def test_configured_or_output_bootstrap_servers_override_the_cluster(
    aws: tuple[Settings, StubbedAws],
) -> None:
    settings, stubbed = aws
    stubbed.stack({**OUTPUTS, "MskBootstrapServers": "127.0.0.1:9092"})
    assert settings.provider.bootstrap_servers == "127.0.0.1:9092"  # no GetBootstrapBrokers stubbed
    configured = settings.replace(bootstrap_servers="10.0.0.1:9098")
    assert configured.provider.bootstrap_servers == "10.0.0.1:9098"  # not even DescribeStacks


def test_setup_prints_what_the_stack_has_and_stops_naming_what_it_lacks(
    aws: tuple[Settings, StubbedAws], capsys: pytest.CaptureFixture[str]
) -> None:
    """Notebook 00 on aws: `prepare_backend(settings)`."""
    from fraudkit.services import prepare_backend

    settings, stubbed = aws
    stubbed.stack({"OfflineStoreBucket": BUCKET})
    with pytest.raises(StackNotReady) as stop:
        prepare_backend(settings)
    assert capsys.readouterr().out.splitlines() == [
        "region:   us-east-1",
        "stack:    fraudkit",
        f"bucket:   {BUCKET}",
        "role:     (missing)",
        "cluster:  (missing)",
    ]
    assert str(stop.value).startswith(
        "CloudFormation stack 'fraudkit' lacks the output(s) SageMakerRoleArn: "
    )
    assert "\n" not in str(stop.value)


def test_setup_without_kafka_outputs_names_the_cluster(aws: tuple[Settings, StubbedAws]) -> None:
    settings, stubbed = aws
    stubbed.stack({"OfflineStoreBucket": BUCKET, "SageMakerRoleArn": ROLE})
    with pytest.raises(StackNotReady, match="lacks the output MskClusterArn"):
        settings.provider.prepare(kafka=True)


def test_feature_groups_use_the_stacks_role_and_bucket(aws: tuple[Settings, StubbedAws]) -> None:
    settings, stubbed = aws
    stubbed.stack(OUTPUTS)
    spec = online_group(settings)
    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:feature-group/{spec.name}"
    sagemaker = stubbed.stub("sagemaker")
    sagemaker.add_response(
        "create_feature_group",
        {"FeatureGroupArn": arn},
        {
            "FeatureGroupName": spec.name,
            "RecordIdentifierFeatureName": "cc_num",
            "EventTimeFeatureName": "trans_time",
            "FeatureDefinitions": [{"FeatureName": n, "FeatureType": t} for n, t in spec.features],
            "Description": spec.description,
            "OnlineStoreConfig": {"EnableOnlineStore": True},
            "OfflineStoreConfig": {"S3StorageConfig": {"S3Uri": f"s3://{BUCKET}/feature-store"}},
            "RoleArn": ROLE,
        },
    )
    sagemaker.add_response(
        "describe_feature_group",
        {
            "FeatureGroupArn": arn,
            "FeatureGroupName": spec.name,
            "RecordIdentifierFeatureName": "cc_num",
            "EventTimeFeatureName": "trans_time",
            "FeatureDefinitions": [{"FeatureName": n, "FeatureType": t} for n, t in spec.features],
            "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            "FeatureGroupStatus": "Created",
            "NextToken": "",
        },
        {"FeatureGroupName": spec.name},
    )
    assert create_feature_group(settings, spec) == arn


def test_deploy_uploads_to_the_stacks_bucket_and_runs_the_built_in_image_as_the_stacks_role(
    aws: tuple[Settings, StubbedAws], tmp_path: Path
) -> None:
    settings, stubbed = aws
    stubbed.stack(OUTPUTS)
    artifact = tmp_path / "model.tar.gz"
    artifact.write_bytes(b"a model")
    digest = artifact_digest(artifact)
    key = f"fraudkit/models/{settings.scale}/{digest}/model.tar.gz"
    model, config = f"{settings.model_name}-{digest}", f"{settings.endpoint_name}-{digest}"
    stubbed.stub("s3").add_response("put_object", {}, {"Bucket": BUCKET, "Key": key, "Body": ANY})
    sagemaker = stubbed.stub("sagemaker")
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
    sagemaker.add_response(
        "create_model",
        {"ModelArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/{model}"},
        {
            "ModelName": model,
            "PrimaryContainer": {"Image": image, "ModelDataUrl": f"s3://{BUCKET}/{key}"},
            "ExecutionRoleArn": ROLE,
        },
    )
    sagemaker.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint-config/{config}"},
        {"EndpointConfigName": config, "ProductionVariants": ANY},
    )
    sagemaker.add_client_error(
        "describe_endpoint",
        "ValidationException",
        "Could not find endpoint",
        400,
        expected_params={"EndpointName": settings.endpoint_name},
    )
    sagemaker.add_response(
        "create_endpoint",
        {"EndpointArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{settings.endpoint_name}"},
        {"EndpointName": settings.endpoint_name, "EndpointConfigName": config},
    )
    sagemaker.add_response(
        "describe_endpoint",
        {
            "EndpointName": settings.endpoint_name,
            "EndpointArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{settings.endpoint_name}",
            "EndpointConfigName": config,
            "EndpointStatus": "InService",
            "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            "LastModifiedTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        },
        {"EndpointName": settings.endpoint_name},
    )
    assert deploy(settings, artifact) == settings.endpoint_name


def test_the_image_is_the_training_librarys_version_else_1_7() -> None:
    assert xgboost_image_versions("3.2.0")[0] == "3.2-0"
    assert xgboost_image_versions("9.9.0") == ["1.7-1"]


def test_stream_writes_put_only_each_cards_newest_row(aws: tuple[Settings, StubbedAws]) -> None:
    settings, stubbed = aws
    stubbed.stub("sagemaker-featurestore-runtime").add_response(
        "put_record",
        {},
        {
            "FeatureGroupName": "cc-agg-fg",
            "Record": [
                {"FeatureName": "cc_num", "ValueAsString": "4000000000000002"},
                {"FeatureName": "trans_time", "ValueAsString": "2.0"},
            ],
        },
    )
    write = settings.provider.stream_writer("cc-agg-fg", threads=1)
    write(pl.DataFrame({"cc_num": ["4000000000000002"] * 2, "trans_time": [2.0, 1.0]}))


def test_teardown_deletes_the_model_artifacts_in_the_stacks_bucket(aws: tuple[Settings, StubbedAws]) -> None:
    settings, stubbed = aws
    stubbed.stack(OUTPUTS)
    s3 = stubbed.stub("s3")
    s3.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": "fraudkit/models/tiny/abc/model.tar.gz"}], "IsTruncated": False},
        {"Bucket": BUCKET, "Prefix": "fraudkit/models/"},
    )
    s3.add_response(
        "delete_objects",
        {},
        {
            "Bucket": BUCKET,
            "Delete": {"Objects": [{"Key": "fraudkit/models/tiny/abc/model.tar.gz"}], "Quiet": True},
        },
    )
    assert settings.provider.delete_model_artifacts() == {"model artifacts": 1}


def test_teardown_deletes_a_deleted_groups_offline_objects_and_glue_table(
    aws: tuple[Settings, StubbedAws],
) -> None:
    settings, stubbed = aws
    prefix = f"feature-store/{ACCOUNT}/sagemaker/us-east-1/offline-store/cc-agg-fg-1767225600"
    key = f"{prefix}/data/year=2026/month=01/day=01/hour=00/rows.parquet"
    s3 = stubbed.stub("s3")
    s3.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": key}], "IsTruncated": False},
        {"Bucket": BUCKET, "Prefix": prefix},
    )
    s3.add_response(
        "delete_objects", {}, {"Bucket": BUCKET, "Delete": {"Objects": [{"Key": key}], "Quiet": True}}
    )
    stubbed.stub("glue").add_client_error(
        "delete_table",
        "EntityNotFoundException",
        "Table not found",
        400,
        expected_params={"DatabaseName": "sagemaker_featurestore", "Name": "cc-agg-fg-1767225600"},
    )
    settings.provider.delete_offline_data(
        [
            {
                "S3StorageConfig": {
                    "S3Uri": f"s3://{BUCKET}/feature-store",
                    "ResolvedOutputS3Uri": f"s3://{BUCKET}/{prefix}",
                },
                "DataCatalogConfig": {
                    "TableName": "cc-agg-fg-1767225600",
                    "Catalog": "AwsDataCatalog",
                    "Database": "sagemaker_featurestore",
                },
            }
        ]
    )


def test_kafka_is_iam_over_tls_unless_plaintext_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAUDKIT_KAFKA_SECURITY_PROTOCOL", raising=False)
    default = Settings.load(backend="aws", bootstrap_servers=IAM_BROKERS).provider.kafka_config()
    assert default["security_protocol"] == "SASL_SSL"
    assert default["sasl_mechanism"] == "OAUTHBEARER"
    assert default["sasl_oauth_token_provider"].region == "us-east-1"
    monkeypatch.setenv("FRAUDKIT_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")  # a local account's stand-in broker
    plaintext = Settings.load(backend="aws", bootstrap_servers="127.0.0.1:9092").provider.kafka_config()
    assert plaintext == {"bootstrap_servers": ["127.0.0.1:9092"]}
    with pytest.raises(SettingsError, match="kafka_security_protocol='SSL'"):
        Settings.load(backend="aws", kafka_security_protocol="SSL")
