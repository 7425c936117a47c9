"""Transactions that test the real engines: window edges, peers and seeded random streams, many per run.

Windows are per key, so many independent cases fit in one frame when each case has its own keys: one
Spark session or one Flink job then checks them all (a JVM start costs 5-30 s). Times are whole
milliseconds (Flink's event-time precision).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from fraudkit.features import CARD_FEATURES, HANDBOOK_FEATURES, FeatureSet, compute_features
from hypothesis import strategies as st

from tests.unit.test_features_engines import card_frame, handbook_frame

BASE = dt.datetime(2024, 3, 4)  # a Monday; the cards' times are this in UTC
CARD_BASE = BASE.replace(tzinfo=dt.UTC)
MS = dt.timedelta(milliseconds=1)
MINUTE, DAY, WEEK = dt.timedelta(minutes=1), dt.timedelta(days=1), dt.timedelta(weeks=1)
MEAN_TOLERANCE = 1e-9

CardRow = tuple[str, dt.datetime, float]
HandbookRow = tuple[int, int, dt.datetime, float, int]


def card_number(n: int) -> str:
    return f"{4_000_000_000_000_000 + n:016d}"


def card_edges() -> list[CardRow]:
    """Peers, rows exactly one window apart (in) and one millisecond more (out), for both card windows."""
    a, b, c, d = (card_number(n) for n in range(4))
    return [
        (a, CARD_BASE, 10.0), (a, CARD_BASE, 30.0),  # peers
        (a, CARD_BASE + 10 * MINUTE, 50.0),  # sees both peers (exactly 10 min)
        (a, CARD_BASE + 10 * MINUTE + MS, 70.0),  # peers out of its 10 min, in its week
        (b, CARD_BASE, 99.0),  # same time, other card: not a peer
        (c, CARD_BASE, 1.0), (c, CARD_BASE + WEEK, 2.0), (c, CARD_BASE + WEEK + MS, 4.0), (c, CARD_BASE + WEEK + MS, 8.0),
        (d, CARD_BASE + 3 * MINUTE, 5.0), (d, CARD_BASE, 6.0),  # out of time order
    ]


def handbook_edges() -> list[HandbookRow]:
    """The customer windows' and the delayed terminal windows' edges, peers, weekend and night flags."""
    night = BASE.replace(hour=6, minute=59, second=59)
    return [
        (1, 11, BASE, 10.0, 1), (1, 11, BASE, 20.0, 0),  # peers for customer 1 and terminal 11
        (1, 11, BASE + DAY, 40.0, 0),  # exactly one day later: customer 1-day window holds all three
        (1, 11, BASE + 7 * DAY, 80.0, 1),  # exactly the delay later: terminal windows end at the peers
        (1, 11, BASE + 7 * DAY - MS, 1.0, 0),  # just short of the delay: the peers are not yet visible
        (1, 11, BASE + 8 * DAY, 3.0, 0),  # 1-day delayed window [t - 8 d, t - 7 d]: peers and BASE + 1 d
        (1, 11, BASE + 8 * DAY + MS, 5.0, 1),  # the peers just left its 1-day delayed window
        (2, 12, BASE + 30 * DAY, 7.0, 0), (2, 12, BASE, 9.0, 1), (2, 12, BASE + 37 * DAY, 2.0, 0),
        (3, 13, night, 4.0, 0), (3, 13, night + MS, 6.0, 0),  # hour 6 is night, hour 7 is not
        (4, 14, BASE - 2 * DAY, 8.0, 0), (4, 14, BASE - MS, 8.0, 1),  # Saturday 00:00, Sunday 23:59:59.999
    ]


def random_cards(seed: int, cards: int = 30) -> list[CardRow]:
    """Seeded bursts on a grid of minutes around both window widths, with millisecond nudges and ties."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in range(cards):
        minutes = rng.choice(np.r_[np.arange(0, 25), np.arange(10_080 - 12, 10_080 + 12)], size=rng.integers(1, 15))
        nudges = rng.choice([0, 0, 0, 1], size=len(minutes))
        for minute, nudge in zip(minutes, nudges, strict=True):
            moment = CARD_BASE + int(minute) * MINUTE + int(nudge) * MS
            rows.append((card_number(100 + n), moment, float(rng.integers(1, 1_000_000)) / 100))
    return rows


def random_handbook(seed: int, customers: int = 20) -> list[HandbookRow]:
    """Seeded streams on a half-day grid (the 1/7/30-day windows and the 7-day delay meet exactly)."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in range(customers):
        for _ in range(rng.integers(1, 15)):
            moment = BASE + dt.timedelta(hours=12 * int(rng.integers(0, 80))) + int(rng.choice([0, 0, 0, 1])) * MS
            terminal = 100 + 3 * n + int(rng.integers(0, 3))
            rows.append((100 + n, terminal, moment, float(rng.integers(1, 100_000)) / 100, int(rng.integers(0, 2))))
    return rows


def assert_same_features(got: pl.DataFrame, df: pl.DataFrame, feature_set: FeatureSet, engine: str) -> None:
    """`got` (the feature columns, rows in `df`'s order) equals polars: counts and flags exactly, the rest within 1e-9."""
    expected = compute_features(df, feature_set, "polars").select(feature_set.feature_names)
    assert got.columns == list(feature_set.feature_names)
    assert got.height == df.height
    exact = [a.name for a in feature_set.aggregates if a.function == "count"] + [f.name for f in feature_set.flags]
    for name in feature_set.feature_names:
        want, have = expected[name].to_list(), got[name].to_list()
        if name in exact:
            mismatches = [i for i, (w, h) in enumerate(zip(want, have, strict=True)) if w != h]
        else:
            mismatches = [i for i, (w, h) in enumerate(zip(want, have, strict=True)) if h is None or abs(w - h) > MEAN_TOLERANCE]
        assert not mismatches, f"{engine} {name}: rows {mismatches[:5]} {[have[i] for i in mismatches[:5]]} != {[want[i] for i in mismatches[:5]]}"


CARD_CASES = card_frame(card_edges() + random_cards(seed=7))
HANDBOOK_CASES = handbook_frame(handbook_edges() + random_handbook(seed=7))
TASKS = [(CARD_CASES, CARD_FEATURES), (HANDBOOK_CASES, HANDBOOK_FEATURES)]


def engine_input(df: pl.DataFrame, feature_set: FeatureSet) -> pl.DataFrame:
    """What `compute_features` hands an engine: the input columns, times in microseconds."""
    return df.select(feature_set.input_columns).with_columns(pl.col(feature_set.timestamp).dt.cast_time_unit("us"))


# a few cards, minutes around the 10-minute edge, millisecond nudges: ties and exact edges are common
_stream = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.builds(lambda m, nudge: CARD_BASE + m * MINUTE + nudge * MS, st.integers(0, 25), st.sampled_from([0, 0, 1])),
        st.integers(1, 100_000).map(lambda cents: cents / 100),
    ),
    min_size=1,
    max_size=40,
)
# many independent streams in one example (each on cards of its own): one engine run checks them all
card_streams = st.lists(_stream, min_size=8, max_size=8).map(
    lambda streams: [(card_number(10 * i + card), moment, amount)
                     for i, stream in enumerate(streams) for card, moment, amount in stream]
)


def check_compute_features(rows: list[CardRow], engine: str) -> None:
    """`compute_features` on `engine` (the CLI's path) keeps the input and equals polars."""
    df = card_frame(rows)
    out = compute_features(df, CARD_FEATURES, engine)
    assert out.select(df.columns).equals(df), "the input columns and row order are kept"
    assert out.schema["num_trans_last_10m"] == pl.Int64
    assert_same_features(out.select(CARD_FEATURES.feature_names), df, CARD_FEATURES, engine)
