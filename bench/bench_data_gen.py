"""Benchmark the data generators: wall time and peak memory at a scale, against row-by-row generators.

Each measurement runs in its own child process so its peak RSS (getrusage ru_maxrss) is its own. The baseline
is a straightforward row-by-row generator written like the reference notebooks (Python loops per transaction,
Faker per timestamp, pandas at the end), timed in the same run on a slice and extrapolated linearly to the
full size; `ratio` is baseline / ours (the speed-up). The Handbook generator's counts are compared with the
Handbook's published figures for its own seed (1,754,155 transactions, 14,681 frauds: 978 / 9,099 / 4,604).

    python bench/bench_data_gen.py [--scale tiny|small|full]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import result
from faker import Faker
from fraudkit.config import SCALES, Scale

from data_gen import DATASET_TABLES, generate_tables
from data_gen.output import write_tables

PUBLISHED_HANDBOOK = {"transactions": 1_754_155, "frauds": 14_681, "scenario_1": 978, "scenario_2": 9_099,
                      "scenario_3": 4_604}
CARDS_SLICE, HANDBOOK_CUSTOMER_SLICE = 50_000, 250
TARGETS = {"cards_seconds": 15.0, "cards_peak_gb": 4.0, "handbook_seconds": 18.0, "count_rel_diff_pct": 5.0}


# ---- the row-by-row baselines (the reference notebooks' algorithms, one Python step per row) ----

def rowwise_cards(transactions: int, cards: int, seed: int) -> pd.DataFrame:
    """The MSK reference notebook's generator: Faker times, per-row amounts and card picks, MD5 ids, chains."""
    faker, rnd, nprs = Faker(), random.Random(seed), np.random.RandomState(seed)
    faker.seed_instance(seed)
    numbers = list(dict.fromkeys(faker.credit_card_number(card_type="visa16") for _ in range(cards)))
    start, end = dt.datetime(2022, 1, 1), dt.datetime(2022, 6, 1)
    stamps = sorted(faker.date_time_between(start_date=start, end_date=end) for _ in range(transactions))
    buckets = [(0.05, 0.01, 1.0), (0.075, 1.0, 11.0), (0.525, 10.0, 100.0), (0.25, 100.0, 1000.0), (0.1, 1000.0, 10000.0)]
    amounts = [round(nprs.uniform(low, high), 2) for share, low, high in buckets for _ in range(int(transactions * share))]
    amounts += [round(nprs.uniform(10.0, 100.0), 2) for _ in range(transactions - len(amounts))]
    rnd.shuffle(amounts)
    rows = []
    for stamp, amount in zip(stamps, amounts, strict=True):
        card = rnd.choice(numbers)
        tid = hashlib.md5(f"{stamp}{card}{amount}".encode()).hexdigest()
        rows.append({"tid": tid, "event_time": stamp, "cc_num": card, "amount": amount, "fraud_label": 0})
    fraud_total, used, chains = int(transactions * 0.0025), set(), defaultdict(list)
    while sum(len(c) + 1 for c in chains.values()) < fraud_total:
        head = rnd.randrange(transactions)
        if head in used:
            continue
        used.add(head)
        for step in range(1, rnd.randint(3, 10)):
            if head + step < transactions and head + step not in used:
                if sum(len(c) + 1 for c in chains.values()) >= fraud_total:
                    break
                chains[head].append(head + step)
                used.add(head + step)
    for head, followers in chains.items():
        rows[head]["fraud_label"] = 1
        when = rows[head]["event_time"]
        for index in followers:
            when += dt.timedelta(seconds=rnd.randint(30, 120))
            rows[index].update(event_time=when, cc_num=rows[head]["cc_num"], fraud_label=1,
                               amount=round(nprs.uniform(0.01, 100.0), 2))
    return pd.DataFrame(rows).sort_values(["event_time", "tid"])


def rowwise_handbook(customers: int, terminals: int, days: int, seed: int) -> pd.DataFrame:
    """The Handbook's generator: per-customer profiles, per-day/per-transaction loops, per-day fraud passes."""
    nprs = np.random.RandomState(seed)
    profiles = [(c, nprs.uniform(0, 100), nprs.uniform(0, 100), nprs.uniform(5, 100), nprs.uniform(0, 4))
                for c in range(customers)]
    terminal_xy = np.array([(nprs.uniform(0, 100), nprs.uniform(0, 100)) for _ in range(terminals)])
    rows = []
    for customer, x, y, mean_amount, per_day in profiles:
        reachable = list(np.where(np.sqrt(((terminal_xy - (x, y)) ** 2).sum(axis=1)) < 5)[0])
        rnd, local = random.Random(customer), np.random.RandomState(customer)
        for day in range(days):
            for _ in range(local.poisson(per_day)):
                second = int(local.normal(43_200, 20_000))
                if 0 < second < 86_400:
                    amount = local.normal(mean_amount, mean_amount / 2)
                    amount = local.uniform(0, 2 * mean_amount) if amount < 0 else amount
                    if reachable:
                        rows.append((second + day * 86_400, day, customer, rnd.choice(reachable), round(amount, 2)))
    tx = pd.DataFrame(rows, columns=["TX_TIME_SECONDS", "TX_TIME_DAYS", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT"])
    tx = tx.sort_values("TX_TIME_SECONDS").reset_index(drop=True)
    tx["TX_FRAUD"] = (tx.TX_AMOUNT > 220).astype(int)
    tx["TX_FRAUD_SCENARIO"] = tx.TX_FRAUD
    terminal_ids, customer_ids = pd.Series(range(terminals)), pd.Series(range(customers))
    for day in range(tx.TX_TIME_DAYS.max()):
        hit = tx.TERMINAL_ID.isin(terminal_ids.sample(n=2, random_state=day)) & tx.TX_TIME_DAYS.between(day, day + 27)
        tx.loc[hit, ["TX_FRAUD", "TX_FRAUD_SCENARIO"]] = [1, 2]
    for day in range(tx.TX_TIME_DAYS.max()):
        picked = customer_ids.sample(n=min(3, customers), random_state=day)
        window = tx[tx.CUSTOMER_ID.isin(picked) & tx.TX_TIME_DAYS.between(day, day + 13)]
        chosen = random.Random(day).sample(list(window.index), k=len(window) // 3)
        tx.loc[chosen, "TX_AMOUNT"] *= 5
        tx.loc[chosen, ["TX_FRAUD", "TX_FRAUD_SCENARIO"]] = [1, 3]
    return tx


# ---- child processes: one measurement each ----

def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_ours(kind: str, sizes: Scale, seed: int) -> dict[str, Any]:
    started, cpu_started = time.perf_counter(), cpu_seconds()
    tables = generate_tables(kind, sizes, seed)
    with tempfile.TemporaryDirectory() as out:
        write_tables(tables, Path(out))
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    tx = tables["transactions"]
    counts: dict[str, int] = {"transactions": tx.height}
    if kind == "handbook":
        counts["frauds"] = int(tx["tx_fraud"].sum())
        for scenario in (1, 2, 3):
            counts[f"scenario_{scenario}"] = int((tx["tx_fraud_scenario"] == scenario).sum())
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_bytes": peak_rss_bytes(), "counts": counts}


def measure_rowwise(kind: str, sizes: Scale, seed: int) -> dict[str, Any]:
    """Time the row-by-row generator on a slice; `scale_up` extrapolates it to `sizes`."""
    started = time.perf_counter()
    if kind == "cards":
        rows = min(CARDS_SLICE, sizes.card_transactions)
        rowwise_cards(rows, sizes.cards, seed)
        scale_up = sizes.card_transactions / rows
    else:
        customers = min(HANDBOOK_CUSTOMER_SLICE, sizes.customers)
        rowwise_handbook(customers, sizes.terminals, sizes.days, seed)
        scale_up = sizes.customers / customers
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "scale_up": scale_up, "extrapolated_seconds": seconds * scale_up}


def run_child(role: str, kind: str, scale: str) -> dict[str, Any]:
    print(f"bench_data_gen: {role} {kind} at scale {scale} ...", file=sys.stderr, flush=True)
    done = subprocess.run(
        [sys.executable, __file__, "--scale", scale, "--child", role, kind],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{role} {kind} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(scale: str) -> dict[str, Any]:
    seed = {"cards": 42, "handbook": 0}
    load_before = os.getloadavg()[0]
    ours = {kind: run_child("ours", kind, scale) for kind in DATASET_TABLES}
    rowwise = {kind: run_child("rowwise", kind, scale) for kind in DATASET_TABLES}
    full = scale == "full"
    results = [
        result("cards_seconds", ours["cards"]["seconds"], "s", f"<= {TARGETS['cards_seconds']:g} s at full",
               ours["cards"]["seconds"] <= TARGETS["cards_seconds"] if full else None,
               rowwise["cards"]["extrapolated_seconds"], speedup=True),
        result("cards rows per second", SCALES[scale].card_transactions / ours["cards"]["seconds"], "rows/s", "report",
               None, SCALES[scale].card_transactions / rowwise["cards"]["extrapolated_seconds"], headline=True),
        result("cards_cpu_seconds", ours["cards"]["cpu_seconds"], "s", "user + system CPU (less load-sensitive)",
               None),
        result("cards_peak_rss", ours["cards"]["peak_rss_bytes"] / 1e9, "GB", f"< {TARGETS['cards_peak_gb']:g} GB",
               ours["cards"]["peak_rss_bytes"] / 1e9 < TARGETS["cards_peak_gb"]),
        result("handbook_seconds", ours["handbook"]["seconds"], "s", f"<= {TARGETS['handbook_seconds']:g} s at full",
               ours["handbook"]["seconds"] <= TARGETS["handbook_seconds"] if full else None,
               rowwise["handbook"]["extrapolated_seconds"], speedup=True),
        result("handbook rows per second", ours["handbook"]["counts"]["transactions"] / ours["handbook"]["seconds"],
               "rows/s", "report", None, ours["handbook"]["counts"]["transactions"] / rowwise["handbook"]["extrapolated_seconds"],
               headline=True),
        result("handbook_cpu_seconds", ours["handbook"]["cpu_seconds"], "s", "user + system CPU", None),
        result("handbook_peak_rss", ours["handbook"]["peak_rss_bytes"] / 1e9, "GB", "", None),
    ]
    counts = ours["handbook"]["counts"]
    sizes = SCALES[scale]
    # the Handbook's figures are for 5,000 customers x 183 days; other presets compare against them pro rata
    pro_rata = sizes.customers * sizes.days / (SCALES["full"].customers * SCALES["full"].days)
    for name, published in PUBLISHED_HANDBOOK.items():
        expected = published * pro_rata
        diff = 100.0 * (counts[name] - expected) / expected
        results.append(result(
            f"handbook_{name}_vs_published", diff, "% diff",
            f"|diff| <= {TARGETS['count_rel_diff_pct']:g}% at full (ours {counts[name]:,}, Handbook "
            f"{round(expected):,}{'' if full else ' pro rata'})",
            abs(diff) <= TARGETS["count_rel_diff_pct"] if full else None,
        ))
    notes = (
        f"seeds {seed}; ratio = row-by-row baseline / ours (speed-up). Baselines: the reference notebooks' "
        f"row-by-row algorithms timed on {min(CARDS_SLICE, SCALES[scale].card_transactions):,} card rows "
        f"({rowwise['cards']['seconds']:.1f} s) and {min(HANDBOOK_CUSTOMER_SLICE, SCALES[scale].customers)} Handbook "
        f"customers ({rowwise['handbook']['seconds']:.1f} s), extrapolated linearly. Times include writing the "
        "Parquet files. The Handbook counts differ from the published ones by the random draw only (different "
        "generator and seed); below full scale they are compared pro rata (customers x days) and only indicative. "
        f"Machine: {os.cpu_count()} CPUs, 1-minute load average {load_before:.1f} before and "
        f"{os.getloadavg()[0]:.1f} after the run (wall times grow with the load; CPU seconds much less)."
    )
    return {"name": "data_gen", "results": results, "notes": notes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="full", choices=sorted(SCALES))
    parser.add_argument("--child", nargs=2, metavar=("ROLE", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        role, kind = args.child
        seed = {"cards": 42, "handbook": 0}[kind]
        measure = measure_ours if role == "ours" else measure_rowwise
        print(json.dumps(measure(kind, SCALES[args.scale], seed)))
        return
    print(json.dumps(report(args.scale)))


if __name__ == "__main__":
    main()
