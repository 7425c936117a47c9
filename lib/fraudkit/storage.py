"""Where model artifacts live: S3 on aws, a directory laid out like S3 on the local backend.

The local emulator resolves an `s3://bucket/key` URI to `emulator_dir/s3/bucket/key`, so the same
URI string works in CreateModel on both backends; `Backend.upload_artifact` puts the file there.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

MODEL_ARTIFACT_PREFIX = "fraudkit/models/"  # where fraudkit.model.deploy uploads model.tar.gz


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
