"""The seam between the emulator's wire layer and the services it emulates.

Each emulated service (feature store, models and endpoints) registers one handler per botocore
operation with `@operation(service, name)`. A handler takes the request parameters already parsed
and validated against botocore's input shape and returns a dict shaped like the output shape; the
wire layer serialises it. Errors are raised as the classes of `fraudkit.emulator.exceptions`.
Service state lives in a backend object created once per server by a registered factory; the S3
objects they read and write go through the server's one `ObjectStore` (`fraudkit.emulator.objects`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fraudkit.emulator.objects import ObjectStore, open_objects

Handler = Callable[["RequestContext", dict[str, Any]], dict[str, Any]]
BackendFactory = Callable[["EmulatorState"], Any]
T = TypeVar("T")

_HANDLERS: dict[tuple[str, str], Handler] = {}
_BACKEND_FACTORIES: dict[str, BackendFactory] = {}


def operation(service: str, name: str) -> Callable[[Handler], Handler]:
    """Register `handler` for botocore operation `name` of `service` (e.g. "sagemaker", "CreateModel")."""

    def register(handler: Handler) -> Handler:
        key = (service, name)
        if key in _HANDLERS:
            raise RuntimeError(f"two handlers registered for {service}.{name}")
        _HANDLERS[key] = handler
        return handler

    return register


def handler_for(service: str, name: str) -> Handler | None:
    return _HANDLERS.get((service, name))


def registered_operations() -> list[tuple[str, str]]:
    return sorted(_HANDLERS)


def backend(name: str) -> Callable[[BackendFactory], BackendFactory]:
    """Register the factory of a service's state object (called once per server, lazily)."""

    def register(factory: BackendFactory) -> BackendFactory:
        _BACKEND_FACTORIES[name] = factory
        return factory

    return register


@dataclass
class EmulatorState:
    """Everything one server process holds: where state lives and the service backends."""

    state_dir: Path
    region: str = "us-east-1"
    account_id: str = "000000000000"
    s3_endpoint: str | None = None  # None: S3 objects are files under emulator_dir (the local backend)
    objects: ObjectStore = field(init=False, repr=False)
    _backends: dict[str, Any] = field(default_factory=dict)
    # re-entrant: a backend's factory may ask for another backend
    _backends_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        self.objects = open_objects(self.emulator_dir, self.s3_endpoint, self.region)

    @property
    def emulator_dir(self) -> Path:
        """The emulator's own directory: the server may be given the kit's state dir or its `emulator/` dir."""
        return self.state_dir if self.state_dir.name == "emulator" else self.state_dir / "emulator"

    def backend(self, name: str, kind: type[T] | None = None) -> Any:
        """The service's state object, created by the first request that needs it (one per server,
        however many requests race for it: a second one would hold writes nobody sees again)."""
        found = self._backends.get(name)
        if found is not None:
            return found
        with self._backends_lock:
            if name not in self._backends:
                if name not in _BACKEND_FACTORIES:
                    raise RuntimeError(f"no backend registered under {name!r}")
                self._backends[name] = _BACKEND_FACTORIES[name](self)
            return self._backends[name]

    def problems(self) -> list[str]:
        """What keeps the services from answering, for the health endpoint: every registered backend
        is opened (a corrupt state file fails there) and asked for its own `problems()`."""
        found = []
        for name in sorted(_BACKEND_FACTORIES):
            try:
                check = getattr(self.backend(name), "problems", None)
                found += [f"{name}: {problem}" for problem in (check() if callable(check) else [])]
            except Exception as err:
                found.append(
                    f"{name}: the state under {self.state_dir} is unusable ({type(err).__name__}: {err})"
                )
        return found

    def warm(self) -> None:
        """Open every backend that can be opened (the health probe reports the others) and let each warm
        what its first requests would otherwise pay for (its `warm()`, where it has one)."""
        self.problems()
        for opened in list(self._backends.values()):
            warm = getattr(opened, "warm", None)
            if callable(warm):
                warm()

    def close(self) -> None:
        for obj in self._backends.values():
            close = getattr(obj, "close", None)
            if callable(close):
                close()
        self._backends.clear()


@dataclass
class RequestContext:
    """What a handler may need besides its parameters."""

    service: str
    operation: str
    state: EmulatorState
    request_id: str = ""
