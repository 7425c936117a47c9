"""The streaming CLI's argument handling: bad input is one line naming the argument, exit code 2."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest


def run_cli(*args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudkit.streaming", *args, "--state-dir", str(state_dir)],
        capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("produce", "--rate", "fast"), "--rate"),
        (("produce", "--rate", "-5"), "--rate"),
        (("produce", "--input", "/nonexistent/transactions.parquet"), "--input"),
        (("burst", "--cc-num", "1234"), "--cc-num"),
        (("load", "--seconds", "0"), "--seconds"),
        (("load", "--warmup", "-1"), "--warmup"),
        (("load", "--linger-ms", "-1"), "--linger-ms"),
        (("produce", "--linger-ms", "soon"), "--linger-ms"),
        (("run", "--stage", "everything"), "--stage"),
    ],
)
def test_bad_arguments_end_with_one_line_and_exit_code_2(args: tuple[str, ...], named: str, tmp_path: Path) -> None:
    proc = run_cli(*args, state_dir=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert named in proc.stderr.strip().splitlines()[-1]
    assert list(tmp_path.iterdir()) == [], "nothing is written on bad input"


def test_without_a_broker_the_error_says_how_to_start_one(tmp_path: Path) -> None:
    data = tmp_path / "in.parquet"
    pl.DataFrame({"tid": ["a"], "cc_num": ["4000000000000001"], "amount": [1.0],
                  "event_time": [datetime(2026, 1, 1, tzinfo=UTC)]}).write_parquet(data)
    proc = run_cli("produce", "--input", str(data), state_dir=tmp_path / "state")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "make local-up" in proc.stderr


def test_help_lists_every_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "fraudkit.streaming", "--help"], capture_output=True, text=True, check=True)
    for command in ("produce", "burst", "run", "demo", "load"):
        assert command in proc.stdout
