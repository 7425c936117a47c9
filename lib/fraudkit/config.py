"""One settings object for every notebook, CLI and test.

Values come, in increasing priority, from the defaults below, the environment (`FRAUDKIT_*`), and
explicit keyword arguments (papermill parameters, CLI flags). The backend choice (`local` or `aws`)
is a name here; `Settings.provider` is the backend object (`fraudkit.backends`) that carries every
difference between the two, so the rest of the kit is shared.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from fraudkit.backends import Backend

BackendName = Literal["local", "aws"]  # the names registered in fraudkit.backends
ScaleName = Literal["tiny", "small", "full"]
KAFKA_SECURITY_PROTOCOLS = ("SASL_SSL", "PLAINTEXT")  # MSK with IAM auth; a plaintext stand-in broker

LOCAL_ACCOUNT_ID = "000000000000"
DEFAULT_EMULATOR_PORT = 4580
# botocore's per-service endpoint variables; the emulator answers all three on one port.
ENDPOINT_ENV_VARS = (
    "AWS_ENDPOINT_URL_SAGEMAKER",
    "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME",
    "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
)


@dataclass(frozen=True)
class Scale:
    """Sizes of the generated data sets for one preset."""

    card_transactions: int
    cards: int
    customers: int
    terminals: int
    days: int


SCALES: dict[str, Scale] = {
    # seconds: CI and the committed nbval outputs
    "tiny": Scale(card_transactions=50_000, cards=500, customers=100, terminals=200, days=60),
    # the default workshop: a few minutes end to end
    "small": Scale(card_transactions=500_000, cards=2_000, customers=1_000, terminals=2_000, days=92),
    # the reference designs' sizes
    "full": Scale(card_transactions=5_400_000, cards=10_000, customers=5_000, terminals=10_000, days=183),
}


def read_service_record(path: Path) -> dict[str, Any] | None:
    """The JSON record a running local service writes (pid, port, url); None when absent or unreadable."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


ServiceName = Literal["emulator", "broker"]
# each service's files are `<state_dir>/<service>/<stem>.json` (its record) and `<stem>.log`
_SERVICE_FILE_STEMS: dict[ServiceName, str] = {"emulator": "server", "broker": "broker"}


@dataclass(frozen=True)
class ServiceFiles:
    """Where one background service keeps its state, record and log: the one rule for these paths.

    The record (JSON: pid, port, the process's identity ...) exists while the service runs; Settings
    reads it to find the service, `fraudkit.background` to check and stop it.
    """

    service: ServiceName
    directory: Path
    record: Path
    log: Path


def service_files(state_dir: Path, service: ServiceName) -> ServiceFiles:
    directory = Path(state_dir) / service
    stem = _SERVICE_FILE_STEMS[service]
    return ServiceFiles(service, directory, directory / f"{stem}.json", directory / f"{stem}.log")


def settings_arguments() -> argparse.ArgumentParser:
    """The options every kit command shares, named like the notebooks' papermill parameters."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--backend", choices=get_args(BackendName), help="default: FRAUDKIT_BACKEND or local")
    common.add_argument("--scale", choices=list(SCALES), help="data size preset (default: FRAUDKIT_SCALE or small)")
    common.add_argument("--seed", type=int, help="random seed (default: FRAUDKIT_SEED or 42)")
    common.add_argument("--state-dir", type=Path, help="local state directory (default: FRAUDKIT_STATE_DIR or .fraudkit)")
    common.add_argument("--quiet", action="store_true", help="no progress bars")
    return common


class SettingsError(ValueError):
    """A setting has a value the kit cannot use; the message names the setting and the fix."""


def _coerce(name: str, raw: str, kind: type) -> Any:
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"FRAUDKIT_{name.upper()}={raw!r} is not an integer") from None
    if kind is Path:
        return Path(raw)
    return raw


@dataclass(frozen=True)
class Settings:
    """Every name the workshop uses, in one place."""

    backend: BackendName = "local"
    scale: ScaleName = "small"
    seed: int = 42
    state_dir: Path = Path(".fraudkit")
    region: str = "us-east-1"
    # feature groups of the reference design: 10-minute aggregates (streaming) and 1-week (batch)
    online_feature_group: str = "cc-agg-fg"
    batch_feature_group: str = "cc-agg-batch-fg"
    transactions_topic: str = "transactions"
    features_topic: str = "features"
    decisions_topic: str = "decisions"
    dead_letter_topic: str = "dead-letter"
    model_name: str = "fraudkit-xgb"
    endpoint_name: str = "fraudkit-xgb-endpoint"
    # Kafka bootstrap servers; "" = the kit's own broker (local) or the stack's MSK cluster (aws)
    bootstrap_servers: str = ""
    # local backend: the emulator's port and the bucket name its offline store and artifacts use
    emulator_port: int = DEFAULT_EMULATOR_PORT
    offline_store_bucket: str = "fraudkit-offline-store"
    # aws backend: the CloudFormation stack whose outputs name the bucket, role and cluster, and the
    # cluster itself for processes that read no stack (the Lambda functions: FRAUDKIT_MSK_CLUSTER_ARN)
    stack_name: str = "fraudkit"
    msk_cluster_arn: str = ""
    # aws backend: how Kafka clients reach the brokers. MSK takes IAM over TLS (SASL_SSL) only; PLAINTEXT is
    # for a stand-in broker on loopback (the local account of `fraudkit.aws.local_account`), never for MSK
    kafka_security_protocol: str = "SASL_SSL"

    def __post_init__(self) -> None:
        if self.backend not in get_args(BackendName):
            raise SettingsError(f"backend={self.backend!r} is not one of {get_args(BackendName)}")
        if self.scale not in SCALES:
            raise SettingsError(f"scale={self.scale!r} is not one of {tuple(SCALES)}")
        if self.seed < 0:
            raise SettingsError(f"seed={self.seed} must be >= 0")
        if self.kafka_security_protocol not in KAFKA_SECURITY_PROTOCOLS:
            raise SettingsError(
                f"kafka_security_protocol={self.kafka_security_protocol!r} is not one of {KAFKA_SECURITY_PROTOCOLS}"
            )

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Defaults, then `FRAUDKIT_<NAME>` environment variables, then explicit overrides.

        An override of None means "not given" so papermill parameters can default to None.
        """
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = os.environ.get(f"FRAUDKIT_{f.name.upper()}")
            if raw not in (None, ""):
                kind = {"seed": int, "emulator_port": int, "state_dir": Path}.get(f.name, str)
                values[f.name] = _coerce(f.name, raw, kind)
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "state_dir" in values:
            values["state_dir"] = Path(values["state_dir"])
        return cls(**values)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        """Settings from the options of `settings_arguments()`."""
        return cls.load(backend=args.backend, scale=args.scale, seed=args.seed, state_dir=args.state_dir)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def sizes(self) -> Scale:
        return SCALES[self.scale]

    @cached_property
    def provider(self) -> Backend:
        """The backend object `backend` names, built on first use and kept with these settings (a frozen
        dataclass keeps cached properties in its `__dict__`; `replace` starts a new one)."""
        from fraudkit.backends import make_backend

        return make_backend(self)

    # -- where local state lives (all under state_dir, never in tracked files) --
    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data" / self.scale

    @property
    def model_dir(self) -> Path:
        return self.state_dir / "models" / self.scale

    @property
    def emulator_dir(self) -> Path:
        return service_files(self.state_dir, "emulator").directory

    @property
    def broker_dir(self) -> Path:
        return service_files(self.state_dir, "broker").directory

    @property
    def emulator_url(self) -> str:
        """FRAUDKIT_EMULATOR_URL, else the running server recorded in state_dir, else the default port."""
        if url := os.environ.get("FRAUDKIT_EMULATOR_URL"):
            return url
        running = read_service_record(service_files(self.state_dir, "emulator").record)
        if running and "url" in running:
            return str(running["url"])
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def kafka_bootstrap_servers(self) -> str:
        """The Kafka bootstrap servers of the backend (comma-separated)."""
        return self.provider.bootstrap_servers

    def endpoint_env(self) -> dict[str, str]:
        """The environment a plain boto3/AWS CLI process needs to reach the backend's services."""
        return self.provider.endpoint_env()

    def client(self, service: str) -> Any:
        """A boto3 client for `service` on the backend (pointed at the emulator on `local`)."""
        return self.provider.client(service)
