"""The emulator's process state: each service backend is created once, even when its first requests race."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fraudkit.emulator.core import EmulatorState, backend

CREATED: list[object] = []


@backend("test-slow-backend")
def _slow_backend(state: EmulatorState) -> object:
    time.sleep(0.05)  # long enough for every racing request to find no backend yet
    created = object()
    CREATED.append(created)
    return created


def test_concurrent_first_requests_share_one_backend(tmp_path: Path) -> None:
    state = EmulatorState(tmp_path)
    before = len(CREATED)  # other states (a health check's) may have made theirs
    start = threading.Barrier(8)
    seen: list[object] = []

    def first_request() -> None:
        start.wait()
        seen.append(state.backend("test-slow-backend"))

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(CREATED) == before + 1 and seen == [CREATED[-1]] * 8
