"""Rewrite the README's benchmark block (between the markers below) from a benchmark report's JSON.

    .venv/bin/python tools/bench_readme.py [--report build/bench/report.json] [--readme README.md]

The block holds the report's summary table with the machine, load and versions line, rendered by
bench/run.py's own `summary_markdown`, so the README and build/bench/report.md never disagree.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- bench-summary:start -->", "<!-- bench-summary:end -->"


def bench_run_module() -> ModuleType:
    """bench/run.py, loaded by path (bench/ is a directory of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rewrite(readme: str, report: dict) -> str:
    """`readme` with the text between START and END replaced by the report's summary."""
    if readme.count(START) != 1 or readme.count(END) != 1 or readme.index(START) > readme.index(END):
        raise ValueError(f"the README needs exactly one {START} ... {END} block")
    head, rest = readme.split(START)
    _, tail = rest.split(END)
    summary = bench_run_module().summary_markdown(report)
    return f"{head}{START}\n{summary}{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=ROOT / "build" / "bench" / "report.json")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args()
    if not args.report.is_file():
        print(f"bench_readme: no report at {args.report}: run `make bench` first", file=sys.stderr)
        return 1
    try:
        text = rewrite(args.readme.read_text(), json.loads(args.report.read_text()))
    except ValueError as error:
        print(f"bench_readme: {args.readme}: {error}", file=sys.stderr)
        return 1
    args.readme.write_text(text)
    print(f"bench_readme: {args.readme} updated from {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
