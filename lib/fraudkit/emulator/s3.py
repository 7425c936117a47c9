"""The emulated S3: an `s3://bucket/key` URI as a file under `<emulator dir>/s3/<bucket>/<key>`.

Every place that turns a URI into a path (CreateModel's ModelDataUrl, the offline store's S3Uri)
goes through `object_path`, which checks the bucket against S3's general purpose bucket naming rules
and the key against S3's key limits, and refuses key segments that a file system reads as
navigation (`.`, `..`, empty): `s3://../featurestore.db` would otherwise name the emulator's own
database. S3 itself would store such keys; here they have no file of their own, so they are refused.
"""

from __future__ import annotations

import re
from pathlib import Path

from fraudkit.emulator.exceptions import ValidationException

MAX_KEY_BYTES = 1024
# 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")
RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_problem(bucket: str) -> str | None:
    """Why `bucket` breaks S3's naming rules for general purpose buckets, or None."""
    if not BUCKET.fullmatch(bucket):
        return (
            "3 to 63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit"
        )
    if ".." in bucket:
        return "no two adjacent periods"
    if IP_ADDRESS.fullmatch(bucket):
        return "not formatted as an IP address"
    if bucket.startswith(RESERVED_PREFIXES) or bucket.endswith(RESERVED_SUFFIXES):
        return (
            f"no reserved prefix ({', '.join(RESERVED_PREFIXES)}) or suffix ({', '.join(RESERVED_SUFFIXES)})"
        )
    return None


def key_problem(key: str) -> str | None:
    """Why `key` (without a trailing slash) cannot name a file under its bucket, or None."""
    if not key:
        return "a key is required"
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return f"at most {MAX_KEY_BYTES} bytes of UTF-8"
    if "\x00" in key:
        return "no NUL character"
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        return "no empty, '.' or '..' path segments"
    return None


def split_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an `s3://bucket/key` URI (a prefix loses its trailing slash); a
    ValidationException naming the broken rule, so both object stores refuse the same URIs."""
    shown = uri[:200]
    if not uri.startswith("s3://"):
        raise ValidationException(
            f"{shown} is not an s3://bucket/key URI (the local emulator stores only S3 URIs)"
        )
    bucket, _, key = uri[len("s3://") :].partition("/")
    key = key.removesuffix("/")
    problem = bucket_problem(bucket)
    if problem is not None:
        raise ValidationException(f"The bucket name of {shown} breaks S3's naming rules: {problem}")
    problem = key_problem(key)
    if problem is not None:
        raise ValidationException(f"The object key of {shown} is not usable: {problem}")
    return bucket, key


def object_path(emulator_dir: Path, uri: str) -> Path:
    """The file standing for `uri` (an object, or a prefix without its trailing slash); a
    ValidationException naming the broken rule when the URI could leave its bucket."""
    bucket, key = split_uri(uri)
    root = (emulator_dir / "s3" / bucket).resolve()
    path = (root / key).resolve()
    if not path.is_relative_to(root):  # a symbolic link inside the bucket pointing out of it
        raise ValidationException(f"The object key of {uri[:200]} leaves its bucket")
    return path
