"""The backend registry: every name Settings accepts has a class, built once per settings object."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from fraudkit.backends import BACKEND_CLASS_FOR_NAME, Backend, backend_class
from fraudkit.backends.aws import AwsBackend
from fraudkit.backends.local import LocalBackend
from fraudkit.config import BackendName, Settings


def test_every_backend_name_is_registered_under_its_own_name() -> None:
    assert set(BACKEND_CLASS_FOR_NAME) == set(get_args(BackendName))
    for name in get_args(BackendName):
        assert issubclass(backend_class(name), Backend)
        assert backend_class(name).name == name
    assert (backend_class("local"), backend_class("aws")) == (LocalBackend, AwsBackend)


def test_an_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=r"'gcp' is not one of \('local', 'aws'\)"):
        backend_class("gcp")


def test_settings_build_their_backend_once_and_replace_builds_a_new_one() -> None:
    settings = Settings(backend="local")
    assert settings.provider is settings.provider
    assert settings.provider.settings is settings
    moved = settings.replace(backend="aws")
    assert isinstance(moved.provider, AwsBackend) and moved.provider.settings is moved
    assert settings == Settings(backend="local")  # the cached backend is not part of equality


def test_settings_stay_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.backend = "aws"  # type: ignore[misc]


def _authorization_sent(settings: Settings, service: str) -> str | None:
    """The Authorization header of one call by the backend's client for `service`, answered before it
    leaves the process (botocore takes a before-send handler's response as the server's)."""
    from botocore.awsrequest import AWSResponse

    client = settings.client(service)
    sent: dict[str, str | None] = {}

    runtime = service == "sagemaker-runtime"

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent["authorization"] = request.headers.get("Authorization")
        body, kind = (b"0.5", "text/csv") if runtime else (b"{}", "application/x-amz-json-1.1")
        return AWSResponse(request.url, 200, {"Content-Type": kind}, _Raw(body))

    client.meta.events.register("before-send", answer)
    if runtime:
        client.invoke_endpoint(EndpointName="e", ContentType="text/csv", Body=b"1,2")
    else:
        client.list_feature_groups()
    auth = sent["authorization"]
    return auth.decode() if isinstance(auth, bytes) else auth


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


@pytest.mark.parametrize("backend", ["local", "aws"])
def test_only_the_local_runtime_calls_go_unsigned(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-only")  # pragma: allowlist secret (not a key)
    settings = Settings.load(backend=backend)
    runtime = _authorization_sent(settings, "sagemaker-runtime")
    control = _authorization_sent(settings, "sagemaker")
    assert control is not None and control.startswith("AWS4-HMAC-SHA256")
    if backend == "local":  # the emulator checks no signature: the per-batch stream calls skip SigV4
        assert runtime is None
    else:
        assert runtime is not None and runtime.startswith("AWS4-HMAC-SHA256")
