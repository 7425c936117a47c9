"""The aws backend's offline-store reads against moto's S3 (in process): Parquet objects are mirrored under
state_dir with ListObjectsV2 and GetObject, read by DuckDB with their hive partitions, and the mirror follows
deletions."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import boto3
import polars as pl
import pytest
from fraudkit.config import Settings
from moto import mock_aws

BUCKET = "fraudkit-data"
URI = f"s3://{BUCKET}/feature-store/123456789012/sagemaker/us-east-1/offline-store/cc-agg-fg-1700000000"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield Settings.load(backend="aws", state_dir=tmp_path / "state")


def put_parquet(key: str, frame: pl.DataFrame) -> None:
    body = io.BytesIO()
    frame.write_parquet(body)
    boto3.client("s3", region_name="us-east-1").put_object(Bucket=BUCKET, Key=key, Body=body.getvalue())


def test_offline_objects_are_read_from_a_mirror_that_follows_s3(settings: Settings) -> None:
    backend = settings.provider
    assert backend.offline_glob(URI) is None
    first = f"{URI.removeprefix(f's3://{BUCKET}/')}/data/year=2026/month=01/day=02/hour=03/a.parquet"
    second = first.replace("hour=03/a", "hour=04/b")
    put_parquet(first, pl.DataFrame({"cc_num": ["1"], "n": [1]}))
    put_parquet(second, pl.DataFrame({"cc_num": ["2"], "n": [2]}))
    put_parquet("feature-store/elsewhere/c.parquet", pl.DataFrame({"cc_num": ["3"], "n": [3]}))

    glob = backend.offline_glob(URI)
    assert glob is not None and glob.startswith(str(settings.state_dir.resolve()))
    rows = backend.offline_connection().sql(
        f"SELECT cc_num, n, hour FROM read_parquet('{glob}', hive_partitioning = true) ORDER BY cc_num"
    ).fetchall()
    assert rows == [("1", 1, "03"), ("2", 2, "04")]

    boto3.client("s3", region_name="us-east-1").delete_object(Bucket=BUCKET, Key=second)
    glob = backend.offline_glob(URI)
    assert glob is not None
    assert backend.offline_connection().sql(f"SELECT cc_num FROM read_parquet('{glob}')").fetchall() == [("1",)]


def test_a_key_that_leaves_the_mirror_is_refused(settings: Settings) -> None:
    key = f"{URI.removeprefix(f's3://{BUCKET}/')}/data/../../../../../../../../escape.parquet"
    put_parquet(key, pl.DataFrame({"n": [1]}))
    with pytest.raises(ValueError, match="leaves"):
        settings.provider.offline_glob(URI)
    assert not (settings.state_dir.parent / "escape.parquet").exists()
