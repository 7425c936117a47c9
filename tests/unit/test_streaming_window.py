"""The stream aggregator's windows equal the batch features, one transaction at a time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from fraudkit.features import compute_card_features
from fraudkit.streaming.records import COUNT_FEATURE, MEAN_FEATURE, MalformedRecord, Transaction, to_micros
from fraudkit.streaming.window import CardWindows

WIDTH = 10 * 60 * 1_000_000
START = datetime(2026, 3, 1, tzinfo=UTC)


def random_transactions(seed: int, n: int = 600) -> pl.DataFrame:
    """Few cards, timestamps on a coarse grid so that peers (same card, same time) are common."""
    rng = random.Random(seed)
    cards = [f"{4000_0000_0000_0000 + i}" for i in range(6)]
    rows = [
        {
            "tid": f"t{i:05d}",
            "event_time": START + timedelta(seconds=30 * rng.randrange(0, 400)),
            "cc_num": rng.choice(cards),
            "amount": round(rng.uniform(1, 500), 2),
            "fraud_label": 0,
        }
        for i in range(n)
    ]
    frame = pl.DataFrame(rows).with_columns(
        pl.col("event_time").dt.cast_time_unit("us"), pl.col("fraud_label").cast(pl.Int8)
    )
    return frame.sort("event_time", "tid")


def stream(frame: pl.DataFrame, windows: CardWindows, arrival: list[int]) -> dict[str, tuple[int, float]]:
    """Feed rows in `arrival` order; the latest revision of each transaction's window value."""
    latest: dict[str, tuple[int, float]] = {}
    rows = frame.to_dicts()
    for index in arrival:
        row = rows[index]
        tx = Transaction(row["tid"], row["cc_num"], row["amount"], to_micros(row["event_time"]))
        for value in windows.add(tx):
            latest[value.tid] = (value.count, value.mean)
    return latest


def assert_equal_to_batch(frame: pl.DataFrame, latest: dict[str, tuple[int, float]]) -> None:
    batch = compute_card_features(frame)
    assert len(latest) == batch.height
    for row in batch.select("tid", COUNT_FEATURE, MEAN_FEATURE).iter_rows():
        count, mean = latest[row[0]]
        assert count == row[1], row[0]
        assert mean == pytest.approx(row[2], rel=1e-12), row[0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_in_order_stream_equals_batch_including_peers(seed: int) -> None:
    frame = random_transactions(seed)
    assert frame.select(pl.struct("cc_num", "event_time").is_duplicated().any()).item(), "the data has peers"
    latest = stream(frame, CardWindows(WIDTH, lateness_micros=0), list(range(frame.height)))
    assert_equal_to_batch(frame, latest)


@pytest.mark.parametrize("seed", [4, 5])
def test_out_of_order_within_lateness_equals_batch(seed: int) -> None:
    frame = random_transactions(seed)
    rng = random.Random(seed)
    # displace each arrival by up to 5 positions: at most a few minutes of event time out of order
    arrival = sorted(range(frame.height), key=lambda i: i + rng.uniform(0, 5))
    latest = stream(frame, CardWindows(WIDTH, lateness_micros=WIDTH), arrival)
    assert_equal_to_batch(frame, latest)


def test_first_emission_is_the_own_value_and_corrections_follow_for_peers() -> None:
    windows = CardWindows(WIDTH, lateness_micros=0)
    t = to_micros(START)
    first = windows.add(Transaction("a", "4000000000000001", 10.0, t))
    assert [(v.tid, v.count, v.revision) for v in first] == [("a", 1, 0)]
    second = windows.add(Transaction("b", "4000000000000001", 30.0, t))
    assert [(v.tid, v.count, v.mean, v.revision) for v in second] == [("b", 2, 20.0, 0), ("a", 2, 20.0, 1)]
    later = windows.add(Transaction("c", "4000000000000001", 50.0, t + WIDTH))
    assert [(v.tid, v.count, v.revision) for v in later] == [("c", 3, 0)], "both ends of the window are included"


def test_events_behind_the_watermark_and_duplicates_are_rejected() -> None:
    windows = CardWindows(WIDTH, lateness_micros=60_000_000)
    t = to_micros(START)
    windows.add(Transaction("a", "4000000000000001", 10.0, t))
    with pytest.raises(MalformedRecord, match="too late"):
        windows.add(Transaction("b", "4000000000000002", 10.0, t - 61_000_000))
    windows.add(Transaction("c", "4000000000000002", 10.0, t - 59_000_000))
    with pytest.raises(MalformedRecord, match="duplicate"):
        windows.add(Transaction("a", "4000000000000001", 10.0, t))


def test_snapshot_and_restore_continue_exactly() -> None:
    frame = random_transactions(7)
    half = frame.height // 2
    reference = stream(frame, CardWindows(WIDTH, 0), list(range(frame.height)))
    first = CardWindows(WIDTH, 0)
    resumed = stream(frame, first, list(range(half)))
    restored = CardWindows(WIDTH, 0)
    restored.restore(first.snapshot())
    resumed.update(stream(frame, restored, list(range(half, frame.height))))
    assert resumed == reference


def test_idle_cards_are_evicted_so_state_stays_bounded() -> None:
    windows = CardWindows(WIDTH, lateness_micros=0)
    t = to_micros(START)
    for i in range(50):
        windows.add(Transaction(f"old{i}", f"{4000_0000_0000_0000 + i}", 1.0, t))
    windows.add(Transaction("new", "4100000000000000", 1.0, t + 3 * WIDTH))
    assert set(windows.cards) == {"4100000000000000"}
