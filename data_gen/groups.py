"""Array helpers over consecutive groups (a flat array cut into runs of given sizes), used instead of
per-group Python loops by both generators."""

from __future__ import annotations

import numpy as np


def ranks_within(group_sizes: np.ndarray) -> np.ndarray:
    """0, 1, ..., size-1 for each consecutive group."""
    ends = np.cumsum(group_sizes)
    return np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(ends - group_sizes, group_sizes)


def cumsum_within(values: np.ndarray, group_sizes: np.ndarray) -> np.ndarray:
    """Running sum of `values` restarting at each consecutive group (every group non-empty)."""
    running = np.cumsum(values)
    firsts = np.cumsum(group_sizes) - group_sizes
    return running - np.repeat(running[firsts] - values[firsts], group_sizes)
