"""The results of a workshop run at a glance: headline figures per notebook and the results page.

Figures come from what the stages leave behind (data sets, the demo's decisions, the evaluation
reports) and from the executed notebooks themselves (papermill's cell durations, the lines a cell
printed, the plots it drew), so the notebooks stay free of reporting code. A figure whose source is
missing (its notebook failed or did not run) is left out rather than failing the run's report.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from fraudkit.config import Settings

# the Fraud Detection Handbook's published XGBoost results on the same simulator (DESIGN.md)
HANDBOOK_BASELINE = {"average_precision": 0.687, "roc_auc": 0.869, "card_precision_at_100": 0.303}
METRIC_LABELS = {"average_precision": "AP", "roc_auc": "ROC-AUC", "card_precision_at_100": "CP@100"}
PLOT_NOTEBOOKS = ("05", "06")  # whose drawn plots the page embeds


@dataclass
class NotebookResult:
    """One executed notebook's status, time and headline figures (label -> formatted value)."""

    name: str
    status: str  # "ok" or "failed"
    seconds: float
    error: str = ""
    figures: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        """The one line the workshop prints for this notebook."""
        figures = "; ".join(f"{label} {value}" for label, value in self.figures.items())
        head = f"{self.name:<22} {self.status:<6} {self.seconds:6.1f} s"
        return f"{head}  {figures}" if figures else head


def _read(executed: Path) -> nbformat.NotebookNode | None:
    return nbformat.read(executed, as_version=4) if executed.is_file() else None


def _cells_with(notebook: nbformat.NotebookNode, needle: str) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code" and needle in cell.source]


def cell_seconds(notebook: nbformat.NotebookNode, needle: str) -> float | None:
    """How long papermill took on the first code cell whose source contains `needle`."""
    for cell in _cells_with(notebook, needle):
        duration = cell.metadata.get("papermill", {}).get("duration")
        if duration is not None:
            return float(duration)
    return None


def _stdout(cell: nbformat.NotebookNode) -> list[str]:
    return [line for output in cell.get("outputs", []) for line in str(output.get("text", "")).splitlines()]


def printed_value(notebook: nbformat.NotebookNode, prefix: str) -> str | None:
    """What follows `prefix` on the first line a cell printed that starts with it."""
    for cell in notebook.cells:
        for line in _stdout(cell):
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
    return None


def plots(notebook: nbformat.NotebookNode) -> list[str]:
    """The PNG plots a notebook drew, base64-encoded as stored in its outputs."""
    return [
        str(output["data"]["image/png"]).replace("\n", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]


def _rows(path: Path) -> int:
    import polars as pl

    return int(pl.scan_parquet(path).select(pl.len()).collect().item())


def _percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q))


def demo_figures(settings: Settings) -> dict[str, str]:
    """The live demo's verdict and its decision latencies, from the last demo's decisions."""
    import orjson

    from fraudkit.streaming.demo import demo_verdict, last_decisions_path

    decisions: list[dict[str, Any]] = orjson.loads(last_decisions_path(settings).read_bytes())
    verdict = demo_verdict(decisions)
    latencies = [float(d["latency_ms"]) for d in decisions]
    return {
        "demo": "passed" if verdict.passed else "FAILED",
        "burst flagged": f"{verdict.burst_flagged_after_first} of 9",
        "latency p50": f"{_percentile(latencies, 50):.0f} ms",
        "latency p99": f"{_percentile(latencies, 99):.0f} ms",
    }


def evaluation_figures(settings: Settings) -> dict[str, str]:
    """AP, ROC-AUC and CP@100 of both models, each against its comparison (reference design; Handbook)."""
    reports = settings.state_dir / "reports" / settings.scale
    figures = {}
    cards = json.loads((reports / "cards.json").read_text())
    for key, label in METRIC_LABELS.items():
        figures[f"cards {label}"] = f"{cards[key]:.3f} (reference {cards['reference'][key]:.3f})"
    handbook = json.loads((reports / "handbook.json").read_text())
    for key, label in METRIC_LABELS.items():
        figures[f"handbook {label}"] = f"{handbook[key]:.3f} (Handbook {HANDBOOK_BASELINE[key]:.3f})"
    return figures


def warehouse_figures(notebook: nbformat.NotebookNode, settings: Settings) -> dict[str, str]:
    """The rows the warehouse ingested and its in-SQL model's metrics against the reference configuration."""
    report = json.loads((settings.state_dir / "reports" / settings.scale / "warehouse.json").read_text())
    rows = printed_value(notebook, "warehouse rows:")
    figures = {} if rows is None else {"warehouse rows": rows.split(" (")[0]}
    for key, label in METRIC_LABELS.items():
        figures[f"in-SQL model {label}"] = f"{report[key]:.3f} (reference {report['reference'][key]:.3f})"
    return figures


def notebook_figures(number: str, notebook: nbformat.NotebookNode, settings: Settings) -> dict[str, str]:
    """The headline figures of notebook `number` (its two-digit prefix) after it ran."""
    if number == "00":
        return {"backend": settings.backend, "scale": settings.scale}
    if number == "01":
        return {
            name: f"{_rows(settings.data_dir / name / 'transactions.parquet'):,} transactions"
            for name in ("cards", "handbook")
        }
    if number == "02":
        seconds = cell_seconds(notebook, "ensure_features(")
        return {} if seconds is None else {"features computed in": f"{seconds:.1f} s"}
    if number == "03":
        printed = [line for cell in _cells_with(notebook, "fs.ingest(") for line in _stdout(cell)]
        return {"feature store": printed[0]} if printed else {}
    if number == "04":
        ap = printed_value(notebook, "validation average precision:")
        return {} if ap is None else {"validation AP": ap}
    if number == "05":
        return demo_figures(settings)
    if number == "06":
        return evaluation_figures(settings)
    if number == "07":
        return warehouse_figures(notebook, settings)
    return {}


def collect(result: NotebookResult, executed: Path, settings: Settings) -> NotebookResult:
    """`result` with the figures of its executed notebook (none when the notebook failed)."""
    notebook = _read(executed)
    if result.status != "ok" or notebook is None:
        return result
    try:
        result.figures = notebook_figures(result.name[:2], notebook, settings)
    except (OSError, KeyError, ValueError) as missing:  # a stage's output is absent: no figures, say why
        result.figures = {"figures unavailable": str(missing)}
    return result


_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:70em}td,th{padding:.3em 1em;text-align:left;"
    "vertical-align:top}th{background:#f0f0f0}.ok{color:#1a7f37}.failed{color:#cf222e;font-weight:bold}"
    "dl{margin:0;display:grid;grid-template-columns:max-content auto;gap:0 1em}dt{color:#555}dd{margin:0}"
    "pre{white-space:pre-wrap;color:#cf222e}img{max-width:48%;margin:.5em;border:1px solid #ddd}"
)


def render_page(results: list[NotebookResult], settings: Settings, out_dir: Path) -> str:
    """The results page: per notebook status, time, figures and links; the key plots embedded."""
    rows = []
    for result in results:
        name = html.escape(result.name)
        figures = "".join(
            f"<dt>{html.escape(label)}</dt><dd class='figure'>{html.escape(value)}</dd>"
            for label, value in result.figures.items()
        )
        error = f"<pre>{html.escape(result.error)}</pre>" if result.error else ""
        rows.append(
            f"<tr><td><a href='{name}.html'>{name}</a> (<a href='{name}.ipynb'>ipynb</a>)</td>"
            f"<td class='{result.status}'>{result.status}</td><td>{result.seconds:.1f} s</td>"
            f"<td><dl>{figures}</dl>{error}</td></tr>"
        )
    images = "".join(
        f"<img alt='{html.escape(result.name)} plot' src='data:image/png;base64,{png}'>"
        for result in results
        if result.name[:2] in PLOT_NOTEBOOKS and result.status == "ok"
        for png in plots(_read(out_dir / f"{result.name}.ipynb") or nbformat.v4.new_notebook())
    )
    total = sum(result.seconds for result in results)
    title = f"fraudkit workshop results: backend {settings.backend}, scale {settings.scale}, seed {settings.seed}"
    return (
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{len(results)} notebooks, {total:.0f} s in all. Each name links to the executed notebook.</p>"
        "<table><tr><th>notebook</th><th>status</th><th>time</th><th>results</th></tr>\n"
        + "\n".join(rows)
        + f"\n</table><h2>Plots</h2><div id='plots'>{images or '<p>no plots (05 and 06 did not run)</p>'}</div>"
        "</body></html>\n"
    )
