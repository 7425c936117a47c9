"""The local backend without its services: clients and environment aimed at the emulator, the broker
found from its record, artifacts placed where the emulator resolves them, nothing to delete on AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fraudkit.backends import BackendNotReady
from fraudkit.backends.local import LOCAL_ROLE_ARN, LocalBackend
from fraudkit.config import LOCAL_ACCOUNT_ID, Settings, SettingsError, service_files
from fraudkit.storage import local_object_path


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("FRAUDKIT_EMULATOR_URL", raising=False)
    return Settings.load(backend="local", state_dir=tmp_path, emulator_port=4999)


def test_clients_and_plain_processes_reach_the_emulator(settings: Settings) -> None:
    assert isinstance(settings.provider, LocalBackend)
    assert settings.client("sagemaker").meta.endpoint_url == "http://127.0.0.1:4999"
    assert settings.endpoint_env()["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == "http://127.0.0.1:4999"
    backend = settings.provider
    assert (backend.account_id, backend.role_arn, backend.bucket) == (
        LOCAL_ACCOUNT_ID,
        LOCAL_ROLE_ARN,
        settings.offline_store_bucket,
    )


def test_kafka_is_plaintext_on_the_recorded_broker_and_skips_crc_checks(settings: Settings) -> None:
    with pytest.raises(SettingsError, match="make local-up"):
        settings.provider.kafka_config()
    record = service_files(settings.state_dir, "broker").record
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"bootstrap_servers": "127.0.0.1:19092"}))
    assert settings.provider.kafka_config() == {"bootstrap_servers": ["127.0.0.1:19092"]}
    record.write_text(json.dumps({"bootstrap_servers": "127.0.0.1:19093"}))  # a restarted broker
    assert settings.kafka_bootstrap_servers == "127.0.0.1:19093"
    assert settings.replace(bootstrap_servers="10.0.0.1:9092").kafka_bootstrap_servers == "10.0.0.1:9092"
    assert settings.provider.verify_crcs is False


def test_artifacts_need_the_emulator_of_this_state_dir(settings: Settings, tmp_path: Path) -> None:
    artifact = tmp_path / "model.tar.gz"
    artifact.write_bytes(b"a model")
    with pytest.raises(BackendNotReady, match="no emulator is serving the state dir"):
        settings.provider.upload_artifact(artifact, "fraudkit/models/m/model.tar.gz")
    record = service_files(settings.state_dir, "emulator").record
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"url": "http://127.0.0.1:4999"}))
    uri = settings.provider.upload_artifact(artifact, "fraudkit/models/m/model.tar.gz")
    assert uri == f"s3://{settings.offline_store_bucket}/fraudkit/models/m/model.tar.gz"
    assert local_object_path(settings.emulator_dir, uri).read_bytes() == b"a model"


def test_an_offline_store_without_files_has_no_glob(settings: Settings) -> None:
    uri = f"s3://{settings.offline_store_bucket}/feature-store/{LOCAL_ACCOUNT_ID}/sagemaker/us-east-1/offline-store/g"
    assert settings.provider.offline_glob(uri) is None
    folder = local_object_path(settings.emulator_dir, uri) / "year=2026" / "month=01" / "day=01" / "hour=00"
    folder.mkdir(parents=True)
    (folder / "rows.parquet").write_bytes(b"")
    assert settings.provider.offline_glob(uri) == str(
        local_object_path(settings.emulator_dir, uri).joinpath(
            "year=*", "month=*", "day=*", "hour=*", "*.parquet"
        )
    )


def test_teardown_leaves_aws_data_to_the_state_dir(settings: Settings) -> None:
    assert settings.provider.delete_model_artifacts() == {}
    assert settings.provider.hosts_stream_stages is False
