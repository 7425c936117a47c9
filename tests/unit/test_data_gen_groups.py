"""The group helpers agree with a plain per-group loop."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from data_gen.groups import cumsum_within, ranks_within


@given(st.lists(st.lists(st.integers(-1000, 1000), min_size=1, max_size=8), max_size=20))
def test_ranks_and_running_sums_restart_per_group(groups: list[list[int]]) -> None:
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    values = np.array(list(itertools.chain.from_iterable(groups)), dtype=np.int64)
    assert ranks_within(sizes).tolist() == [i for g in groups for i in range(len(g))]
    if groups:
        assert cumsum_within(values, sizes).tolist() == [s for g in groups for s in itertools.accumulate(g)]
