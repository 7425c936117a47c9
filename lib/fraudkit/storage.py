"""Where model artifacts live: S3 on aws, a directory laid out like S3 on the local backend.

The local emulator resolves an `s3://bucket/key` URI to `emulator_dir/s3/bucket/key`, so the same
URI string works in CreateModel on both backends.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

from fraudkit.config import Settings


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key.lstrip('/')}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an `s3://bucket/key` URI; ValueError for anything else."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def local_object_path(emulator_dir: Path, uri: str) -> Path:
    """The file that stands for `uri` on the local backend (refuses keys escaping the bucket)."""
    bucket, key = split_s3_uri(uri)
    root = (emulator_dir / "s3" / bucket).resolve()
    path = (root / key).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"key escapes its bucket: {uri!r}")
    return path


def upload_artifact(settings: Settings, path: Path, key: str, bucket: str | None = None) -> str:
    """Upload `path` to `bucket/key` (default bucket: the stack's) and return its `s3://` URI."""
    bucket = bucket or settings.offline_store_bucket
    uri = s3_uri(bucket, key)
    if settings.backend == "aws":
        settings.client("s3").upload_file(str(path), bucket, key)
        return uri
    target = local_object_path(settings.emulator_dir, uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(path, partial)
    partial.replace(target)
    return uri
