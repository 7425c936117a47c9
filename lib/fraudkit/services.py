"""Start, reuse and stop the local services the workshop talks to: the AWS emulator and the Kafka broker.

Every notebook calls `prepare_backend` so it can run alone: on the local backend services already
running for the same state directory are reused, missing ones are started in the background; on the
`aws` backend the real services exist already and the stack is read instead. `python -m fraudkit.services up|down|status` is the
same thing for `make local-up` / `make local-down`.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from fraudkit.config import ServiceName, Settings


class Launcher(Protocol):
    """What the emulator and broker launcher modules provide (the shared contract)."""

    def start(self, state_dir: Path, port: int | None = None) -> dict[str, Any]: ...

    def stop(self, state_dir: Path) -> bool: ...

    def status(self, state_dir: Path) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class LocalService:
    """One background service: its name and the module that launches it (imported lazily)."""

    name: ServiceName
    module: str

    def launcher(self) -> Launcher:
        return cast(Launcher, importlib.import_module(self.module))


EMULATOR = LocalService("emulator", "fraudkit.emulator.launcher")
BROKER = LocalService("broker", "fraudkit.streaming.broker")
ALL_SERVICES = (EMULATOR, BROKER)


def ensure_service(service: LocalService, state_dir: Path) -> dict[str, Any]:
    """The running service's record (pid, port, ...) for `state_dir`, starting the service if needed."""
    launcher = service.launcher()
    return launcher.status(state_dir) or launcher.start(state_dir)


def ensure_local_services(settings: Settings, broker: bool = False) -> None:
    """Make sure the backend's local services serve `settings.state_dir` (the broker only when asked);
    a backend without local services (aws) starts nothing."""
    for service in settings.provider.local_services:
        if broker or service is not BROKER:
            ensure_service(service, settings.state_dir)


def start_detached(state_dir: Path) -> None:
    """Start the services through a short-lived `up` process, so the caller is not their parent.

    A long-lived parent (the workshop runner, pytest) never reaps a service that another process
    stops (notebook 99's kernel), and a launcher waiting for that zombie to exit waits out its whole
    stop timeout. Started from a child that exits at once, services are adopted and reaped by init.
    """
    command = [sys.executable, "-m", "fraudkit.services", "up", "--state-dir", str(state_dir)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"`{' '.join(command)}` exited with {proc.returncode}")


def prepare_backend(settings: Settings, broker: bool = True) -> Settings:
    """`settings`, with its backend ready: local services running (the broker when asked), or the
    AWS stack read, what it provides printed (region, stack, bucket, role, cluster) and, with
    `broker`, the MSK cluster's bootstrap brokers found.

    On aws this raises `fraudkit.backends.BackendNotReady` (`fraudkit.aws.StackNotReady`) naming what
    is missing (credentials, the stack, one of its outputs) so the first notebook stops with a
    message instead of failing later.
    """
    settings.provider.prepare(kafka=broker)
    return settings


def probe_services(settings: Settings) -> dict[str, str]:
    """Call each service the workshop uses once (SageMaker API, Kafka); raises if one does not answer."""
    from kafka import KafkaAdminClient

    from fraudkit.streaming.kafka_clients import client_config

    settings.client("sagemaker").list_feature_groups(MaxResults=1)
    admin = KafkaAdminClient(**client_config(settings), client_id="fraudkit-probe")
    try:
        admin.list_topics()
    finally:
        admin.close()
    return {"sagemaker": "ok", "kafka": "ok"}


def running_services(state_dir: Path) -> dict[str, dict[str, Any]]:
    """The records of the local services currently running for `state_dir`, by service name."""
    found: dict[str, dict[str, Any]] = {}
    for service in ALL_SERVICES:
        record = service.launcher().status(state_dir)
        if record:
            found[service.name] = record
    return found


def stop_local_services(state_dir: Path, only: tuple[LocalService, ...] = ALL_SERVICES) -> list[str]:
    """Stop the given services for `state_dir`; returns the names of those that were running."""
    return [service.name for service in only if service.launcher().stop(state_dir)]


def remove_local_state(settings: Settings) -> list[str]:
    """Stop the local services and delete `settings.state_dir` (data, models, emulator and broker state).

    Returns the names of the services that were stopped. A no-op on aws, where nothing lives locally
    except what the aws teardown removes.
    """
    return settings.provider.remove_local_state()


def _describe(name: str, record: dict[str, Any]) -> str:
    where = record.get("url") or record.get("bootstrap_servers") or f"port {record.get('port')}"
    return f"{name}: running at {where} (pid {record.get('pid')})"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fraudkit.services",
        description="Start, stop or inspect the local AWS emulator and Kafka broker used by the workshop.",
    )
    parser.add_argument("command", choices=("up", "down", "status"), help="up: start both; down: stop both")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the services keep their state (default: FRAUDKIT_STATE_DIR or .fraudkit)",
    )
    parser.add_argument("--no-broker", action="store_true", help="with `up`: start only the emulator")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    settings = Settings.load(backend="local", state_dir=args.state_dir)
    state_dir = settings.state_dir.resolve()
    try:
        if args.command == "up":
            ensure_local_services(settings.replace(state_dir=state_dir), broker=not args.no_broker)
        elif args.command == "down":
            stopped = stop_local_services(state_dir)
            print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
            return 0
    except (OSError, RuntimeError, TimeoutError) as error:
        print(f"fraudkit.services {args.command}: {error}", file=sys.stderr)
        return 1
    records = running_services(state_dir)
    for service in ALL_SERVICES:
        record = records.get(service.name)
        print(_describe(service.name, record) if record else f"{service.name}: not running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
