"""Where the emulator reads and writes S3 objects: its own files, or the S3 API of an endpoint.

SageMaker reads a model's `ModelDataUrl` and writes a feature group's offline store through S3. The
emulator does the same through one `ObjectStore`, chosen once when the server starts (`open_objects`):

- `LocalObjects` (the default, `backend=local`): files under `<emulator dir>/s3/<bucket>/<key>`,
  every URI through `fraudkit.emulator.s3.object_path`'s checks; the emulator's own durable store.
- `S3Objects` (`serve --s3-endpoint URL`): GetObject/PutObject against that endpoint with boto3 and
  the emulator's environment credentials, so in a local account (moto's S3) the notebooks, cleanup
  and `make destroy` see the objects a real account would hold.

Both refuse the same malformed URIs (`fraudkit.emulator.s3.split_uri`) with a ValidationException.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any

from fraudkit.emulator.exceptions import ValidationException
from fraudkit.emulator.s3 import object_path, split_uri

# S3 error codes that mean "no such object", whichever call met them (HeadObject has no body: "404")
MISSING_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket"})


class ObjectUnavailable(OSError):
    """An object that could not be read from S3 (missing, refused, or the endpoint unreachable)."""

    def __init__(self, uri: str, cause: str) -> None:
        super().__init__(f"{uri}: {cause}")
        self.uri = uri


class ObjectStore(abc.ABC):
    """The S3 calls the emulated services make, by `s3://bucket/key` URI."""

    location: str  # where the objects live, for the flush extension's answer

    @abc.abstractmethod
    def check(self, uri: str) -> None:
        """A ValidationException when `uri` cannot name an object (or prefix) of this store."""

    @abc.abstractmethod
    def check_model_data(self, uri: str) -> None:
        """What CreateModel checks of its ModelDataUrl before it stores the model."""

    @abc.abstractmethod
    def get(self, uri: str) -> bytes:
        """The object's bytes (an OSError when it cannot be read)."""

    @abc.abstractmethod
    def put(self, uri: str, body: bytes) -> None:
        """Store `body` as the object, whole or not at all."""


class LocalObjects(ObjectStore):
    """Objects as files under `<emulator_dir>/s3/`, the local backend's durable store."""

    def __init__(self, emulator_dir: Path) -> None:
        self.emulator_dir = emulator_dir
        self.location = str((emulator_dir / "s3").resolve())

    def check(self, uri: str) -> None:
        object_path(self.emulator_dir, uri)

    def check_model_data(self, uri: str) -> None:
        """The URI's shape only: the local kit may copy an artifact after CreateModel, and an endpoint
        whose artifact is missing fails when it activates."""
        self.check(uri)

    def get(self, uri: str) -> bytes:
        return object_path(self.emulator_dir, uri).read_bytes()

    def put(self, uri: str, body: bytes) -> None:
        """Written beside the target and renamed over it: a reader never sees half a file."""
        path = object_path(self.emulator_dir, uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.tmp"
        tmp.write_bytes(body)
        tmp.rename(path)


class S3Objects(ObjectStore):
    """Objects in the buckets of an S3 endpoint, read and written as SageMaker does in an account."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        # imported here: a local server never pays for boto3's import
        import boto3
        from botocore.config import Config

        self.location = endpoint_url
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            # path style: an endpoint on an IP address has no bucket subdomains; short timeouts and
            # few retries, as the offline flusher retries a failed write on its own schedule
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )

    def check(self, uri: str) -> None:
        split_uri(uri)

    def check_model_data(self, uri: str) -> None:
        """HeadObject, with the ValidationException SageMaker's CreateModel answers when it fails."""
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_uri(uri)
        try:
            self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in MISSING_CODES:
                raise ValidationException(f"Could not find model data at {uri}.") from None
            raise ValidationException(
                f"Could not access model data at {uri}. Please ensure that the role has "
                f'"s3:GetObject" permissions and that the object is located in the endpoint\'s region ({err}).'
            ) from None
        except BotoCoreError as err:
            raise ValidationException(f"Could not access model data at {uri} ({err}).") from None

    def get(self, uri: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_uri(uri)
        try:
            body: bytes = self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as err:
            raise ObjectUnavailable(uri, str(err)) from None
        return body

    def put(self, uri: str, body: bytes) -> None:
        bucket, key = split_uri(uri)
        self._client.put_object(Bucket=bucket, Key=key, Body=body)


def open_objects(emulator_dir: Path, s3_endpoint: str | None, region: str) -> ObjectStore:
    """The server's object store: the S3 API of `s3_endpoint` when one is given, else local files."""
    return S3Objects(s3_endpoint, region) if s3_endpoint else LocalObjects(emulator_dir)
