"""The workshop runner's pure parts: notebook selection, CLI errors, stored-output hygiene, the index."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from fraudkit.config import Settings
from fraudkit.workshop import (
    WorkshopError,
    committed_output_env,
    discover_notebooks,
    main,
    patched_environ,
    select_notebooks,
    strip_volatile_metadata,
)


def _touch_notebooks(directory: Path, *names: str) -> None:
    for name in names:
        (directory / name).write_text("{}")


def test_discovers_numbered_notebooks_in_workshop_order(tmp_path: Path) -> None:
    _touch_notebooks(tmp_path, "99_cleanup.ipynb", "01_generate_data.ipynb", "00_setup.ipynb", "scratch.ipynb")
    (tmp_path / "conftest.py").write_text("")
    names = [path.name for path in discover_notebooks(tmp_path)]
    assert names == ["00_setup.ipynb", "01_generate_data.ipynb", "99_cleanup.ipynb"]


def test_only_selects_by_number_and_rejects_unknown_numbers(tmp_path: Path) -> None:
    _touch_notebooks(tmp_path, "00_setup.ipynb", "01_generate_data.ipynb", "99_cleanup.ipynb")
    notebooks = discover_notebooks(tmp_path)
    assert [p.name for p in select_notebooks(notebooks, ["99", "00"])] == ["00_setup.ipynb", "99_cleanup.ipynb"]
    assert select_notebooks(notebooks, None) == notebooks
    with pytest.raises(WorkshopError, match=r"--only 42: no such notebook; choose among 00 01 99"):
        select_notebooks(notebooks, ["42"])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--only", "42"], "--only 42"),
        (["--refresh-committed", "--scale", "small"], "--scale small"),
        (["--seed", "-3"], "seed=-3"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_naming_the_argument(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _touch_notebooks(notebooks, "00_setup.ipynb")
    out = tmp_path / "build"
    code = main([*argv, "--notebooks-dir", str(notebooks), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_missing_notebooks_dir_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--notebooks-dir", str(tmp_path / "nowhere"), "--quiet"]) == 2
    assert "--notebooks-dir" in capsys.readouterr().err


def test_unknown_backend_is_rejected_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--backend", "gcp"])
    assert exit_info.value.code == 2
    assert "--backend" in capsys.readouterr().err


def test_strip_volatile_metadata_keeps_outputs_tags_and_kernel() -> None:
    notebook = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}, "papermill": {"duration": 1.5, "start_time": "t"}}
    )
    cell = nbformat.v4.new_code_cell("print(1)", metadata={"tags": ["parameters"], "papermill": {"status": "completed"}})
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    notebook.cells.append(cell)
    notebook.cells.append(nbformat.v4.new_markdown_cell("prose", metadata={"tags": []}))
    stripped = strip_volatile_metadata(notebook)
    assert dict(stripped.cells[1].metadata) == {}
    assert "papermill" not in stripped.metadata and stripped.metadata.kernelspec.name == "python3"
    assert dict(stripped.cells[0].metadata) == {"tags": ["parameters"]}
    assert stripped.cells[0].outputs[0].text == "1\n"


def test_committed_environment_is_local_tiny_and_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDKIT_SCALE", "full")
    monkeypatch.setenv("FRAUDKIT_EMULATOR_URL", "http://127.0.0.1:1")
    with patched_environ(committed_output_env(tmp_path / ".fraudkit")):
        settings = Settings.load()
        assert (settings.backend, settings.scale, settings.seed) == ("local", "tiny", 42)
        assert settings.state_dir == tmp_path / ".fraudkit"
        assert "FRAUDKIT_EMULATOR_URL" not in os.environ
    assert os.environ["FRAUDKIT_SCALE"] == "full" and os.environ["FRAUDKIT_EMULATOR_URL"] == "http://127.0.0.1:1"
