"""`python -m fraudkit.model`: bad input ends with one line naming the argument, exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudkit.model", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("evaluate", "--data", "cards", "--out", "report.txt"), "argument --out"),
        (("evaluate", "--data", "bank", "--out", "r.json"), "argument --data"),
        (("evaluate", "--data", "cards"), "--out"),
        (("train", "--scale", "huge"), "argument --scale"),
        (("train", "--seed", "minus"), "argument --seed"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: tuple[str, ...], needle: str, tmp_path: Path) -> None:
    done = run(*args, "--state-dir", str(tmp_path)) if args[0] == "train" else run(*args)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert needle in last and "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_help_names_every_command() -> None:
    done = run("--help")
    assert done.returncode == 0
    for command in ("train", "evaluate", "deploy", "undeploy"):
        assert command in done.stdout
