"""The Fraud Detection Handbook's transaction simulator (customers, terminals, three fraud scenarios), vectorised.

Follows the Handbook (Chapter 3, "Transaction data simulator") step for step:
- customers: location uniform on a 100 x 100 grid, mean amount uniform(5, 100) with std = mean / 2, mean
  transactions per day uniform(0, 4); terminals: location uniform on the same grid;
- a customer uses the terminals strictly within `radius` (5) of their location, uniformly at random;
- per customer and day a Poisson number of transactions, each at int(normal(43200, 20000)) seconds into the
  day (kept only inside (0, 86400)), amount normal(mean, std), redrawn uniform(0, 2 * mean) when negative,
  rounded to cents; customers with no terminal in range make no transactions;
- scenario 1: amount > 220 is fraud; scenario 2: each day two random terminals are compromised, and all their
  transactions in the next 28 days are fraud; scenario 3: each day three random customers are compromised, and
  in the next 14 days a third (rounded down) of their transactions, chosen at random, have their amount
  multiplied by 5 and are fraud. A later scenario's label wins, as in the Handbook.
- One deliberate extension: the daily compromise counts scale with the population (2 per 10,000 terminals,
  3 per 5,000 customers; a fractional count is rounded at random each day), so the small presets keep the
  Handbook's fraud rates instead of compromising a quarter of a 200-terminal town. At the Handbook's sizes
  the counts are exactly 2 and 3.
The Handbook loops over customers, days and transactions in Python (minutes at full size); here every step is
an array operation drawn from one seeded PCG64 generator, so the numbers match in distribution, not digit for
digit.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from data_gen.groups import ranks_within
from data_gen.identities import customer_pii
from data_gen.progress import Advance, no_progress
from data_gen.validate import non_negative, positive

START = dt.date(2018, 4, 1)
GRID_SIZE = 100.0
RADIUS = 5.0
SECONDS_PER_DAY = 86_400
TIME_OF_DAY_MEAN, TIME_OF_DAY_STD = SECONDS_PER_DAY / 2, 20_000.0
SCENARIO_1_AMOUNT = 220.0
SCENARIO_2_TERMINALS_PER_DAY, SCENARIO_2_DAYS = 2, 28
SCENARIO_3_CUSTOMERS_PER_DAY, SCENARIO_3_DAYS, SCENARIO_3_FACTOR = 3, 14, 5.0
# The Handbook's population, for which the daily compromise counts above are defined.
HANDBOOK_CUSTOMERS, HANDBOOK_TERMINALS = 5_000, 10_000
STAGES = 5  # progress steps reported by generate()
_DISTANCE_CHUNK = 512  # customers per block of the customer x terminal distance matrix


def customer_profiles(rng: np.random.Generator, customers: int) -> pl.DataFrame:
    """customer_id, x/y location, mean_amount, std_amount, mean_nb_tx_per_day."""
    mean_amount = rng.uniform(5, 100, customers)
    return pl.DataFrame(
        {
            "customer_id": np.arange(customers, dtype=np.int64),
            "x_customer_id": rng.uniform(0, GRID_SIZE, customers),
            "y_customer_id": rng.uniform(0, GRID_SIZE, customers),
            "mean_amount": mean_amount,
            "std_amount": mean_amount / 2,
            "mean_nb_tx_per_day": rng.uniform(0, 4, customers),
        }
    )


def terminal_profiles(rng: np.random.Generator, terminals: int) -> pl.DataFrame:
    """terminal_id and x/y location."""
    return pl.DataFrame(
        {
            "terminal_id": np.arange(terminals, dtype=np.int64),
            "x_terminal_id": rng.uniform(0, GRID_SIZE, terminals),
            "y_terminal_id": rng.uniform(0, GRID_SIZE, terminals),
        }
    )


def terminals_within_radius(
    customer_xy: np.ndarray, terminal_xy: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """For every customer, the terminals strictly closer than `radius`, as CSR: (offsets, terminal ids).

    Customer c's terminals are ids[offsets[c]:offsets[c + 1]], in increasing id order.
    """
    blocks = []
    for first in range(0, len(customer_xy), _DISTANCE_CHUNK):  # bounded memory: a block of rows at a time
        block = customer_xy[first : first + _DISTANCE_CHUNK]
        squared = ((block[:, None, :] - terminal_xy[None, :, :]) ** 2).sum(axis=2)
        rows, ids = np.nonzero(squared < radius * radius)
        blocks.append((rows + first, ids))
    rows = np.concatenate([b[0] for b in blocks]) if blocks else np.zeros(0, dtype=np.int64)
    ids = np.concatenate([b[1] for b in blocks]) if blocks else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(customer_xy) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(np.bincount(rows, minlength=len(customer_xy)))
    return offsets, ids.astype(np.int64)


def legitimate_transactions(
    rng: np.random.Generator, customers: pl.DataFrame, offsets: np.ndarray, terminal_ids: np.ndarray, days: int
) -> dict[str, np.ndarray]:
    """Day, second of the simulation, customer, terminal and amount of every transaction, unsorted."""
    cell_customer = np.repeat(np.arange(customers.height), days)
    cell_day = np.tile(np.arange(days), customers.height)
    per_cell = rng.poisson(np.repeat(customers["mean_nb_tx_per_day"].to_numpy(), days))
    customer = np.repeat(cell_customer, per_cell)
    day = np.repeat(cell_day, per_cell)
    time_of_day = np.trunc(rng.normal(TIME_OF_DAY_MEAN, TIME_OF_DAY_STD, len(customer))).astype(np.int64)
    mean = customers["mean_amount"].to_numpy()[customer]
    amount = rng.normal(mean, customers["std_amount"].to_numpy()[customer])
    negative = amount < 0
    amount[negative] = rng.uniform(0, 2 * mean[negative])
    reachable = np.diff(offsets)
    keep = (time_of_day > 0) & (time_of_day < SECONDS_PER_DAY) & (reachable[customer] > 0)
    customer, day, time_of_day, amount = customer[keep], day[keep], time_of_day[keep], amount[keep]
    terminal = terminal_ids[offsets[customer] + rng.integers(0, reachable[customer])]
    return {
        "customer": customer,
        "terminal": terminal,
        "day": day,
        "second": day * SECONDS_PER_DAY + time_of_day,
        "amount": np.round(amount, 2),
    }


def daily_compromises(
    rng: np.random.Generator, start_days: int, population: int, per_day: float
) -> tuple[np.ndarray, np.ndarray]:
    """(day, id) of every compromise: each day int(per_day) distinct ids, plus one more with probability
    per_day - int(per_day), so a fractional rate (a scaled-down population) keeps its expected count."""
    whole = int(per_day)
    counts = np.minimum(whole + (rng.random(start_days) < per_day - whole), population)
    most = int(counts.max(initial=0))
    ids = np.argsort(rng.random((start_days, population)), axis=1, kind="stable")[:, :most]
    taken = np.arange(most)[None, :] < counts[:, None]
    days = np.broadcast_to(np.arange(start_days)[:, None], ids.shape)
    return days[taken], ids[taken]


def compromised_terminal_days(
    rng: np.random.Generator, terminals: int, start_days: int, per_day: float
) -> np.ndarray:
    """Scenario 2 as a (terminal, day) boolean table: True while the terminal is compromised."""
    pick_day, pick_terminal = daily_compromises(rng, start_days, terminals, per_day)
    change = np.zeros((terminals, start_days + SCENARIO_2_DAYS + 1), dtype=np.int64)
    np.add.at(change, (pick_terminal, pick_day), 1)
    np.add.at(change, (pick_terminal, pick_day + SCENARIO_2_DAYS), -1)
    return np.cumsum(change, axis=1) > 0


def scenario_3_selections(
    rng: np.random.Generator, customer: np.ndarray, day: np.ndarray, customers: int, start_days: int, per_day: float
) -> np.ndarray:
    """How many times each transaction was picked by scenario 3 (its amount is multiplied by 5 each time)."""
    pick_day, pick_customer = daily_compromises(rng, start_days, customers, per_day)
    span = int(day.max(initial=0)) + SCENARIO_3_DAYS + 1
    key = customer * span + day
    by_key = np.argsort(key, kind="stable")
    sorted_key = key[by_key]
    first = np.searchsorted(sorted_key, pick_customer * span + pick_day)
    past = np.searchsorted(sorted_key, pick_customer * span + pick_day + SCENARIO_3_DAYS)
    candidates = past - first
    pick_of_candidate = np.repeat(np.arange(len(candidates)), candidates)
    rank_in_pick = ranks_within(candidates)
    candidate_rows = by_key[np.repeat(first, candidates) + rank_in_pick]
    shuffled = np.lexsort((rng.random(len(candidate_rows)), pick_of_candidate))
    chosen = rank_in_pick < (candidates // 3)[pick_of_candidate]  # the first third of each shuffled pick
    return np.bincount(candidate_rows[shuffled][chosen], minlength=len(customer))


def compromises_per_day(customers: int, terminals: int) -> tuple[float, float]:
    """Terminals and customers compromised per day: the Handbook's 2 and 3 at its population (10,000
    terminals, 5,000 customers), proportionally fewer for a smaller one so every preset keeps its fraud rates."""
    return (
        SCENARIO_2_TERMINALS_PER_DAY * terminals / HANDBOOK_TERMINALS,
        SCENARIO_3_CUSTOMERS_PER_DAY * customers / HANDBOOK_CUSTOMERS,
    )


def generate(
    customers: int = 5_000,
    terminals: int = 10_000,
    days: int = 183,
    start: dt.date = START,
    seed: int = 0,
    *,
    radius: float = RADIUS,
    progress: Advance = no_progress,
) -> dict[str, pl.DataFrame]:
    """Tables "transactions", "customers" (profiles plus Faker PII) and "terminals"; same arguments, same tables."""
    for name, count in (("customers", customers), ("terminals", terminals), ("days", days)):
        positive(name, count)
    non_negative("seed", seed)
    rng = np.random.Generator(np.random.PCG64(seed))
    customer_table = customer_profiles(rng, customers)
    terminal_table = terminal_profiles(rng, terminals)
    offsets, terminal_ids = terminals_within_radius(
        customer_table.select("x_customer_id", "y_customer_id").to_numpy(),
        terminal_table.select("x_terminal_id", "y_terminal_id").to_numpy(),
        radius,
    )
    progress("profiles")

    tx = legitimate_transactions(rng, customer_table, offsets, terminal_ids, days)
    order = np.lexsort((tx["customer"], tx["second"]))
    tx = {name: values[order] for name, values in tx.items()}
    progress("transactions")

    # The Handbook draws compromises for days 0 .. last transaction day - 1.
    start_days = int(tx["day"].max(initial=0))
    scenario_1 = tx["amount"] > SCENARIO_1_AMOUNT
    terminals_per_day, customers_per_day = compromises_per_day(customers, terminals)
    scenario_2 = compromised_terminal_days(rng, terminals, start_days, terminals_per_day)[tx["terminal"], tx["day"]]
    times_picked = scenario_3_selections(rng, tx["customer"], tx["day"], customers, start_days, customers_per_day)
    amount = np.round(tx["amount"] * SCENARIO_3_FACTOR**times_picked, 2)
    scenario = np.select([times_picked > 0, scenario_2, scenario_1], [3, 2, 1], 0).astype(np.int8)
    progress("fraud scenarios")

    transactions = pl.DataFrame(
        {
            "transaction_id": np.arange(len(amount), dtype=np.int64),
            "tx_datetime": _datetimes(start, tx["second"]),
            "customer_id": tx["customer"].astype(np.int64),
            "terminal_id": tx["terminal"],
            "tx_amount": amount,
            "tx_time_seconds": tx["second"].astype(np.int64),
            "tx_time_days": tx["day"].astype(np.int64),
            "tx_fraud": (scenario > 0).astype(np.int8),
            "tx_fraud_scenario": scenario,
        }
    )
    progress("tables")
    customer_table = customer_table.with_columns(nb_terminals=pl.Series(np.diff(offsets))).join(
        customer_pii(list(range(customers)), seed), on="customer_id", how="left", maintain_order="left"
    )
    progress("customer PII")
    return {"transactions": transactions, "customers": customer_table, "terminals": terminal_table}


def _datetimes(start: dt.date, seconds: np.ndarray) -> pl.Series:
    """Naive timestamps `seconds` after midnight of `start`, as the Handbook's TX_DATETIME."""
    origin = int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())
    return pl.Series((origin + seconds) * 1_000_000).cast(pl.Datetime("us"))
