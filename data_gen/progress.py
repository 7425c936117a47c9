"""A progress bar over the stages of one generator run.

The generators are vectorised, so progress is reported per stage (draw, inject, sort, write), not per row.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

Advance = Callable[[str], None]


def no_progress(stage: str) -> None:
    """The silent default for library calls."""


@contextmanager
def stage_bar(description: str, stages: int, enabled: bool) -> Iterator[Advance]:
    """Yield `advance(stage_name)`; the bar goes to stderr and only when `enabled` and stderr is a TTY."""
    bar = tqdm(
        total=stages, desc=description, unit="stage", file=sys.stderr, leave=False,
        disable=not (enabled and sys.stderr.isatty()),
    )

    def advance(stage: str) -> None:
        bar.set_postfix_str(f"{stage} done")
        bar.update(1)

    try:
        yield advance
    finally:
        bar.close()
