"""The backends the kit runs on, registered by name; `Settings.provider` builds the chosen one.

Each name maps to the dotted path of its class, imported on first use: the aws backend pulls in the
MSK signer and the CloudFormation glue, which a local run never needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from fraudkit.backends.base import Backend, BackendNotReady

if TYPE_CHECKING:
    from fraudkit.config import Settings

BACKEND_CLASS_FOR_NAME: dict[str, str] = {
    "local": "fraudkit.backends.local.LocalBackend",
    "aws": "fraudkit.backends.aws.AwsBackend",
}


def backend_class(name: str) -> type[Backend]:
    """The class registered as `name`; ValueError for a name that is not registered."""
    if name not in BACKEND_CLASS_FOR_NAME:
        raise ValueError(f"backend {name!r} is not one of {tuple(BACKEND_CLASS_FOR_NAME)}")
    module, _, attribute = BACKEND_CLASS_FOR_NAME[name].rpartition(".")
    found = getattr(importlib.import_module(module), attribute)
    if not (isinstance(found, type) and issubclass(found, Backend)):
        raise TypeError(f"{BACKEND_CLASS_FOR_NAME[name]} is not a Backend")
    return found


def make_backend(settings: Settings) -> Backend:
    """The backend `settings.backend` names, for these settings."""
    return backend_class(settings.backend)(settings)


__all__ = ["BACKEND_CLASS_FOR_NAME", "Backend", "BackendNotReady", "backend_class", "make_backend"]
