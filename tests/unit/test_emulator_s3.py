"""S3 URIs as paths of the emulated S3: S3's naming rules, and never a path outside the bucket."""

from __future__ import annotations

from pathlib import Path

import pytest
from fraudkit.emulator.exceptions import ValidationException
from fraudkit.emulator.s3 import object_path


@pytest.mark.parametrize(
    "uri",
    [
        "s3://../featurestore.db",  # the bucket ".." is the emulator's own directory
        "s3://./emulator/featurestore.db",
        "s3://bucket/../../featurestore.db",
        "s3://bucket/a/./b",
        "s3://bucket/a//b",
        "s3://bucket/",
        "s3://ab/key",  # shorter than 3
        "s3://" + "b" * 64 + "/key",
        "s3://Bucket/key",
        "s3://my_bucket/key",
        "s3://-bucket/key",
        "s3://bucket-/key",
        "s3://my..bucket/key",
        "s3://192.168.5.4/key",
        "s3://xn--bucket/key",
        "s3://sthree-bucket/key",
        "s3://amzn-s3-demo-bucket/key",
        "s3://bucket-s3alias/key",
        "s3://bucket--ol-s3/key",
        "s3://bucket.mrap/key",
        "s3://bucket--x-s3/key",
        "s3://bucket/" + "k" * 1025,
        "s3://bucket/a\x00b",
        "https://bucket.s3.amazonaws.com/key",
        "file:///etc/passwd",
    ],
)
def test_uris_breaking_s3_rules_or_leaving_the_bucket_are_validation_errors(tmp_path: Path, uri: str) -> None:
    with pytest.raises(ValidationException):
        object_path(tmp_path, uri)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("uri", "relative"),
    [
        ("s3://fraudkit-offline-store/models/m/model.tar.gz", "fraudkit-offline-store/models/m/model.tar.gz"),
        ("s3://my.bucket-1/prefix/", "my.bucket-1/prefix"),
        ("s3://abc/" + "k" * 1024, "abc/" + "k" * 1024),
        ("s3://abc/..data/x..", "abc/..data/x.."),  # dots inside a segment are ordinary characters
    ],
)
def test_valid_uris_map_into_their_bucket(tmp_path: Path, uri: str, relative: str) -> None:
    assert object_path(tmp_path, uri) == (tmp_path / "s3" / relative).resolve()


def test_a_link_out_of_the_bucket_is_refused(tmp_path: Path) -> None:
    (tmp_path / "s3" / "bucket").mkdir(parents=True)
    (tmp_path / "s3" / "bucket" / "out").symlink_to(tmp_path)
    with pytest.raises(ValidationException, match="leaves its bucket"):
        object_path(tmp_path, "s3://bucket/out/featurestore.db")
