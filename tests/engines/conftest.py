"""The engines' tests need `.venv-engines`; they skip, saying why, only where it cannot exist (no Python 3.11)."""

from __future__ import annotations

import os
import subprocess

import pytest
from fraudkit.features.engines_venv import engines_ready


def _python_311_runs() -> bool:
    python = os.environ.get("ENGINES_PYTHON", "python3.11")
    try:
        done = subprocess.run([python, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 11))"],
                              capture_output=True, check=False, timeout=60)
    except OSError:
        return False
    return done.returncode == 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if engines_ready() or _python_311_runs():  # present, or the tests build it (and fail if that fails)
        return
    skip = pytest.mark.skip(reason="no .venv-engines and no Python 3.11 to build it (PyFlink 1.20 needs 3.11)")
    for item in items:
        if "tests/engines/" in item.nodeid and "test_the_lock" not in item.nodeid and "workshop_venv" not in item.nodeid:
            item.add_marker(skip)
