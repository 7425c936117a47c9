"""The backend registry: every name Settings accepts has a class, built once per settings object."""

from __future__ import annotations

from typing import get_args

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
