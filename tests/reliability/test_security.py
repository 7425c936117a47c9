"""Security checks of the kit itself: services reachable from this machine only, no secrets in the repo."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from fraudkit.config import Settings
from fraudkit.services import ensure_local_services, probe_services, running_services, stop_local_services

REPO = Path(__file__).resolve().parents[2]
# Notebooks keep their plots as base64 PNG outputs (the PNG signature encodes as `iVBORw0KGgo`); the
# entropy plugins read those as secrets. Only such output lines are skipped; every other line is scanned.
NOTEBOOK_PNG_OUTPUT = r'^\s*"image/png": "iVBORw0KGgo'
# Reports name the commits and the data they ran on by hash (git's 40 hex digits, SHA-256's 64): digests
# of public content, which the hex-entropy plugin cannot tell from a key. Only JSON fields holding one
# such hash under a name that says so are skipped.
NAMED_HASH = r'^\s*"[a-z_]*(commit|sha256|sha1|hash)": "[0-9a-f]{40}([0-9a-f]{24})?",?$'


def listeners(pid: int) -> list[tuple[str, int]]:
    """The (address, port) every socket of `pid` and its descendants accepts on: TCP listeners, bound UDP."""
    found = []
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        for conn in process.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN or (conn.type == socket.SOCK_DGRAM and not conn.raddr):
                found.append((conn.laddr.ip, conn.laddr.port))
    return found


def loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """Both services started as the workshop starts them, and used once (a listener may open lazily)."""
    settings = Settings.load(
        backend="local", scale="tiny", state_dir=tmp_path_factory.mktemp("security") / ".fraudkit"
    )
    try:
        ensure_local_services(settings, broker=True)
        probe_services(settings)
        yield {name: int(record["pid"]) for name, record in running_services(settings.state_dir).items()}
    finally:
        stop_local_services(settings.state_dir)


@pytest.mark.integration
def test_every_listening_socket_of_the_services_is_on_loopback(services: dict[str, int]) -> None:
    assert set(services) == {"emulator", "broker"}
    for name, pid in services.items():
        sockets = listeners(pid)
        assert sockets, f"no listening socket found for the {name} (pid {pid}): the check saw nothing"
        exposed = [s for s in sockets if not loopback(s[0])]
        assert not exposed, f"the {name} listens beyond this machine: {exposed}"


def test_the_listener_check_sees_a_socket_open_to_the_network() -> None:
    """The check above is not vacuous: a wildcard listener of a child process is seen and is not loopback."""
    code = "import socket, time; s = socket.socket(); s.bind(('0.0.0.0', 0)); s.listen(); print('up', flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"up\n"
        ((address, port),) = listeners(child.pid)
        assert address == "0.0.0.0" and port > 0 and not loopback(address)
    finally:
        child.kill()
        child.wait()
    assert loopback("127.0.0.1") and loopback("::1") and loopback("::ffff:127.0.0.1") and not loopback("::")


def detect_secrets(*args: str, cwd: Path = REPO) -> dict[str, list[dict[str, object]]]:
    """The scanner pinned in requirements.txt; without paths it scans the files git tracks under `cwd`."""
    scan = [sys.executable, "-m", "detect_secrets", "scan", "--exclude-lines", NOTEBOOK_PNG_OUTPUT,
            "--exclude-lines", NAMED_HASH, *args]
    done = subprocess.run(scan, cwd=cwd, capture_output=True, text=True, timeout=300, check=True)
    results: dict[str, list[dict[str, object]]] = json.loads(done.stdout)["results"]
    return results


@pytest.mark.slow
def test_no_secrets_in_tracked_files() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(tracked) > 100, "the scan would check nothing"
    findings = {
        path: [(f["type"], f["line_number"]) for f in found] for path, found in detect_secrets().items()
    }
    assert findings == {}


def test_the_secrets_scanner_finds_a_planted_key(tmp_path: Path) -> None:
    """The scan above is not vacuous: the same scanner and exclusions flag an access key."""
    planted = tmp_path / "settings.py"
    planted.write_text("aws_access_key_id = '" + "AKIA" + "Q3EXAMPLE7KEYQ4Z" + "'\n")
    found = detect_secrets(planted.name, cwd=tmp_path)
    assert [f["type"] for f in found[planted.name]] == ["AWS Access Key"]


def test_only_hashes_named_as_hashes_are_skipped(tmp_path: Path) -> None:
    """The hash exclusion is narrow: the same hex string under another name is still a finding."""
    digest = hashlib.sha256(b"fraudkit").hexdigest()
    report = tmp_path / "report.json"
    report.write_text(f'{{\n  "sha256": "{digest}",\n  "value": "{digest}"\n}}\n')
    found = detect_secrets(report.name, cwd=tmp_path)
    assert {f["line_number"] for f in found[report.name]} == {3}
