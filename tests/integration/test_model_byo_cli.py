"""`python -m fraudkit.model evaluate --input`: a user's small files in both schemas are evaluated and the report
names them; bad files end in one line naming the problem, and nothing is written."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from data_gen import cards, handbook

pytestmark = pytest.mark.integration


def evaluate(tmp_path: Path, kind: str, source: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "fraudkit.model", "evaluate", "--data", kind, "--input", str(source),
            "--out", str(tmp_path / "out" / "report.json"), "--state-dir", str(tmp_path / "state"),
            "--threads", "1", "--quiet", *extra,
        ],
        capture_output=True, text=True, timeout=600, check=False,
    )


def test_handbook_csv_in_upper_case(tmp_path: Path) -> None:
    transactions = handbook.generate(customers=300, terminals=600, days=60, seed=3)["transactions"]
    source = tmp_path / "TRANSACTIONS.csv"
    transactions.rename(str.upper).write_csv(source)
    done = evaluate(tmp_path, "handbook", source, "--prequential")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["input"]["rows"] == transactions.height
    assert report["input"]["frauds"] == int(transactions["tx_fraud"].sum())
    assert report["input"]["sha256"] == hashlib.sha256(source.name.encode() + b"\0" + source.read_bytes()).hexdigest()
    assert report["input"]["first"].startswith("2018-04-01") and report["input"]["last"].startswith("2018-05-30")
    assert report["split"]["test"] == "2018-05-24..2018-05-31"  # the data's own last week
    chapter3 = report["handbook_baseline"]["chapter3"]
    assert chapter3["reproduced"]["test"] == "2018-05-24..2018-05-30"
    assert chapter3["reproduced"]["rows"]["test"] == chapter3["ours"]["test_rows"] == report["sizes"]["test"]["rows"]
    assert "does not cover" in report["handbook_baseline"]["chapter5"]["skipped"]
    assert report["scale"] is None
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").rglob("*.parquet"))  # nothing generated


def test_card_parquet(tmp_path: Path) -> None:
    source = tmp_path / "cards.parquet"
    cards.generate(transactions=30_000, cards=300, seed=9).write_parquet(source)
    done = evaluate(tmp_path, "cards", source)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["input"]["rows"] == 30_000 and report["input"]["files"] == 1
    assert "live_demo" not in report and "handbook_baseline" not in report
    assert 0 <= report["average_precision"] <= 1


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    good = handbook.generate(customers=20, terminals=40, days=10, seed=1)["transactions"].rename(str.upper)
    files = {
        "missing column(s) tx_fraud": good.drop("TX_FRAUD"),
        "tx_amount must be a number": good.with_columns(pl.col("TX_AMOUNT").cast(pl.String) + " EUR"),
    }
    paths = {}
    for needle, frame in files.items():
        paths[needle] = tmp_path / f"{len(paths)}.parquet"
        frame.write_parquet(paths[needle])
    paths["holds no transactions"] = tmp_path / "empty.csv"
    good.head(0).write_csv(paths["holds no transactions"])
    paths["not a Parquet or CSV file"] = tmp_path / "data.json"
    paths["not a Parquet or CSV file"].write_text("{}")
    return paths


def test_bad_files_end_in_one_line_and_write_nothing(tmp_path: Path) -> None:
    for needle, source in _bad_files(tmp_path).items():
        done = evaluate(tmp_path, "handbook", source)
        assert done.returncode == 2, (needle, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "argument --input:" in lines[0] and needle in lines[0], lines
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "out").exists() and not (tmp_path / "state").exists()


def test_threads_must_be_positive(tmp_path: Path) -> None:
    source = tmp_path / "t.csv"
    source.write_text("x\n1\n")
    done = evaluate(tmp_path, "handbook", source, "--threads", "0")
    assert done.returncode == 2 and "argument --threads" in done.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out").exists()
