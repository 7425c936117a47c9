"""Run every benchmark (bench/bench_*.py) in its own process and write a Markdown and JSON report.

Contract for a benchmark module: run as `python bench/bench_NAME.py [--scale S]`, it prints progress
to stderr and, as the last line of stdout, one JSON object:
    {"name": str, "results": [{"metric": str, "value": float, "unit": str,
                                "baseline": float | null, "ratio": float | null,
                                "target": str, "met": bool | null}], "notes": str}
`baseline` is measured in the same run (never a constant); `ratio` says how ours compares with it.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_one(script: Path, scale: str, timeout: int) -> dict:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(script), "--scale", scale],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    elapsed = time.perf_counter() - started
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        report = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        report = {"name": script.stem, "results": [], "notes": f"failed (exit {proc.returncode}): {proc.stderr[-2000:]}"}
    report["wall_seconds"] = round(elapsed, 2)
    return report


def to_markdown(reports: list[dict], scale: str) -> str:
    out = [
        "# fraudkit benchmark report",
        "",
        f"Scale `{scale}` on {platform.node()} ({platform.machine()}, Python {platform.python_version()}).",
        "Every baseline was measured in the same run.",
        "",
        "| benchmark | metric | value | unit | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rep in reports:
        for r in rep.get("results", []):
            def fmt(v: object) -> str:
                return "" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
            out.append(
                f"| {rep['name']} | {r['metric']} | {fmt(r['value'])} | {r.get('unit', '')} | {fmt(r.get('baseline'))}"
                f" | {fmt(r.get('ratio'))} | {r.get('target', '')} | {fmt(r.get('met'))} |"
            )
    out.append("")
    for rep in reports:
        if rep.get("notes"):
            out += [f"**{rep['name']}** ({rep['wall_seconds']} s): {rep['notes']}", ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "report"), help="report path without extension")
    parser.add_argument("--scale", default="full", choices=["tiny", "small", "full"])
    parser.add_argument("--only", nargs="*", help="benchmark names to run (bench_NAME.py)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds allowed per benchmark")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
    reports = []
    for script in scripts:
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        reports.append(run_one(script, args.scale, args.timeout))
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(reports, indent=2))
    out.with_suffix(".md").write_text(to_markdown(reports, args.scale))
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
