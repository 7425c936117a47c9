"""The emulator's errors: one class per AWS error code, with the HTTP status each API plane answers.

Two planes answer differently for the same error: the `sagemaker` control plane speaks JSON 1.1
(every client error is 400 and validation errors are `ValidationException`), while the runtimes
(`sagemaker-featurestore-runtime`, `sagemaker-runtime`) speak REST-JSON with the statuses their
models' error shapes declare (ResourceNotFound 404, ConflictException 409, ModelError 424) and name
validation errors `ValidationError`. A handler raises the class; `code_on`/`status_on` give the
wire layer what to answer on the plane of the request, so no handler spells a plane's names.
"""

from __future__ import annotations

from typing import Any, ClassVar

JSON_PLANE = "json"  # botocore protocol names: the plane is the service model's protocol
REST_PLANE = "rest-json"


class AwsError(Exception):
    """An error answered the way AWS answers it. `status` holds on every plane unless `statuses`
    names another one for a plane; `codes` renames the code on a plane."""

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 500
    statuses: ClassVar[dict[str, int]] = {}
    codes: ClassVar[dict[str, str]] = {}

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @classmethod
    def code_on(cls, protocol: str) -> str:
        return cls.codes.get(protocol, cls.code)

    @classmethod
    def status_on(cls, protocol: str) -> int:
        return cls.statuses.get(protocol, cls.status)

    def fields(self) -> dict[str, Any]:
        """Members of the error shape besides the message (ModelError's original status, ...)."""
        return {}


class InternalFailure(AwsError):
    """A bug of the emulator, never bad input."""


class ValidationException(AwsError):
    code = "ValidationException"
    status = 400
    codes: ClassVar[dict[str, str]] = {REST_PLANE: "ValidationError"}


class SerializationException(AwsError):
    """The request body is not what the protocol allows (garbage JSON, wrong JSON types)."""

    code = "SerializationException"
    status = 400


class UnknownOperationException(AwsError):
    code = "UnknownOperationException"
    status = 400


class NoSuchRoute(UnknownOperationException):
    """A REST path no operation of any method has."""

    status = 404


class MethodNotAllowed(UnknownOperationException):
    """A REST path that belongs to another HTTP method."""

    status = 405


class ResourceNotFound(AwsError):
    code = "ResourceNotFound"
    status = 400
    statuses: ClassVar[dict[str, int]] = {REST_PLANE: 404}


class ResourceInUse(AwsError):
    code = "ResourceInUse"
    status = 400


class ResourceLimitExceeded(AwsError):
    code = "ResourceLimitExceeded"
    status = 400


class ConflictException(AwsError):
    code = "ConflictException"
    status = 400
    statuses: ClassVar[dict[str, int]] = {REST_PLANE: 409}


class AccessForbidden(AwsError):
    """Refused before routing (e.g. a Host that is not a loopback name)."""

    code = "AccessForbidden"
    status = 403


class ModelError(AwsError):
    """The model container answered an InvokeEndpoint with an error (sagemaker-runtime, HTTP 424)."""

    code = "ModelError"
    status = 424

    def __init__(
        self, message: str, original_status: int, original_message: str, log_stream_arn: str
    ) -> None:
        super().__init__(message)
        self.original_status = original_status
        self.original_message = original_message
        self.log_stream_arn = log_stream_arn

    def fields(self) -> dict[str, Any]:
        return {
            "OriginalStatusCode": self.original_status,
            "OriginalMessage": self.original_message,
            "LogStreamArn": self.log_stream_arn,
        }
