"""The interface every backend implements, and the code the backends share.

A backend is where the workshop's AWS APIs, storage and Kafka live: `local` (the kit's emulator and
broker on loopback) or `aws` (an account holding the stack of `cloudformation/`). `Settings.provider`
builds one per settings object; stages call it and never test the backend's name, so each difference
between the backends is one method here with one implementation per backend.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from fraudkit.config import Settings
    from fraudkit.services import LocalService

PUT_WORKERS = 8  # PutRecord threads: below botocore's default pool of 10 connections per client


class BackendNotReady(RuntimeError):
    """The backend cannot serve the workshop yet; the message names what is missing and how to provide it."""


class Backend(abc.ABC):
    """One backend: clients, names of its resources, Kafka, feature-store bulk paths, model hosting."""

    name: ClassVar[str]
    # the background services the kit itself runs for this backend (none where the cloud runs them)
    local_services: ClassVar[tuple[LocalService, ...]] = ()
    # whether the deployment runs the stream stages itself (Lambda and Managed Flink on aws)
    hosts_stream_stages: ClassVar[bool] = False
    # kafka-python checks CRCs in pure Python; a backend on loopback may skip that cost
    verify_crcs: ClassVar[bool] = True
    # services whose clients send unsigned requests: only where the server checks no signature
    unsigned_services: ClassVar[frozenset[str]] = frozenset()
    # (seconds between DescribeEndpoint polls, default timeout) while an endpoint deploys
    endpoint_poll: ClassVar[tuple[float, float]]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # -- AWS APIs ------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        """A boto3 client for `service` in the settings' region, retrying throttles and resets."""
        import boto3
        from botocore.config import Config

        config = Config(retries={"max_attempts": 3, "mode": "standard"}, tcp_keepalive=True)
        if service in self.unsigned_services:
            from botocore import UNSIGNED

            config = config.merge(Config(signature_version=UNSIGNED))
        make_client: Any = boto3.client  # typed per literal service name by the stubs; ours is a variable
        return make_client(service, region_name=self.settings.region, config=config, **self.client_options())

    def client_options(self) -> dict[str, str]:
        """More `boto3.client` arguments (endpoint, credentials); none: botocore's default chains."""
        return {}

    def endpoint_env(self) -> dict[str, str]:
        """The environment a plain boto3/AWS CLI process (or a child kit process) needs to reach the
        same services; empty where the default chains already do."""
        return {}

    @property
    @abc.abstractmethod
    def account_id(self) -> str: ...

    @property
    @abc.abstractmethod
    def role_arn(self) -> str:
        """The SageMaker execution role: feature groups write their offline store with it, models run as it."""

    @property
    @abc.abstractmethod
    def bucket(self) -> str:
        """The bucket of the offline store and the uploaded model artifacts."""

    # -- lifecycle -----------------------------------------------------------------------------
    @abc.abstractmethod
    def prepare(self, kafka: bool = True) -> None:
        """Make the backend ready for a notebook (Kafka too when asked); BackendNotReady naming what is missing."""

    @abc.abstractmethod
    def describe(self) -> dict[str, str]:
        """What the backend runs on, by name (region, bucket, role ...), for a person to check."""

    @contextlib.contextmanager
    def workshop_services(self) -> Iterator[None]:
        """The services up for a whole workshop run (several notebook kernels); nothing to start by default."""
        yield

    def remove_local_state(self) -> list[str]:
        """Stop the kit's local services and delete the state directory; the names of the services stopped."""
        return []

    @abc.abstractmethod
    def delete_offline_data(self, offline_configs: list[dict[str, Any]]) -> None:
        """Delete what deleted feature groups leave of their offline store (given their OfflineStoreConfig)."""

    @abc.abstractmethod
    def delete_model_artifacts(self) -> dict[str, int]:
        """Delete the uploaded model artifacts, which deleting the models keeps; how many, by kind."""

    # -- Kafka ---------------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def bootstrap_servers(self) -> str:
        """The Kafka bootstrap servers, comma-separated."""

    def kafka_security(self) -> dict[str, Any]:
        """kafka-python options for authentication and encryption; none: plaintext."""
        return {}

    def kafka_config(self) -> dict[str, Any]:
        """Connection settings shared by every producer, consumer and admin client of the kit."""
        return {"bootstrap_servers": self.bootstrap_servers.split(","), **self.kafka_security()}

    # -- feature store -------------------------------------------------------------------------
    @abc.abstractmethod
    def ingest(self, name: str, frame: pl.DataFrame, quiet: bool = False, workers: int = PUT_WORKERS) -> None:
        """Write every row of `frame` to feature group `name` by the fastest path the backend has."""

    @abc.abstractmethod
    def stream_writer(self, name: str, threads: int) -> Callable[[pl.DataFrame], None]:
        """How a stream stage writes its batches of aggregates to feature group `name` (built once per stage)."""

    @abc.abstractmethod
    def offline_connection(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection that can read the offline store's files, which hold every row written so far."""

    @abc.abstractmethod
    def offline_glob(self, uri: str) -> str | None:
        """The read_parquet glob of the offline files under `uri` (a ResolvedOutputS3Uri); None if none exist."""

    # -- model hosting -------------------------------------------------------------------------
    @abc.abstractmethod
    def upload_artifact(self, path: Path, key: str) -> str:
        """Put the file `path` at `key` in the backend's bucket; its `s3://` URI, as CreateModel takes it."""

    @abc.abstractmethod
    def endpoint_image(self) -> str:
        """The container image that serves the kit's XGBoost `model.tar.gz`."""
