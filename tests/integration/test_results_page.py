"""The results page in a real browser: headless Chromium loads build/index.html as a user would and
the rendered DOM carries every figure and plot. Skipped where `chromium` is not on PATH (CI installs
nothing with apt; Debian's `chromium` package provides it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fraudkit.config import Settings
from fraudkit.results import NotebookResult, render_page

from tests.unit.test_results import executed_notebook, image

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not on PATH (Debian: apt-get install chromium): results page not checked"
)

# a browser that only renders the file: no network, no profile, no first-run work
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--virtual-time-budget=5000",
)  # fmt: skip

# the script runs in the page after load: a decoded image has a width
DECODED = "<script>onload=()=>document.body.dataset.decoded=[...document.images].filter(i=>i.naturalWidth>0).length</script>"


def _dom(page: Path, profile: Path) -> str:
    proc = subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_chromium_renders_the_figures_and_decodes_the_plots(tmp_path: Path) -> None:
    executed_notebook(tmp_path / "05_streaming.ipynb", ("latency_histogram(decisions)", [image()], 0.3))
    executed_notebook(tmp_path / "06_evaluate.ipynb", ("display(plots)", [image(), image()], 1.0))
    figures = {
        "05_streaming": {"demo": "passed", "latency p50": "21 ms", "latency p99": "38 ms"},
        "06_evaluate": {"cards AP": "0.912 (reference 0.801)", "handbook ROC-AUC": "0.901 (Handbook 0.869)"},
    }
    results = [NotebookResult(name, "ok", 4.0, figures=values) for name, values in figures.items()]
    page = tmp_path / "index.html"
    page.write_text(render_page(results, Settings(scale="tiny"), tmp_path).replace("</body>", DECODED + "</body>"))
    dom = _dom(page, tmp_path / "profile")
    for values in figures.values():
        for label, value in values.items():
            assert f"<dt>{label}</dt><dd class=\"figure\">{value}</dd>" in dom
    assert "<a href=\"05_streaming.html\">05_streaming</a>" in dom
    assert 'data-decoded="3"' in dom, "the three embedded plots did not all decode"
