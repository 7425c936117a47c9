"""The local backend: the kit's AWS emulator and Kafka broker on loopback, state under `state_dir`.

Nothing here needs an account: the role ARN is a placeholder the emulator records, the bucket is a
directory of the emulator's state laid out like S3, and the emulator's own paths (bulk ingestion,
flushing the offline store) replace what would take a round trip per record on AWS.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from fraudkit.backends.base import PUT_WORKERS, Backend, BackendNotReady
from fraudkit.config import (
    ENDPOINT_ENV_VARS,
    LOCAL_ACCOUNT_ID,
    SettingsError,
    read_service_record,
    service_files,
)
from fraudkit.services import ALL_SERVICES, LocalService

if TYPE_CHECKING:
    import duckdb
    import polars as pl

LOCAL_ROLE_ARN = f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/fraudkit-local"
LOCAL_CREDENTIAL = "fraudkit-local"  # the emulator checks no signature: any key works


class LocalBackend(Backend):
    """The emulator (SageMaker, Feature Store, S3 as files) and the tansu broker, started on demand."""

    name = "local"
    local_services: ClassVar[tuple[LocalService, ...]] = ALL_SERVICES
    verify_crcs = False  # a third of a stage's CPU, for bytes that never left the machine
    # The stream calls these once per batch; the emulator checks no signature, and SigV4 (hashing the body,
    # the canonical request, the key chain) was a fifth of each call's client CPU in the scorer.
    unsigned_services = frozenset({"sagemaker-featurestore-runtime", "sagemaker-runtime"})
    endpoint_poll = (0.05, 60.0)  # the emulator answers in milliseconds

    def client_options(self) -> dict[str, str]:
        env = self.endpoint_env()
        return {
            "endpoint_url": self.settings.emulator_url,
            "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        }

    def endpoint_env(self) -> dict[str, str]:
        env = dict.fromkeys(ENDPOINT_ENV_VARS, self.settings.emulator_url)
        env.update(
            AWS_ACCESS_KEY_ID=os.environ.get("AWS_ACCESS_KEY_ID", LOCAL_CREDENTIAL),
            AWS_SECRET_ACCESS_KEY=os.environ.get("AWS_SECRET_ACCESS_KEY", LOCAL_CREDENTIAL),
            AWS_DEFAULT_REGION=self.settings.region,
        )
        return env

    @property
    def account_id(self) -> str:
        return LOCAL_ACCOUNT_ID

    @property
    def role_arn(self) -> str:
        return LOCAL_ROLE_ARN

    @property
    def bucket(self) -> str:
        return self.settings.offline_store_bucket

    # -- lifecycle -----------------------------------------------------------------------------
    def prepare(self, kafka: bool = True) -> None:
        from fraudkit.services import ensure_local_services

        ensure_local_services(self.settings, broker=kafka)

    def describe(self) -> dict[str, str]:
        return {"region": self.settings.region, "emulator": self.settings.emulator_url, "bucket": self.bucket}

    @contextmanager
    def workshop_services(self) -> Iterator[None]:
        """Started from a short-lived process (see `start_detached`); stopped afterwards if started here."""
        from fraudkit.services import running_services, start_detached, stop_local_services

        state_dir = self.settings.state_dir
        already_running = set(running_services(state_dir))
        start_detached(state_dir)
        try:
            yield
        finally:
            stop_local_services(
                state_dir, only=tuple(s for s in ALL_SERVICES if s.name not in already_running)
            )

    def remove_local_state(self) -> list[str]:
        from fraudkit.services import stop_local_services

        stopped = stop_local_services(self.settings.state_dir)
        shutil.rmtree(self.settings.state_dir, ignore_errors=True)
        return stopped

    def delete_offline_data(self, offline_configs: list[dict[str, Any]]) -> None:
        """Nothing: the emulator keeps the offline store under state_dir, which remove_local_state deletes."""

    def delete_model_artifacts(self) -> dict[str, int]:
        """Nothing (not even a count): the artifacts live under state_dir too."""
        return {}

    # -- Kafka ---------------------------------------------------------------------------------
    @property
    def bootstrap_servers(self) -> str:
        """The configured servers, else the kit's broker recorded in state_dir (read on every call: the
        streaming runner asks again to notice a restarted broker)."""
        if self.settings.bootstrap_servers:
            return self.settings.bootstrap_servers
        running = read_service_record(service_files(self.settings.state_dir, "broker").record)
        if running and "bootstrap_servers" in running:
            return str(running["bootstrap_servers"])
        raise SettingsError(
            "no Kafka bootstrap servers: start the local broker (`make local-up`) or set FRAUDKIT_BOOTSTRAP_SERVERS"
        )

    # -- feature store -------------------------------------------------------------------------
    def ingest(self, name: str, frame: pl.DataFrame, quiet: bool = False, workers: int = PUT_WORKERS) -> None:
        """The emulator's bulk path (Arrow chunks): the end state of PutRecord per row, in seconds at full scale."""
        from fraudkit.featurestore.ingest import bulk_ingest_local

        bulk_ingest_local(self.settings, name, frame, quiet)

    def stream_writer(self, name: str, threads: int) -> Callable[[pl.DataFrame], None]:
        """One bulk request per batch: every aggregate reaches the offline store, the event-time rule
        picks the online row."""
        from fraudkit.featurestore.ingest import bulk_ingest_local

        settings = self.settings

        def write(frame: pl.DataFrame) -> None:
            bulk_ingest_local(settings, name, frame, True)

        return write

    def offline_connection(self) -> duckdb.DuckDBPyConnection:
        """The emulator buffers offline rows as Feature Store does: it is asked to write them first."""
        import duckdb

        from fraudkit.featurestore.offline import flush_local

        flush_local(self.settings)
        return duckdb.connect()

    def offline_glob(self, uri: str) -> str | None:
        from fraudkit.storage import local_object_path

        folder = local_object_path(self.settings.emulator_dir, uri)
        if not any(folder.glob("year=*/month=*/day=*/hour=*/*.parquet")):
            return None
        return str(folder / "year=*" / "month=*" / "day=*" / "hour=*" / "*.parquet")

    # -- model hosting -------------------------------------------------------------------------
    def upload_artifact(self, path: Path, key: str) -> str:
        """Copied where the emulator resolves the URI, so that emulator must serve this state dir."""
        from fraudkit.storage import local_object_path, s3_uri

        if (
            not os.environ.get("FRAUDKIT_EMULATOR_URL")
            and read_service_record(service_files(self.settings.state_dir, "emulator").record) is None
        ):
            raise BackendNotReady(
                f"no emulator is serving the state dir {self.settings.state_dir}: start it (`make local-up` or "
                "fraudkit.services.ensure_local_services) with the same state dir"
            )
        uri = s3_uri(self.bucket, key)
        target = local_object_path(self.settings.emulator_dir, uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(path, partial)
        partial.replace(target)
        return uri

    def endpoint_image(self) -> str:
        """A name only: the emulator serves every model with its own XGBoost, whatever the image."""
        return f"{LOCAL_ACCOUNT_ID}.dkr.ecr.{self.settings.region}.amazonaws.com/sagemaker-xgboost:1.7-1"
