"""The aws backend: an account holding the stack of `cloudformation/`, reached by botocore's default chains.

The stack's outputs (bucket, SageMaker role, MSK cluster) are read once, on first use, with
DescribeStacks. Kafka is MSK with IAM authentication: SASL OAUTHBEARER over TLS with tokens signed by
`aws-msk-iam-sasl-signer`, on the brokers that GetBootstrapBrokers names (FRAUDKIT_KAFKA_SECURITY_PROTOCOL
=PLAINTEXT, for a local account's stand-in broker only, turns that off). The offline store is read from its
Parquet objects with the query `fraudkit.featurestore.offline` also runs locally, rather than through Athena:
the objects are copied with boto3 (ListObjectsV2, GetObject, so AWS_ENDPOINT_URL_S3 and the default
credential chain apply) into a mirror under `state_dir` and read there by DuckDB. DuckDB's httpfs extension
would read S3 directly, but it is not bundled with DuckDB and installing it downloads it at run time.
Endpoints run SageMaker's built-in XGBoost image.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from kafka.net.sasl.oauth import AbstractTokenProvider

from fraudkit.aws.stack import DEPLOY_HINT, StackNotReady, StackOutputs, describe_stack, outputs_by_key
from fraudkit.backends.base import PUT_WORKERS, Backend, BackendNotReady

if TYPE_CHECKING:
    import duckdb
    import polars as pl

# SageMaker's built-in XGBoost container that reads the kit's model format whatever the training version
FALLBACK_XGBOOST_IMAGE_VERSION = "1.7-1"
NOT_FOUND = "(missing)"


class MskIamTokenProvider(AbstractTokenProvider):
    """SASL OAUTHBEARER tokens for MSK, signed with the default AWS credentials of the region."""

    def __init__(self, region: str) -> None:
        super().__init__()
        self.region = region

    def token(self) -> str:
        """kafka-python's question: the token alone."""
        return self.token_and_expiry()[0]

    def token_and_expiry(self) -> tuple[str, float]:
        """librdkafka's question (confluent-kafka's oauth_cb): the token and its expiry in epoch seconds."""
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(self.region)
        return str(token), expiry_ms / 1000


def training_library_version() -> str:
    """The installed XGBoost's version, read from its distribution without importing it (the Lambda
    functions reach this module, and XGBoost with SciPy would not fit their package): the kit pins the
    CPU-only build `xgboost-cpu`; `xgboost` is the same library in its full build."""
    for distribution in ("xgboost-cpu", "xgboost"):
        with contextlib.suppress(PackageNotFoundError):
            return version(distribution)
    raise BackendNotReady("XGBoost is not installed: run `make setup`")


def xgboost_image_versions(trained: str) -> list[str]:
    """Built-in XGBoost image versions to try, best first: the newest `<major>.<minor>-<n>` of the
    training library's version (`trained`, e.g. 3.2.0), then the fallback."""
    from sagemaker.core import image_uris

    wanted = ".".join(trained.split(".")[:2]) + "-"
    same = [v for v in image_uris.list_versions("xgboost", "inference") if v.startswith(wanted)]
    return [
        *sorted(same, key=lambda v: int(v.removeprefix(wanted)), reverse=True),
        FALLBACK_XGBOOST_IMAGE_VERSION,
    ]


class AwsBackend(Backend):
    """Real AWS services (or endpoints named by `AWS_ENDPOINT_URL_*`), sized by the stack's outputs."""

    name = "aws"
    hosts_stream_stages = True  # the stack's Managed Flink application and Lambda functions
    endpoint_poll = (15.0, 1800.0)  # an endpoint takes minutes to create

    @cached_property
    def stack(self) -> dict[str, Any]:
        """The DescribeStacks `Stack`, read once per backend object."""
        return describe_stack(self.settings, self.client("cloudformation"))

    @cached_property
    def outputs(self) -> StackOutputs:
        return StackOutputs.from_stack(self.stack)

    @property
    def account_id(self) -> str:
        return self.outputs.account_id

    @property
    def role_arn(self) -> str:
        return self.outputs.sagemaker_role_arn

    @property
    def bucket(self) -> str:
        return self.outputs.bucket

    # -- lifecycle -----------------------------------------------------------------------------
    def prepare(self, kafka: bool = True) -> None:
        """Print what the stack provides, then stop with StackNotReady on the first thing missing."""
        for key, value in self.describe().items():
            print(f"{key + ':':9} {value}")
        _ = self.outputs  # StackNotReady naming the outputs the stack lacks
        if kafka:
            _ = self.bootstrap_servers  # or naming what Kafka lacks

    def describe(self) -> dict[str, str]:
        found = outputs_by_key(self.stack)
        return {
            "region": self.settings.region,
            "stack": self.settings.stack_name,
            "bucket": found.get("OfflineStoreBucket", NOT_FOUND),
            "role": found.get("SageMakerRoleArn", NOT_FOUND),
            "cluster": found.get("MskClusterArn") or found.get("MskBootstrapServers") or NOT_FOUND,
        }

    def delete_offline_data(self, offline_configs: list[dict[str, Any]]) -> None:
        """AWS keeps a deleted feature group's offline objects in S3 and its Glue table: both go."""
        from fraudkit.storage import split_s3_uri

        for offline_config in offline_configs:
            uri = offline_config.get("S3StorageConfig", {}).get("ResolvedOutputS3Uri")
            if uri:
                self._delete_s3_prefix(*split_s3_uri(uri))
            catalog = offline_config.get("DataCatalogConfig")
            if catalog:
                try:
                    self.client("glue").delete_table(
                        DatabaseName=catalog["Database"], Name=catalog["TableName"]
                    )
                except ClientError as error:
                    if error.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                        raise

    def delete_model_artifacts(self) -> dict[str, int]:
        from fraudkit.storage import MODEL_ARTIFACT_PREFIX

        return {"model artifacts": self._delete_s3_prefix(self.bucket, MODEL_ARTIFACT_PREFIX)}

    def _delete_s3_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object under `s3://bucket/prefix`; how many there were."""
        s3 = self.client("s3")
        count = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                count += len(keys)
        return count

    # -- Kafka ---------------------------------------------------------------------------------
    @cached_property
    def bootstrap_servers(self) -> str:
        """FRAUDKIT_BOOTSTRAP_SERVERS, else the IAM brokers of the cluster (FRAUDKIT_MSK_CLUSTER_ARN, else the
        stack's MskBootstrapServers override or its MskClusterArn) from GetBootstrapBrokers, which answers
        for provisioned and serverless MSK alike."""
        if self.settings.bootstrap_servers:
            return self.settings.bootstrap_servers
        cluster = self.settings.msk_cluster_arn
        if not cluster and self.outputs.bootstrap_servers:
            return self.outputs.bootstrap_servers
        cluster = cluster or self.outputs.msk_cluster_arn
        if not cluster:
            raise StackNotReady(
                f"CloudFormation stack {self.settings.stack_name!r} lacks the output MskClusterArn "
                f"(or MskBootstrapServers), and FRAUDKIT_BOOTSTRAP_SERVERS is not set: {DEPLOY_HINT}"
            )
        try:
            brokers = self.client("kafka").get_bootstrap_brokers(ClusterArn=cluster)
        except (ClientError, BotoCoreError) as error:
            raise StackNotReady(
                f"cannot read the bootstrap brokers of MSK cluster {cluster}: {error}"
            ) from None
        servers = brokers.get("BootstrapBrokerStringSaslIam")
        if not servers:
            raise StackNotReady(f"MSK cluster {cluster} has no brokers with IAM client authentication")
        return str(servers)

    def kafka_security(self) -> dict[str, Any]:
        """IAM over TLS, as MSK requires; nothing (plaintext) only when FRAUDKIT_KAFKA_SECURITY_PROTOCOL=PLAINTEXT."""
        if self.settings.kafka_security_protocol == "PLAINTEXT":
            return {}
        return {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "OAUTHBEARER",
            "sasl_oauth_token_provider": MskIamTokenProvider(self.settings.region),
        }

    # -- feature store -------------------------------------------------------------------------
    def ingest(self, name: str, frame: pl.DataFrame, quiet: bool = False, workers: int = PUT_WORKERS) -> None:
        """PutRecord, the only write API, from parallel workers."""
        from fraudkit.featurestore.ingest import put_records

        put_records(self.settings, name, frame, workers, quiet)

    def stream_writer(self, name: str, threads: int) -> Callable[[pl.DataFrame], None]:
        """PutRecord of each card's newest row only, from a pool kept for the stage's life (boto3 clients
        are thread-safe): the online row after the write is the same at a fraction of the calls."""
        from fraudkit.featurestore.ingest import latest_per_record, wire_records

        client = self.client("sagemaker-featurestore-runtime")
        pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="put-record")

        def put(record: list[dict[str, str]]) -> None:
            client.put_record(FeatureGroupName=name, Record=record)

        def write(frame: pl.DataFrame) -> None:
            for future in [pool.submit(put, record) for record in wire_records(latest_per_record(frame))]:
                future.result()

        return write

    def offline_connection(self) -> duckdb.DuckDBPyConnection:
        """A plain connection: `offline_glob` hands it local copies of the objects."""
        import duckdb

        return duckdb.connect()

    def offline_glob(self, uri: str) -> str | None:
        """Mirror the Parquet objects under `uri` into `state_dir/offline-store/<bucket>/<prefix>` and glob the
        copies; None if there are none. Feature Store never rewrites an offline object, so a copy of the same
        size is kept, and a copy whose object is gone is removed (the mirror holds what S3 holds now)."""
        from fraudkit.storage import split_s3_uri

        bucket, prefix = split_s3_uri(uri)
        root = self.settings.state_dir / "offline-store" / bucket
        s3 = self.client("s3")
        wanted: set[Path] = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
            for item in page.get("Contents", []):
                if not item["Key"].endswith(".parquet"):
                    continue
                target = (root / item["Key"]).resolve()
                if not target.is_relative_to(root.resolve()):  # a key with `..` must not write outside the mirror
                    raise ValueError(f"offline object key {item['Key']!r} leaves {root}")
                wanted.add(target)
                if not (target.is_file() and target.stat().st_size == item["Size"]):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    partial = target.with_name(target.name + ".partial")
                    partial.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                    partial.replace(target)
        folder = (root / prefix).resolve()
        for stale in set(folder.rglob("*.parquet")) - wanted:
            stale.unlink()
        if not wanted:
            return None
        return str(folder / "**" / "*.parquet")

    # -- model hosting -------------------------------------------------------------------------
    def upload_artifact(self, path: Path, key: str) -> str:
        from fraudkit.storage import s3_uri

        with path.open("rb") as body:
            self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body)
        return s3_uri(self.bucket, key)

    def endpoint_image(self) -> str:
        """The built-in XGBoost image of the training library's version in this region (per the
        installed SageMaker SDK's image list), else 1.7-1: the artifact is written so both read it alike."""
        from sagemaker.core import image_uris

        for candidate in xgboost_image_versions(training_library_version()):
            try:
                return str(
                    image_uris.retrieve("xgboost", self.settings.region, candidate, image_scope="inference")
                )
            except ValueError:  # not published in this region
                continue
        raise BackendNotReady(f"no built-in XGBoost image in region {self.settings.region}")
