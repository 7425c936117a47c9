"""The pandas reference: the plainest correct implementation, kept readable; also the benchmark baseline.

For each (key, window): sort by key and time, take pandas' time-based rolling sums per key, then give every
peer (same key and timestamp) the value of the last peer, whose row-wise window already holds them all.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
import polars as pl

from fraudkit.features.spec import EMPTY_WINDOW_MEAN, NIGHT_LAST_HOUR, FeatureSet, Window, divide

_ONE = "__one"


def _rolling_sums(ordered: pd.DataFrame, key: str, timestamp: str, columns: list[str], width: pd.Timedelta,
                  closed: Literal["both", "right"]) -> pd.DataFrame:
    """Per-row sums of `columns` over the key's rows in the `closed` time window of `width` ending at the row."""
    rolled = ordered.groupby(key, sort=False).rolling(width, on=timestamp, closed=closed)[columns].sum()
    # rolled is indexed by (key, time) in `ordered`'s row order: every peer takes the last peer's sums
    peers_last = rolled.groupby(level=[0, 1], sort=False).transform("last")
    return peers_last.set_axis(ordered.index)


def _window_sums(ordered: pd.DataFrame, key: str, timestamp: str, columns: list[str], window: Window) -> pd.DataFrame:
    """Sums over [t - delay - width, t - delay]: [t - delay - width, t] minus (t - delay, t]."""
    sums = _rolling_sums(ordered, key, timestamp, columns, pd.Timedelta(window.start_offset), "both")
    if window.delay:
        sums = sums - _rolling_sums(ordered, key, timestamp, columns, pd.Timedelta(window.delay), "right")
    return sums


def compute(df: pl.DataFrame, feature_set: FeatureSet) -> pl.DataFrame:
    """The feature columns of `feature_set` for `df`, in the input's row order."""
    rows = df.to_pandas()
    rows[_ONE] = 1
    features = pd.DataFrame(index=rows.index)
    for (key, window), members in feature_set.frames().items():
        ordered = rows.sort_values([key, feature_set.timestamp], kind="stable")
        values = [a.value for a in members if a.value is not None]
        sums = _window_sums(ordered, key, feature_set.timestamp, [_ONE, *values], window).reindex(rows.index)
        count = sums[_ONE].round().astype("int64")
        for aggregate in members:
            if aggregate.value is None:
                features[aggregate.name] = count
            else:
                features[aggregate.name] = (sums[aggregate.value] / count).where(count > 0, EMPTY_WINDOW_MEAN)
    operands = pd.concat([rows, features], axis=1)
    for ratio in feature_set.ratios:
        features[ratio.name] = divide(operands[ratio.numerator], operands[ratio.denominator])
    moment = rows[feature_set.timestamp].dt
    for flag in feature_set.flags:
        is_set = moment.dayofweek >= 5 if flag.kind == "weekend" else moment.hour <= NIGHT_LAST_HOUR
        features[flag.name] = is_set.astype("int8")
    return pl.from_pandas(features[list(feature_set.feature_names)])
