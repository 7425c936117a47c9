"""The notebooks as `make workshop` and `make test` run them: papermill end to end, and nbval's guard.

These execute real notebooks in real kernels at the tiny scale, against the real local services.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from fraudkit.services import running_services
from fraudkit.workshop import (
    committed_output_env,
    discover_notebooks,
    execute_notebook,
    patched_environ,
    refresh_committed,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SANITIZE = ROOT / "tests" / "notebooks" / "sanitize.cfg"


def _workshop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudkit.workshop", "--quiet", *args],
        capture_output=True, text=True, timeout=1200, check=False, cwd=ROOT,
    )


def _nbval(notebook: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval", str(notebook),
         "--nbval-sanitize-with", str(SANITIZE), "--rootdir", str(notebook.parent), "-q"],
        capture_output=True, text=True, timeout=600, check=False, cwd=notebook.parent,
    )


def _notebook(path: Path, *sources: str) -> None:
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    cells[0].metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nbformat.write(notebook, path)


def test_make_workshop_runs_every_notebook_at_tiny_scale(tmp_path: Path) -> None:
    state_dir, out = tmp_path / ".fraudkit", tmp_path / "build"
    proc = _workshop("--backend", "local", "--scale", "tiny", "--seed", "42", "--state-dir", str(state_dir),
                     "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "workshop.json").read_text())
    expected = [path.stem for path in discover_notebooks(NOTEBOOKS)]
    assert [run["name"] for run in summary["notebooks"]] == expected
    assert {run["status"] for run in summary["notebooks"]} == {"ok"}
    figures = {run["name"]: run["figures"] for run in summary["notebooks"]}
    for name in expected:
        if name[:2] <= "06":  # the stages with headline figures, read before 99_cleanup removes the state
            assert figures[name] and "figures unavailable" not in figures[name], (name, figures[name])
    assert figures["05_streaming"]["demo"] == "passed" and figures["05_streaming"]["latency p99"].endswith(" ms")
    assert figures["06_evaluate"]["handbook AP"].endswith("(Handbook 0.687)")
    index = (out / "index.html").read_text()
    assert "latency p50" in index and index.count("data:image/png;base64,") >= 2
    for name in expected:
        assert f"<a href='{name}.html'>" in index
        assert (out / f"{name}.html").stat().st_size > 0
        executed = nbformat.read(out / f"{name}.ipynb", as_version=4)
        injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and 'scale = "tiny"' in injected[0].source
    # the runner stopped what it started, and 99_cleanup removed the state
    assert running_services(state_dir) == {}
    assert not state_dir.exists()


def test_a_broken_notebook_fails_the_run_and_stops_it(tmp_path: Path) -> None:
    notebooks, out, state_dir = tmp_path / "notebooks", tmp_path / "build", tmp_path / ".fraudkit"
    notebooks.mkdir()
    parameters = "backend = scale = seed = state_dir = None"
    _notebook(notebooks / "10_fine.ipynb", parameters, "print('fine')")
    _notebook(notebooks / "20_broken.ipynb", parameters, "raise ValueError('deliberately broken')")
    _notebook(notebooks / "30_never.ipynb", parameters, "print('unreachable')")
    proc = _workshop("--scale", "tiny", "--state-dir", str(state_dir), "--out", str(out),
                     "--notebooks-dir", str(notebooks))
    assert proc.returncode == 1
    # cell 3 of the executed copy: parameters, papermill's injected parameters, the broken cell
    assert "20_broken failed at cell 3: ValueError: deliberately broken" in proc.stderr
    runs = json.loads((out / "workshop.json").read_text())["notebooks"]
    assert [(run["name"], run["status"]) for run in runs] == [("10_fine", "ok"), ("20_broken", "failed")]
    assert "deliberately broken" in (out / "20_broken.html").read_text()
    assert not (out / "30_never.ipynb").exists()
    assert running_services(state_dir) == {}


def test_nbval_passes_on_fresh_outputs_and_fails_on_a_stale_one(tmp_path: Path) -> None:
    copy = tmp_path / "01_generate_data.ipynb"
    shutil.copy(NOTEBOOKS / "01_generate_data.ipynb", copy)
    runs = refresh_committed([copy], keep=[copy], quiet=True)
    assert [run.status for run in runs] == ["ok"]
    with patched_environ(committed_output_env(tmp_path / "nbval" / ".fraudkit")):
        fresh = _nbval(copy)
        assert fresh.returncode == 0, fresh.stdout[-3000:]
        notebook = nbformat.read(copy, as_version=4)
        summary = next(
            output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
            if "transactions ┆ cards" in output.get("data", {}).get("text/plain", "")
        )
        summary.data["text/plain"] = summary.data["text/plain"].replace("50000", "49999")
        assert "49999" in summary.data["text/plain"]
        nbformat.write(notebook, copy)
        stale = _nbval(copy)
    assert stale.returncode == 1
    assert "1 failed" in stale.stdout and "49999" in stale.stdout


def test_notebook_00_on_aws_without_credentials_stops_with_what_is_missing(tmp_path: Path) -> None:
    no_aws = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none"),
              "AWS_EC2_METADATA_DISABLED": "true"}
    saved = {name: os.environ.pop(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                      "AWS_SESSION_TOKEN", "AWS_PROFILE") if name in os.environ}
    try:
        with patched_environ(no_aws):
            run = execute_notebook(NOTEBOOKS / "00_setup.ipynb", tmp_path / "00_setup.ipynb",
                                   {"backend": "aws", "scale": "tiny", "state_dir": str(tmp_path / ".fraudkit")})
    finally:
        os.environ.update(saved)
    assert run.status == "failed"
    assert "StackNotReady: backend 'aws' needs AWS credentials" in run.error
    assert not (tmp_path / ".fraudkit").exists()
