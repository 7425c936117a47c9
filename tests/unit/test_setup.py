"""The two README commands rest on `make setup`: it must be a no-op once the venv matches the lock."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_setup_is_current_after_install() -> None:
    # `make -q` exits 0 only when the target is up to date, i.e. nothing would be reinstalled
    proc = subprocess.run(["make", "-q", ".venv/.installed"], cwd=ROOT, capture_output=True, check=False)
    assert proc.returncode == 0, "make setup would reinstall although requirements.txt and pyproject.toml are unchanged"


def test_ci_calls_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci
    assert "make test" in readme and "make workshop" in readme


def test_state_and_generated_data_are_ignored_by_git() -> None:
    for path in (".fraudkit/x.parquet", ".venv/x", "build/x.html"):
        proc = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        assert proc.returncode == 0, f"{path} is not git-ignored"
