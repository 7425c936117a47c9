"""Every committed notebook follows the workshop's conventions (read as files; no kernel needed).

papermill needs the `parameters` cell to inject the run's settings, nbval and CI need a kernel that
exists in a fresh clone, and no notebook may hand state to another through %store or globals.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from fraudkit.workshop import KERNEL_NAME, discover_notebooks

NOTEBOOKS = discover_notebooks(Path(__file__).resolve().parents[2] / "notebooks")
SETTINGS_CALL = "Settings.load(backend=backend, scale=scale, seed=seed, state_dir=state_dir)"


def _code_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]


def test_the_workshop_notebooks_are_there() -> None:
    names = [path.stem.split("_")[0] for path in NOTEBOOKS]
    assert names[0] == "00" and names[1] == "01" and names[-1] == "99"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_parameters_cell_then_settings(path: Path) -> None:
    cells = _code_cells(path)
    assert cells[0].metadata.get("tags") == ["parameters"], "the first code cell must be tagged `parameters`"
    assigned = {
        target.id: node.value
        for node in ast.parse(cells[0].source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for name in ("backend", "scale", "seed", "state_dir"):
        value = assigned.get(name)
        assert isinstance(value, ast.Constant) and value.value is None, f"{name} = None missing"
    assert SETTINGS_CALL in cells[1].source.replace("\n", " ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_runs_in_a_fresh_clone_and_hands_no_state_over(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata.kernelspec.name == KERNEL_NAME
    assert "papermill" not in notebook.metadata, "stored with papermill's run metadata: use --refresh-committed"
    for cell in _code_cells(path):
        assert "%store" not in cell.source
        assert all(output.output_type != "error" for output in cell.outputs), "stored with a failed cell"


def _sanitized(text: str) -> str:
    from nbval.plugin import get_sanitize_patterns

    for regex, replace in get_sanitize_patterns((Path(__file__).parent / "sanitize.cfg").read_text()):
        text = re.sub(regex, replace, text)
    return text


def test_a_slow_decision_in_the_stored_demo_table_does_not_change_it_for_nbval() -> None:
    """The demo table's latencies depend on the machine: one outlier with an extra digit must compare equal,
    while a changed decision must not."""
    (path,) = [path for path in NOTEBOOKS if path.stem.startswith("05_")]
    (stored,) = [
        "".join(output.data["text/plain"])
        for cell in _code_cells(path) if cell.source.strip() == "live.frame()"
        for output in cell.outputs if "text/plain" in output.get("data", {})
    ]
    latencies = re.findall(r" +\d+\.\d ms", stored)
    assert len(latencies) == 13
    slow = stored.replace(latencies[-2], "  139.0 ms".rjust(len(latencies[-2])), 1)
    assert slow != stored and _sanitized(slow) == _sanitized(stored)
    changed = stored.replace("      FRAUD", "  NOT FRAUD", 1)
    assert _sanitized(changed) != _sanitized(stored)
