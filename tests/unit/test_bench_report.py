"""bench/run.py's report (JSON, Markdown, plots, summary), the README tool, and the report plumbing of the
workshop and cold-stream modules, built from canned module outputs: no benchmark is run."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run() -> ModuleType:
    return load(BENCH / "run.py", "bench_run")


@pytest.fixture
def bench_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Loads a bench/bench_*.py module the way run.py's child process would see it (bench/ on sys.path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return lambda name: load(BENCH / f"{name}.py", name)


def canned_benchmarks() -> list[dict[str, Any]]:
    load_average = {"min": 1.5, "max": 3.25, "mean": 2.0}
    streaming = {
        "name": "streaming_cold", "exit_status": 0, "wall_seconds": 12.5, "load_average": load_average, "notes": "three runs",
        "results": [
            {"metric": "run 1 p99 latency", "value": 87.5, "unit": "ms", "baseline": 70.0, "ratio": 1.25,
             "target": "<= 100 ms", "met": True, "headline": True},
            {"metric": "run 1 p50 latency", "value": 30.0, "unit": "ms", "baseline": None, "ratio": None,
             "target": "report", "met": None, "headline": False},
        ],
        "plots": [
            # the last bin is an overflow bin (30 ms to the slowest): drawn at the common width
            {"kind": "histogram", "title": "Decision latency", "xlabel": "ms", "edges": [0, 10, 20, 30, 400],
             "counts": [5, 9, 2, 1], "target": 25.0},
            {"kind": "lines", "title": "p99 by second", "xlabel": "s", "ylabel": "ms", "x": [1, 2, 3],
             "lines": {"run 1": [50.0, 60.0, 55.0], "run 2": [40.0, 45.0]}},
        ],
    }
    # a module written before headlines existed: its rows with a verdict make the summary
    legacy = {
        "name": "endpoint", "exit_status": 0, "wall_seconds": 3.0, "load_average": load_average, "notes": "",
        "results": [
            {"metric": "one-row p99", "value": 2.5, "unit": "ms", "baseline": 1.25, "ratio": 2.0, "target": "<= 5 ms",
             "met": True},
            {"metric": "one-row p50", "value": 1.5, "unit": "ms", "baseline": 1.0, "ratio": 1.5, "target": "",
             "met": None},
            {"metric": "batched throughput", "value": 123456.0, "unit": "rows/s", "baseline": 234567.0, "ratio": 0.5263,
             "target": ">= 20,000 rows/s", "met": True},
        ],
    }
    failed = {"name": "warehouse", "exit_status": 1, "wall_seconds": 0.5, "load_average": load_average, "results": [],
              "notes": "failed (exit 1): boom"}
    return [streaming, legacy, failed]


def test_report_json_names_the_machine_versions_and_every_module(run: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "report"
    report = run.build_report(canned_benchmarks(), "tiny", out)
    run.write_report(report, out)

    written = json.loads(out.with_suffix(".json").read_text())
    assert written["scale"] == "tiny"
    assert written["machine"]["cores"] == os.cpu_count()
    assert written["machine"]["memory_gib"] > 0
    assert written["versions"]["python"] == f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    assert {"polars", "fraudkit"} <= set(written["versions"])
    assert [b["name"] for b in written["benchmarks"]] == ["streaming_cold", "endpoint", "warehouse"]
    assert written["benchmarks"][0]["load_average"] == {"min": 1.5, "max": 3.25, "mean": 2.0}


def test_plots_are_png_files_next_to_the_report_and_embedded_in_the_markdown(run: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "report"
    report = run.build_report(canned_benchmarks(), "tiny", out)
    run.write_report(report, out)
    markdown = out.with_suffix(".md").read_text()
    files = [plot["file"] for plot in report["benchmarks"][0]["plots"]]
    assert len(files) == 2 and len(set(files)) == 2
    for name, title in zip(files, ("Decision latency", "p99 by second"), strict=True):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC
        assert f"![{title}]({name})" in markdown
    assert json.loads(out.with_suffix(".json").read_text())["benchmarks"][0]["plots"][0]["file"] == files[0]


def test_summary_takes_headline_rows_else_rows_with_a_verdict(run: ModuleType, tmp_path: Path) -> None:
    report = run.build_report(canned_benchmarks(), "tiny", tmp_path / "report")
    chosen = [(bench["name"], row["metric"]) for bench, row in run.summary_rows(report)]
    assert chosen == [("streaming_cold", "run 1 p99 latency"), ("endpoint", "one-row p99"),
                      ("endpoint", "batched throughput"), ("warehouse", "no figures (exit status 1; see its section)")]


def test_summary_markdown_shows_values_baselines_ratios_load_and_the_machine(run: ModuleType, tmp_path: Path) -> None:
    report = run.build_report(canned_benchmarks(), "small", tmp_path / "report")
    summary = run.summary_markdown(report)
    assert f"on {os.cpu_count()} cores" in summary
    assert "at scale `small`" in summary and "polars " in summary
    assert "| streaming_cold | run 1 p99 latency | 87.5 ms | 70 ms | 1.25 | <= 100 ms | yes | 1.5-3.2 |" in summary
    assert "| endpoint | batched throughput | 123,456 rows/s | 234,567 rows/s | 0.5263 | >= 20,000 rows/s | yes |" in summary
    assert "one-row p50" not in summary


def test_full_markdown_lists_every_row_and_the_failure(run: ModuleType, tmp_path: Path) -> None:
    report = run.build_report(canned_benchmarks(), "tiny", tmp_path / "report")
    markdown = run.to_markdown(report)
    assert "| endpoint | one-row p50 | 1.5 ms | 1 ms | 1.5 |  |  |" in markdown
    assert "## warehouse" in markdown and "failed (exit 1): boom" in markdown


def test_run_one_records_the_module_report_wall_time_and_load(run: ModuleType, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "bench_fake.py"
    script.write_text("import json, sys\nprint('progress', file=sys.stderr)\nprint('not the report')\n"
                      "print(json.dumps({'name': 'fake', 'results': [], 'notes': sys.argv[2]}))\n")
    report = run.run_one(script, "tiny", timeout=60)
    assert report["name"] == "fake" and report["notes"] == "tiny" and report["exit_status"] == 0
    assert report["wall_seconds"] > 0
    assert set(report["load_average"]) == {"min", "max", "mean"}
    assert "    progress\n" in capsys.readouterr().err  # the module's progress is relayed as it runs


def test_run_one_turns_a_crash_or_a_timeout_into_a_failed_entry(run: ModuleType, tmp_path: Path) -> None:
    crash = tmp_path / "bench_crash.py"
    crash.write_text("import sys\nsys.exit('broken on purpose')\n")
    crashed = run.run_one(crash, "tiny", timeout=60)
    assert crashed["name"] == "crash" and crashed["results"] == [] and crashed["exit_status"] == 1
    assert "broken on purpose" in crashed["notes"]
    slow = tmp_path / "bench_slow.py"
    slow.write_text("import time\ntime.sleep(30)\n")
    timed_out = run.run_one(slow, "tiny", timeout=1)
    assert timed_out["exit_status"] is None and "timed out after 1 s" in timed_out["notes"]


def test_readme_tool_rewrites_only_the_marked_block(run: ModuleType, tmp_path: Path) -> None:
    tool = load(ROOT / "tools" / "bench_readme.py", "bench_readme")
    report = run.build_report(canned_benchmarks(), "tiny", tmp_path / "report")
    readme = f"# title\n\nbefore\n{tool.START}\nold table\n{tool.END}\nafter\n"
    rewritten = tool.rewrite(readme, report)
    assert rewritten.startswith("# title\n\nbefore\n") and rewritten.endswith(f"{tool.END}\nafter\n")
    assert "old table" not in rewritten
    assert run.summary_markdown(report) in rewritten
    assert tool.rewrite(rewritten, report) == rewritten
    with pytest.raises(ValueError, match="exactly one"):
        tool.rewrite("# no markers\n", report)


def test_workshop_module_reports_each_notebook_and_the_total_from_a_record(bench_module: Any, tmp_path: Path) -> None:
    workshop = bench_module("bench_workshop")
    record_path = tmp_path / "workshop.json"
    record_path.write_text(json.dumps({"backend": "local", "scale": "small", "seed": 42, "notebooks": [
        {"name": "00_setup", "status": "ok", "seconds": 1.5, "error": "", "figures": {}},
        {"name": "01_generate_data", "status": "ok", "seconds": 4.0, "error": "", "figures": {}},
    ]}))
    record = workshop.recent_record(record_path)
    assert record is not None
    report = workshop.report(record, "tiny")
    rows = {r["metric"]: r for r in report["results"]}
    assert rows["00_setup (ok)"]["value"] == 1.5
    total = rows["all notebooks, scale small"]
    assert total["value"] == 5.5 and total["met"] is True and total["headline"] is True
    os.utime(record_path, (0, 0))  # written in 1970: too old to stand for this run
    assert workshop.recent_record(record_path) is None
    assert workshop.report(None, "tiny")["results"] == []


def test_cold_stream_plots_come_from_the_load_output_when_it_has_the_series(bench_module: Any) -> None:
    cold = bench_module("bench_streaming_cold")
    runs = [{"p99_ms_by_second": [50.0, 60.0], "latency_histogram_ms": {"edges": [0, 5, 10], "counts": [3, 4]}},
            {"p99_ms_by_second": [40.0, 45.0, 41.0]}, {}]
    histogram, lines = cold.plots(runs)
    assert histogram["kind"] == "histogram" and histogram["counts"] == [3, 4]
    assert lines["lines"] == {"run 1": [50.0, 60.0], "run 2": [40.0, 45.0, 41.0]} and lines["x"] == [1, 2, 3]
    assert cold.plots([{}, {}, {}]) == []
