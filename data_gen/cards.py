"""Card-burst transactions of the SageMaker Feature Store + MSK reference design, vectorised.

The reference notebook (aws-samples amazon-sagemaker-feature-store-streaming-inference-msk-kda,
0_prepare_transactions_dataset) draws whole-second times uniformly over 2022-01-01..2022-06-01, puts each
transaction on a card picked uniformly among Faker Visa numbers, draws amounts from five buckets with fixed
shares, and then turns 0.25% of the transactions into fraud chains: a random transaction (the head) keeps its
card and time, and the next L-1 transactions in time order are taken over by that card, 30-120 s apart,
with fresh amounts that lean to the small buckets (the reference's per-chain bucket quota, kept here).

Where this differs from the reference, on purpose: it is one pass of numpy over arrays instead of Python
loops; transaction ids are unique by construction (a bijective 64-bit mix of the row number, shown as 32
hex digits like the reference's MD5) instead of hashes that can collide; every chain has 3-10
transactions (the reference can truncate the last one); amounts use the issue's bucket bounds exactly.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from data_gen.groups import cumsum_within, ranks_within
from data_gen.identities import unique_visa_numbers
from data_gen.progress import Advance, no_progress
from data_gen.validate import non_negative, positive

START = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2022, 6, 1, tzinfo=dt.UTC)
FRAUD_RATE = 0.0025
CHAIN_LENGTH_RANGE = (3, 10)  # transactions per attack chain, head included
CHAIN_GAP_SECONDS = (30, 120)  # between consecutive transactions of a chain, both ends included
STAGES = 5  # progress steps reported by generate()


@dataclass(frozen=True)
class AmountBucket:
    """One amount range of the reference's table, in whole cents, both ends included."""

    share: float
    low_cents: int
    high_cents: int


AMOUNT_BUCKETS = (
    AmountBucket(0.05, 1, 100),
    AmountBucket(0.075, 100, 1_100),
    AmountBucket(0.525, 1_000, 10_000),
    AmountBucket(0.25, 10_000, 100_000),
    AmountBucket(0.10, 100_000, 1_000_000),
)


def bucket_counts(total: int) -> np.ndarray:
    """Exact number of amounts per bucket (floor of the shares; the rounding rest goes to the largest share)."""
    counts = np.array([int(total * bucket.share) for bucket in AMOUNT_BUCKETS], dtype=np.int64)
    counts[int(np.argmax([bucket.share for bucket in AMOUNT_BUCKETS]))] += total - counts.sum()
    return counts


def chain_bucket_quota(followers: int) -> np.ndarray:
    """The reference's buckets for a chain's `followers` fresh amounts: ceil(share * n) per bucket, in bucket
    order, cut to n. Small chains therefore get the small buckets first."""
    quota = [i for i, bucket in enumerate(AMOUNT_BUCKETS) for _ in range(math.ceil(followers * bucket.share))]
    return np.array(quota[:followers], dtype=np.int64)


def _draw_cents(rng: np.random.Generator, bucket_ids: np.ndarray) -> np.ndarray:
    low = np.array([bucket.low_cents for bucket in AMOUNT_BUCKETS])[bucket_ids]
    high = np.array([bucket.high_cents for bucket in AMOUNT_BUCKETS])[bucket_ids]
    return low + rng.integers(0, high - low + 1)


def chain_lengths(rng: np.random.Generator, fraud_total: int) -> np.ndarray:
    """Chain lengths drawn uniformly from CHAIN_LENGTH_RANGE, then nudged so they add up to `fraud_total`.

    Fewer than the shortest chain's worth of fraud gives no chain at all.
    """
    shortest, longest = CHAIN_LENGTH_RANGE
    if fraud_total < shortest:
        return np.zeros(0, dtype=np.int64)
    draws = rng.integers(shortest, longest + 1, size=fraud_total // shortest + 1)
    lengths = draws[: int(np.searchsorted(np.cumsum(draws), fraud_total)) + 1].copy()
    if shortest * len(lengths) > fraud_total:  # too many chains to shrink into the total: grow one fewer
        lengths = lengths[:-1]
    excess = int(lengths.sum()) - fraud_total
    room = lengths - shortest if excess > 0 else longest - lengths
    order = rng.permutation(len(lengths))
    room_in_order = room[order]
    taken = np.clip(abs(excess) - (np.cumsum(room_in_order) - room_in_order), 0, room_in_order)
    lengths[order] -= np.sign(excess) * taken
    return lengths


def chain_starts(rng: np.random.Generator, lengths: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping start rows for chains of `lengths` among `rows` time-ordered rows, uniformly placed
    (each chain goes into one of the gaps between the rows that are in no chain), with the chains' lengths in
    that placement order."""
    free_rows = rows - int(lengths.sum())
    gaps = np.sort(rng.integers(0, free_rows + 1, size=len(lengths)))
    placed = lengths[rng.permutation(len(lengths))]
    return gaps + np.cumsum(placed) - placed, placed


def _mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection on uint64, so distinct inputs give distinct, random-looking outputs."""
    with np.errstate(over="ignore"):
        values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def transaction_id_keys(rng: np.random.Generator, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Two uint64 halves per row; the high half alone is unique, so ids never collide."""
    offset, salt = rng.integers(0, 2**63, size=2, dtype=np.uint64)
    with np.errstate(over="ignore"):
        high = _mix64(np.arange(rows, dtype=np.uint64) + offset)
    return high, _mix64(high ^ salt)


def hex_strings(high: np.ndarray, low: np.ndarray) -> pl.Series:
    """32 lowercase hex digits per row (high half first), built from the big-endian bytes without a row loop."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    halves = np.empty((len(high), 2), dtype=">u8")
    halves[:, 0], halves[:, 1] = high, low
    octets = halves.view(np.uint8).reshape(len(high), 16)
    characters = np.empty((len(high), 32), dtype=np.uint8)
    characters[:, 0::2] = digits[octets >> 4]
    characters[:, 1::2] = digits[octets & 0xF]
    return pl.Series("tid", characters.view("S32").ravel(), dtype=pl.Binary).cast(pl.Utf8)


def _inject_fraud_chains(
    rng: np.random.Generator, seconds: np.ndarray, card: np.ndarray, cents: np.ndarray, fraud_total: int
) -> np.ndarray:
    """Rewrite chain followers in place (card, time, amount) and return the 0/1 fraud label per row."""
    lengths = chain_lengths(rng, fraud_total)
    starts, lengths = chain_starts(rng, lengths, len(seconds))
    label = np.zeros(len(seconds), dtype=np.int8)
    label[np.repeat(starts, lengths) + ranks_within(lengths)] = 1
    followers = lengths - 1
    chain_of_follower = np.repeat(np.arange(len(followers)), followers)
    head = starts[chain_of_follower]
    rows = head + ranks_within(followers) + 1  # the L-1 rows right after each head
    gaps = rng.integers(CHAIN_GAP_SECONDS[0], CHAIN_GAP_SECONDS[1] + 1, size=len(rows))
    seconds[rows] = seconds[head] + cumsum_within(gaps, followers)
    card[rows] = card[head]
    quota = np.concatenate([chain_bucket_quota(int(n)) for n in followers]) if len(followers) else followers
    shuffled = np.lexsort((rng.random(len(rows)), chain_of_follower))  # random order inside each chain
    cents[rows] = _draw_cents(rng, quota[shuffled])
    return label


def generate(
    transactions: int = 5_400_000,
    cards: int = 10_000,
    seed: int = 42,
    *,
    start: dt.datetime = START,
    end: dt.datetime = END,
    fraud_rate: float = FRAUD_RATE,
    progress: Advance = no_progress,
) -> pl.DataFrame:
    """The card transactions: tid, event_time (UTC), cc_num, amount, fraud_label, sorted by event_time, tid.

    Legitimate transactions fall in [start, end); a chain that starts near `end` may run past it by at most
    9 x 120 s. Same arguments, same frame, on any machine.
    """
    positive("transactions", transactions)
    positive("cards", cards)
    non_negative("seed", seed)
    if not 0 <= fraud_rate <= 1:
        raise ValueError(f"fraud_rate must be between 0 and 1, got {fraud_rate!r}")
    if end <= start:
        raise ValueError(f"end ({end}) must be after start ({start})")
    rng = np.random.Generator(np.random.PCG64(seed))
    card_numbers = pl.Series("cc_num", unique_visa_numbers(cards, seed), dtype=pl.Utf8)
    progress("cards")

    first, last = int(start.timestamp()), int(end.timestamp())
    seconds = np.sort(rng.integers(first, last, size=transactions))
    card = rng.integers(0, cards, size=transactions)
    buckets = rng.permutation(np.repeat(np.arange(len(AMOUNT_BUCKETS)), bucket_counts(transactions)))
    cents = _draw_cents(rng, buckets)
    progress("times and amounts")

    label = _inject_fraud_chains(rng, seconds, card, cents, int(transactions * fraud_rate))
    progress("fraud chains")

    id_high, id_low = transaction_id_keys(rng, transactions)
    frame = pl.DataFrame(
        {
            "tid": hex_strings(id_high, id_low),
            "event_time": pl.Series(seconds * 1_000_000).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "cc_num": card_numbers.gather(card),
            "amount": cents / 100.0,
            "fraud_label": label,
            "_order": id_high,
        }
    )
    progress("transaction ids")
    frame = frame.sort(["event_time", "_order"]).drop("_order")
    progress("sort")
    return frame
