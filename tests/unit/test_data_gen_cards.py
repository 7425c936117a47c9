"""The card-burst generator reproduces the reference design's distributions, vectorised."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_gen import cards

TRANSACTIONS, CARDS, SEED = 40_000, 400, 7
START = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2022, 6, 1, tzinfo=dt.UTC)
# the amount table: share, lowest and highest amount
BUCKETS = [(0.05, 0.01, 1.0), (0.075, 1.0, 11.0), (0.525, 10.0, 100.0), (0.25, 100.0, 1000.0), (0.10, 1000.0, 10000.0)]


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return cards.generate(TRANSACTIONS, CARDS, SEED)


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def chains_of(frame: pl.DataFrame) -> list[np.ndarray]:
    """Fraud rows per card, split where two fraud rows are more than the largest gap apart."""
    chains = []
    fraud = frame.filter(pl.col("fraud_label") == 1).sort("cc_num", "event_time")
    for _, rows in fraud.group_by("cc_num", maintain_order=True):
        seconds = rows["event_time"].dt.epoch("s").to_numpy()
        chains += np.split(seconds, np.nonzero(np.diff(seconds) > cards.CHAIN_GAP_SECONDS[1])[0] + 1)
    return chains


def test_schema_is_the_shared_contract(frame: pl.DataFrame) -> None:
    assert frame.schema == pl.Schema(
        {"tid": pl.Utf8, "event_time": pl.Datetime("us", "UTC"), "cc_num": pl.Utf8, "amount": pl.Float64,
         "fraud_label": pl.Int8}
    )
    assert frame.height == TRANSACTIONS


def test_sorted_by_event_time_then_tid(frame: pl.DataFrame) -> None:
    assert frame.equals(frame.sort("event_time", "tid"))


def test_transaction_ids_are_unique_hex(frame: pl.DataFrame) -> None:
    assert frame["tid"].n_unique() == TRANSACTIONS
    assert frame["tid"].str.contains(r"^[0-9a-f]{32}$").all()


def test_card_numbers_are_distinct_16_digit_visa(frame: pl.DataFrame) -> None:
    numbers = frame["cc_num"].unique().to_list()
    assert len(numbers) == CARDS  # 100 transactions per card: every card is used
    assert all(len(n) == 16 and n.isdigit() and n.startswith("4") and luhn_valid(n) for n in numbers)


def test_fraud_rate_is_a_quarter_percent(frame: pl.DataFrame) -> None:
    assert frame["fraud_label"].sum() == int(TRANSACTIONS * 0.0025)
    assert set(frame["fraud_label"].unique()) == {0, 1}


def test_attack_chains_have_3_to_10_transactions_30_to_120_s_apart(frame: pl.DataFrame) -> None:
    chains = chains_of(frame)
    assert sum(len(c) for c in chains) == frame["fraud_label"].sum()
    assert all(3 <= len(c) <= 10 for c in chains)
    gaps = np.concatenate([np.diff(c) for c in chains])
    assert gaps.min() >= 30 and gaps.max() <= 120


def test_amounts_have_two_decimals_within_the_table(frame: pl.DataFrame) -> None:
    amount = frame["amount"].to_numpy()
    assert np.array_equal(np.round(amount * 100) / 100, amount)
    assert amount.min() >= 0.01 and amount.max() <= 10_000.0


@pytest.mark.parametrize(("low", "high"), [(0.01, 0.99), (1.01, 9.99), (10.0, 11.0), (11.01, 99.99),
                                           (100.01, 999.99), (1000.01, 10000.0)])
def test_amount_bucket_shares(frame: pl.DataFrame, low: float, high: float) -> None:
    """Share of legitimate amounts in [low, high], against the table (uniform cents inside each bucket)."""
    expected = 0.0
    for share, bucket_low, bucket_high in BUCKETS:
        overlap = round((min(high, bucket_high) - max(low, bucket_low)) * 100) + 1
        expected += share * max(overlap, 0) / (round((bucket_high - bucket_low) * 100) + 1)
    legit = frame.filter(pl.col("fraud_label") == 0)["amount"]
    observed = float(legit.is_between(low, high).mean())
    assert observed == pytest.approx(expected, abs=0.01)


def test_times_cover_the_reference_period(frame: pl.DataFrame) -> None:
    legit = frame.filter(pl.col("fraud_label") == 0)["event_time"]
    assert legit.min() >= START and legit.max() < END
    assert frame["event_time"].max() < END + dt.timedelta(seconds=9 * 120)
    assert (frame["event_time"].dt.microsecond() == 0).all()  # whole seconds, as the reference
    months = frame["event_time"].dt.month().value_counts()
    assert months.height == 5


def test_chain_amount_quota_follows_the_reference_rule() -> None:
    # ceil(share * n) amounts per bucket in bucket order, cut to n
    assert cards.chain_bucket_quota(2).tolist() == [0, 1]
    assert cards.chain_bucket_quota(9).tolist() == [0, 1, 2, 2, 2, 2, 2, 3, 3]


def test_bucket_counts_are_exact() -> None:
    assert cards.bucket_counts(5_400_000).tolist() == [270_000, 405_000, 2_835_000, 1_350_000, 540_000]
    assert cards.bucket_counts(7).sum() == 7


@settings(max_examples=60, deadline=None)
@given(fraud_total=st.integers(0, 3000), seed=st.integers(0, 2**32))
def test_chain_lengths_add_up_to_the_fraud_total(fraud_total: int, seed: int) -> None:
    lengths = cards.chain_lengths(np.random.Generator(np.random.PCG64(seed)), fraud_total)
    assert lengths.sum() == (fraud_total if fraud_total >= 3 else 0)
    assert ((lengths >= 3) & (lengths <= 10)).all()


@settings(max_examples=40, deadline=None)
@given(fraud_total=st.integers(3, 400), spare=st.integers(0, 400), seed=st.integers(0, 2**32))
def test_chains_never_overlap(fraud_total: int, spare: int, seed: int) -> None:
    rng = np.random.Generator(np.random.PCG64(seed))
    lengths = cards.chain_lengths(rng, fraud_total)
    starts, placed = cards.chain_starts(rng, lengths, fraud_total + spare)
    covered = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, placed, strict=True)])
    assert len(np.unique(covered)) == fraud_total
    assert covered.min() >= 0 and covered.max() < fraud_total + spare


@settings(max_examples=15, deadline=None)
@given(transactions=st.integers(1, 3000), card_count=st.integers(1, 50), seed=st.integers(0, 2**32))
def test_any_small_size_keeps_the_invariants(transactions: int, card_count: int, seed: int) -> None:
    frame = cards.generate(transactions, card_count, seed)
    assert frame.height == transactions
    assert frame["tid"].n_unique() == transactions
    assert frame["cc_num"].n_unique() <= card_count
    fraud = int(transactions * 0.0025)
    assert frame["fraud_label"].sum() == (fraud if fraud >= 3 else 0)


def test_same_seed_same_frame_other_seed_other_frame(frame: pl.DataFrame) -> None:
    assert cards.generate(TRANSACTIONS, CARDS, SEED).equals(frame)
    assert not cards.generate(TRANSACTIONS, CARDS, SEED + 1).equals(frame)


@pytest.mark.parametrize(("kwargs", "needle"), [({"transactions": 0}, "transactions"), ({"cards": -1}, "cards"),
                                                ({"seed": -3}, "seed"), ({"fraud_rate": 2.0}, "fraud_rate")])
def test_bad_arguments_name_the_parameter(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        cards.generate(**{"transactions": 100, "cards": 5, **kwargs})


@settings(max_examples=20, deadline=None)
@given(halves=st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)), min_size=1, max_size=20))
def test_hex_ids_spell_both_halves(halves: list[tuple[int, int]]) -> None:
    high = np.array([h for h, _ in halves], dtype=np.uint64)
    low = np.array([lo for _, lo in halves], dtype=np.uint64)
    assert cards.hex_strings(high, low).to_list() == [f"{h:016x}{lo:016x}" for h, lo in halves]
