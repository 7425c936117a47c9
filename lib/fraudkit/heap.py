"""Keep the garbage collector's full passes short in long-running, latency-sensitive processes."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_long_lived_objects() -> None:
    """Move everything allocated so far out of the collector's reach.

    Call once a process has loaded what it keeps for its whole life (botocore's service models,
    clients, the replay's input). A full collection walks every tracked object, and after boto3 is
    loaded those are a few hundred thousand: each full pass then stalls the process for 100-170 ms,
    which shows up directly in a stream's tail latency.
    """
    gc.collect()
    gc.freeze()


@contextmanager
def long_lived_objects_frozen() -> Iterator[None]:
    """`freeze_long_lived_objects` for the duration of a block.

    Unfreezing on the way out lets interpreter shutdown free those objects again; without it,
    extension modules built with nanobind (duckdb) report every frozen object of theirs as a leak.
    """
    freeze_long_lived_objects()
    try:
        yield
    finally:
        gc.unfreeze()
