"""The two README commands rest on `make setup`: it must be a no-op once the venv matches the lock."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stamp", [".venv/.installed", ".venv/.installed-dev"])
def test_setup_is_current_after_install(stamp: str) -> None:
    # `make -q` exits 0 only when the target is up to date, i.e. nothing would be reinstalled
    proc = subprocess.run(["make", "-q", stamp], cwd=ROOT, capture_output=True, check=False)
    assert proc.returncode == 0, f"make would redo {stamp} although the locks and pyproject.toml are unchanged"


def _chosen_python(tmp_path: Path, commands: dict[str, str | None], *make_args: str) -> str:
    """The interpreter the Makefile picks with only `commands` on PATH (name -> target, None: a failing shim)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, target in commands.items():
        if target is None:  # what pyenv leaves on PATH for a version that is not enabled
            (bin_dir / name).write_text("#!/bin/sh\necho 'pyenv: command not found' >&2\nexit 127\n")
            (bin_dir / name).chmod(0o755)
        else:
            (bin_dir / name).symlink_to(target)
    env = {key: value for key, value in os.environ.items() if key != "PYTHON"}
    env["PATH"] = str(bin_dir)  # the Makefile's shell is /bin/bash by absolute path
    proc = subprocess.run(
        [shutil.which("make") or "make", "--no-print-directory", "--eval", "chosen-python: ; @echo $(PYTHON)", "chosen-python", *make_args],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )
    return proc.stdout.strip()


def test_setup_picks_the_newest_supported_python_that_runs(tmp_path: Path) -> None:
    chosen = _chosen_python(tmp_path, {"python3.13": None, "python3.12": sys.executable, "python3.11": sys.executable})
    assert chosen == "python3.12"


def test_setup_uses_python_when_given(tmp_path: Path) -> None:
    assert _chosen_python(tmp_path, {"python3.13": sys.executable}, "PYTHON=/opt/python3.11") == "/opt/python3.11"


def test_setup_names_the_fix_when_no_supported_python_is_found(tmp_path: Path) -> None:
    assert _chosen_python(tmp_path, {"python3.13": None}) == ""
    makefile = (ROOT / "Makefile").read_text()
    assert "set PYTHON=/path/to/python3.X" in makefile


def test_ci_calls_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci
    assert "make test" in readme and "make workshop" in readme


def test_state_and_generated_data_are_ignored_by_git() -> None:
    for path in (".fraudkit/x.parquet", ".venv/x", "build/x.html"):
        proc = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        assert proc.returncode == 0, f"{path} is not git-ignored"


def _install_lock() -> ModuleType:
    """tools/install_lock.py (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("install_lock", ROOT / "tools" / "install_lock.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_installer_reads_every_pin_of_both_locks_and_installs_pip_apart() -> None:
    install_lock = _install_lock()
    runtime = install_lock.pins(ROOT / "requirements.txt")
    development = install_lock.pins(ROOT / "requirements-dev.txt")  # includes the runtime lock with -r
    assert set(runtime) < set(development)
    assert not [pin for pin in development if pin.startswith("-")]
    names = [install_lock.name_of(pin) for pin in development]
    assert "pip" in names and "setuptools" in names and "xgboost-cpu" in names
    # a marker stays with its pin, so pip evaluates it for the interpreter at hand
    assert all(";" not in pin or "python_version" in pin or "sys_platform" in pin for pin in development)


def test_the_installer_refuses_lock_options_it_would_drop(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text("--index-url https://example.invalid/simple\nsix==1.17.0\n")
    with pytest.raises(SystemExit, match="index-url"):
        _install_lock().pins(lock)
