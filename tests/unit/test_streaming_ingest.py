"""The aggregate writer: calls return at once, writes merge what queued, a wait sees its messages written."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fraudkit.config import Settings
from fraudkit.streaming.ingest import AggregateWriteError, AggregateWriter


class RecordingWriter(AggregateWriter):
    """The writer with its feature-store write replaced by a record of what it would write."""

    def __init__(self, fail_on: frozenset[int] | set[int] = frozenset()) -> None:
        super().__init__(Settings.load(backend="local"))
        self.writes: list[list[dict[str, Any]]] = []
        self.attempts = 0
        self.fail_on = fail_on
        self.release = threading.Event()
        self.release.set()

    def _write(self, messages: list[dict[str, Any]]) -> None:
        self.release.wait(5)
        self.attempts += 1
        if self.attempts - 1 in self.fail_on:
            raise OSError("emulator unreachable")
        self.writes.append(messages)


def batch(start: int, size: int = 3) -> list[dict[str, Any]]:
    return [{"cc_num": f"{n:016d}"} for n in range(start, start + size)]


def test_batches_queued_during_a_write_are_merged_into_the_next() -> None:
    writer = RecordingWriter()
    writer.release.clear()  # hold the first write while more batches queue
    writer(batch(0))
    waits = [writer(batch(start)) for start in (3, 6, 9)]
    writer.release.set()
    waits[-1]()
    assert [m for write in writer.writes for m in write] == batch(0, 12), "every message once, in order"
    assert len(writer.writes) <= 2
    for wait in waits:
        wait()  # already written: returns at once


def test_a_failed_write_fails_the_waits_of_its_calls_only() -> None:
    writer = RecordingWriter(fail_on={1})
    writer(batch(0))()
    with pytest.raises(AggregateWriteError, match="emulator unreachable"):
        writer(batch(3))()
    writer(batch(6))()  # a later write succeeds (a warm Lambda container keeps working)
    assert writer.writes == [batch(0), batch(6)]


def test_a_call_without_messages_has_nothing_to_wait_for() -> None:
    writer = RecordingWriter()
    writer([])()  # returns at once (an ingest invocation whose records were all malformed)
    assert writer.writes == []
