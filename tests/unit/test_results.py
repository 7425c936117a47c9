"""The results page and the per-notebook lines, from executed notebooks and stage outputs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import nbformat
import orjson
import pytest
from fraudkit.config import Settings
from fraudkit.results import (
    NotebookResult,
    cell_seconds,
    collect,
    notebook_figures,
    plots,
    printed_value,
    render_page,
)
from fraudkit.streaming.demo import last_decisions_path

# a 1x1 PNG: enough for the page to embed and a browser to decode
PIXEL = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cf"
        "c0f01f0005000201e0a4f8c20000000049454e44ae426082"
    )
).decode()


def executed_notebook(path: Path, *cells: tuple[str, list[dict[str, object]], float]) -> nbformat.NotebookNode:
    """A notebook as papermill leaves it: code cells with outputs and their durations."""
    notebook = nbformat.v4.new_notebook()
    for source, outputs, seconds in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [nbformat.from_dict(output) for output in outputs]
        cell.metadata["papermill"] = {"duration": seconds}
        notebook.cells.append(cell)
    nbformat.write(notebook, path)
    return notebook


def stream(text: str) -> dict[str, object]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def image() -> dict[str, object]:
    return {"output_type": "display_data", "data": {"image/png": PIXEL, "text/plain": "<Figure>"}, "metadata": {}}


def test_cell_durations_printed_values_and_plots_come_from_the_executed_notebook(tmp_path: Path) -> None:
    notebook = executed_notebook(
        tmp_path / "04_train_deploy.ipynb",
        ("settings = 1", [], 0.1),
        ("artifact = train_and_save()", [stream("split: time\nvalidation average precision: 0.812\n")], 7.5),
        ("figure = plot()", [image()], 0.2),
    )
    assert cell_seconds(notebook, "train_and_save(") == 7.5 and cell_seconds(notebook, "absent(") is None
    assert printed_value(notebook, "validation average precision:") == "0.812"
    assert plots(notebook) == [PIXEL]
    assert notebook_figures("04", notebook, Settings()) == {"validation AP": "0.812"}


def test_demo_and_evaluation_figures_come_from_the_stages_outputs(tmp_path: Path) -> None:
    settings = Settings(scale="tiny", state_dir=tmp_path / ".fraudkit")
    decisions = [{"decision": "NOT FRAUD", "latency_ms": 20.0}] * 3 + [{"decision": "NOT FRAUD", "latency_ms": 30.0}]
    decisions += [{"decision": "FRAUD", "latency_ms": 40.0}] * 9
    last_decisions_path(settings).parent.mkdir(parents=True)
    last_decisions_path(settings).write_bytes(orjson.dumps(decisions))
    figures = notebook_figures("05", nbformat.v4.new_notebook(), settings)
    assert figures == {"demo": "passed", "burst flagged": "9 of 9", "latency p50": "40 ms", "latency p99": "40 ms"}

    reports = settings.state_dir / "reports" / "tiny"
    reports.mkdir(parents=True)
    metrics = {"average_precision": 0.9, "roc_auc": 0.95, "card_precision_at_100": 0.4}
    (reports / "cards.json").write_text(json.dumps({**metrics, "reference": metrics}))
    (reports / "handbook.json").write_text(json.dumps(metrics))
    figures = notebook_figures("06", nbformat.v4.new_notebook(), settings)
    assert figures["cards AP"] == "0.900 (reference 0.900)"
    assert figures["handbook ROC-AUC"] == "0.950 (Handbook 0.869)"
    assert figures["handbook CP@100"] == "0.400 (Handbook 0.303)"

    (reports / "warehouse.json").write_text(json.dumps({**metrics, "reference": {**metrics, "roc_auc": 0.8}}))
    notebook = executed_notebook(
        tmp_path / "07_sql_warehouse.ipynb",
        ("ingest()", [stream("published 10 transactions\nwarehouse rows: 10 (10 distinct ids); malformed messages: 0\n")], 1.0),
    )
    figures = notebook_figures("07", notebook, settings)
    assert figures["warehouse rows"] == "10"
    assert figures["in-SQL model ROC-AUC"] == "0.950 (reference 0.800)"


def test_missing_stage_output_is_said_not_raised(tmp_path: Path) -> None:
    executed_notebook(tmp_path / "05_streaming.ipynb", ("x = 1", [], 0.1))
    settings = Settings(state_dir=tmp_path / "empty")
    result = collect(NotebookResult("05_streaming", "ok", 1.0), tmp_path / "05_streaming.ipynb", settings)
    assert list(result.figures) == ["figures unavailable"]
    failed = collect(NotebookResult("05_streaming", "failed", 1.0, "cell 3: E"), tmp_path / "05_streaming.ipynb", settings)
    assert failed.figures == {}


def test_one_line_per_notebook_with_status_time_and_figures() -> None:
    line = NotebookResult("05_streaming", "ok", 6.04, figures={"demo": "passed", "latency p50": "21 ms"}).line()
    assert line.split() == ["05_streaming", "ok", "6.0", "s", "demo", "passed;", "latency", "p50", "21", "ms"]


@pytest.fixture
def page(tmp_path: Path) -> str:
    executed_notebook(tmp_path / "06_evaluate.ipynb", ("display(plot)", [image(), image()], 1.0))
    results = [
        NotebookResult("01_generate_data", "ok", 3.2, figures={"cards": "50,000 transactions"}),
        NotebookResult("06_evaluate", "ok", 12.0, figures={"cards AP": "0.900 (reference 0.500)"}),
        NotebookResult("99_cleanup", "failed", 0.5, "cell 3: ValueError: a < b"),
    ]
    return render_page(results, Settings(scale="tiny"), tmp_path)


def test_page_lists_status_time_figures_links_and_plots(page: str) -> None:
    assert "scale tiny" in page
    assert "<a href='01_generate_data.html'>01_generate_data</a> (<a href='01_generate_data.ipynb'>ipynb</a>)" in page
    assert "<td class='ok'>ok</td><td>3.2 s</td>" in page
    assert "<dt>cards</dt><dd class='figure'>50,000 transactions</dd>" in page
    assert "<td class='failed'>failed</td>" in page and "ValueError: a &lt; b" in page
    assert page.count(f"src='data:image/png;base64,{PIXEL}'") == 2
