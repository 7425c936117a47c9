"""The backends the kit runs on, registered by name; `Settings.provider` builds the chosen one.

Each name maps to a loader that imports its class on first use (the aws backend pulls in the MSK
signer and the CloudFormation glue, which a local run never needs) with an import statement rather
than a dotted path, so that static import tracing (the Lambda packager) finds both backends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fraudkit.backends.base import Backend, BackendNotReady

if TYPE_CHECKING:
    from fraudkit.config import Settings


def _local() -> type[Backend]:
    from fraudkit.backends.local import LocalBackend

    return LocalBackend


def _aws() -> type[Backend]:
    from fraudkit.backends.aws import AwsBackend

    return AwsBackend


BACKEND_CLASS_FOR_NAME: dict[str, Callable[[], type[Backend]]] = {"local": _local, "aws": _aws}


def backend_class(name: str) -> type[Backend]:
    """The class registered as `name`; ValueError for a name that is not registered."""
    if name not in BACKEND_CLASS_FOR_NAME:
        raise ValueError(f"backend {name!r} is not one of {tuple(BACKEND_CLASS_FOR_NAME)}")
    return BACKEND_CLASS_FOR_NAME[name]()


def make_backend(settings: Settings) -> Backend:
    """The backend `settings.backend` names, for these settings."""
    return backend_class(settings.backend)(settings)


__all__ = ["BACKEND_CLASS_FOR_NAME", "Backend", "BackendNotReady", "backend_class", "make_backend"]
