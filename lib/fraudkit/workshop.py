"""Run the workshop's notebooks in order with papermill, the way `make workshop` does.

Each notebook gets the same parameters (`backend`, `scale`, `seed`, `state_dir`), its executed copy
and an HTML rendering go under the output directory, and `index.html` is the results page
(`fraudkit.results`): status, time and headline figures per notebook, the key plots, links to the
executed copies. The terminal gets one line per notebook with the same figures; a failing cell's
traceback is printed in full. Kernels log errors only: their start-up warning about unencrypted TCP
on loopback is not the user's business. Local services are started before the first notebook and stopped after the last one
(unless they were already running). The run stops at the first failing notebook: later stages read
what earlier ones left behind.

`--refresh-committed` regenerates the outputs stored in notebooks/ that nbval checks: every notebook
is executed at the tiny scale in a fresh state directory, the same environment the nbval conftest
gives the kernels, and written back without papermill's volatile metadata.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import nbformat

from fraudkit.config import Settings, settings_arguments
from fraudkit.results import NotebookResult, collect, render_page
from fraudkit.services import start_detached, stop_local_services

KERNEL_NAME = "python3"  # the venv's own kernel: present in a fresh clone once `make setup` ran
NOTEBOOK_PATTERN = re.compile(r"^(\d\d)_[\w-]+\.ipynb$")
COMMITTED_SCALE = "tiny"
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


class WorkshopError(Exception):
    """A bad command-line input; the message names the argument and the fix."""


def discover_notebooks(notebooks_dir: Path) -> list[Path]:
    """The numbered notebooks (`NN_name.ipynb`) of `notebooks_dir`, in workshop order."""
    return sorted(path for path in notebooks_dir.glob("*.ipynb") if NOTEBOOK_PATTERN.match(path.name))


def select_notebooks(notebooks: list[Path], only: list[str] | None) -> list[Path]:
    """The notebooks whose two-digit number is in `only` (all when `only` is empty)."""
    if not only:
        return notebooks
    numbers = {path.name[:2] for path in notebooks}
    unknown = sorted(set(only) - numbers)
    if unknown:
        raise WorkshopError(
            f"--only {' '.join(unknown)}: no such notebook; choose among {' '.join(sorted(numbers))}"
        )
    return [path for path in notebooks if path.name[:2] in only]


def committed_output_env(state_dir: Path) -> dict[str, str]:
    """The environment the committed (nbval) outputs are produced and checked in: local, tiny, default seed."""
    return {
        "FRAUDKIT_BACKEND": "local",
        "FRAUDKIT_SCALE": COMMITTED_SCALE,
        "FRAUDKIT_SEED": str(Settings().seed),
        "FRAUDKIT_STATE_DIR": str(state_dir),
        # progress bars write carriage returns and timings: keep them out of stored outputs
        "TQDM_DISABLE": "1",
    }


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    """Set `values` (and clear every other FRAUDKIT_* variable) for kernels started inside the block."""
    saved = dict(os.environ)
    for name in [name for name in os.environ if name.startswith("FRAUDKIT_")]:
        del os.environ[name]
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def execute_notebook(source: Path, target: Path, parameters: dict[str, Any] | None) -> NotebookResult:
    """Execute `source` with papermill into `target` (written even when a cell fails)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    error = ""
    try:
        papermill.execute_notebook(
            str(source),
            str(target),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(source.parent),
            progress_bar=False,
            log_output=False,
            extra_arguments=KERNEL_ARGUMENTS,
        )
    except PapermillExecutionError as failure:
        error = f"cell {failure.exec_count}: {failure.ename}: {failure.evalue}"
        traceback = "\n".join(failure.traceback)
        print(f"{source.stem} failed at cell {failure.exec_count}:\n{traceback}", file=sys.stderr)
    return NotebookResult(source.stem, "failed" if error else "ok", time.perf_counter() - started, error)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary name so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def export_html(executed: Path) -> Path:
    """Render an executed notebook as a standalone HTML page next to it."""
    from nbconvert import HTMLExporter

    body, _resources = HTMLExporter().from_filename(str(executed))
    page = executed.with_suffix(".html")
    write_atomically(page, body)
    return page


def write_report(out_dir: Path, runs: list[NotebookResult], settings: Settings) -> None:
    """index.html (the results page) for people, workshop.json (status, seconds and figures per notebook)
    for tools and the README."""
    write_atomically(out_dir / "index.html", render_page(runs, settings, out_dir))
    summary = {
        "backend": settings.backend,
        "scale": settings.scale,
        "seed": settings.seed,
        "notebooks": [asdict(run) for run in runs],
    }
    write_atomically(out_dir / "workshop.json", json.dumps(summary, indent=2) + "\n")


def _progress(notebooks: list[Path], quiet: bool) -> Any:
    from tqdm import tqdm

    return tqdm(notebooks, unit="notebook", file=sys.stderr, disable=quiet or not sys.stderr.isatty())


def _announce(run: NotebookResult, quiet: bool) -> None:
    """One line per finished notebook on stderr, above the progress bar."""
    from tqdm import tqdm

    if not quiet:
        tqdm.write(run.line(), file=sys.stderr)


def run_workshop(settings: Settings, notebooks: list[Path], out_dir: Path, quiet: bool = False) -> list[NotebookResult]:
    """Execute `notebooks` in order into `out_dir`, stopping at the first failure; writes the index."""
    parameters = {
        "backend": settings.backend,
        "scale": settings.scale,
        "seed": settings.seed,
        "state_dir": str(settings.state_dir.resolve()),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    runs: list[NotebookResult] = []
    with settings.provider.workshop_services():
        progress = _progress(notebooks, quiet)
        for source in progress:
            progress.set_description(source.stem)
            # figures are read right away: 99_cleanup removes the state they come from
            run = collect(execute_notebook(source, out_dir / source.name, parameters), out_dir / source.name, settings)
            runs.append(run)
            export_html(out_dir / source.name)
            write_report(out_dir, runs, settings)
            _announce(run, quiet)
            if run.status != "ok":
                break
    return runs


def strip_volatile_metadata(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop what changes on every execution (papermill timings and status, cell execution times) and
    the empty tag lists papermill adds, so a refresh only changes the outputs."""
    notebook.metadata.pop("papermill", None)
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
    return notebook


def refresh_committed(notebooks: list[Path], keep: list[Path], quiet: bool = False) -> list[NotebookResult]:
    """Re-execute all `notebooks` in order at the tiny scale; store those in `keep` back with outputs.

    All of them run (in one fresh state directory, like nbval) so each stored output is what nbval
    will see, whatever the earlier notebooks left behind.
    """
    runs: list[NotebookResult] = []
    with tempfile.TemporaryDirectory(prefix="fraudkit-refresh-") as scratch:
        state_dir = Path(scratch) / ".fraudkit"
        try:
            start_detached(state_dir)  # as the nbval conftest does before the first notebook
            with patched_environ(committed_output_env(state_dir)):
                for source in _progress(notebooks, quiet):
                    executed = Path(scratch) / source.name
                    run = execute_notebook(source, executed, parameters=None)
                    runs.append(run)
                    _announce(run, quiet)
                    if run.status != "ok":
                        break
                    if source in keep:
                        notebook = strip_volatile_metadata(nbformat.read(executed, as_version=4))
                        write_atomically(source, nbformat.writes(notebook) + "\n")
        finally:
            stop_local_services(state_dir)
    return runs


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fraudkit.workshop",
        parents=[settings_arguments()],
        description="Run the workshop notebooks in order with papermill; executed copies and an HTML index "
        "go to --out. Local services are started and stopped automatically.",
    )
    parser.add_argument("--out", type=Path, default=Path("build"), help="where executed notebooks go (default: build)")
    parser.add_argument("--notebooks-dir", type=Path, default=Path("notebooks"), help="default: notebooks")
    parser.add_argument("--only", nargs="+", metavar="NN", help="run only these notebooks, e.g. --only 00 01")
    parser.add_argument(
        "--refresh-committed",
        action="store_true",
        help="re-execute the notebooks at the tiny scale and store their outputs in place (for nbval)",
    )
    return parser.parse_args(argv)


def _settings_from(args: argparse.Namespace) -> Settings:
    if args.refresh_committed and args.scale not in (None, COMMITTED_SCALE):
        raise WorkshopError(
            f"--scale {args.scale}: committed outputs are at the {COMMITTED_SCALE} scale; "
            f"use --scale {COMMITTED_SCALE} with --refresh-committed"
        )
    if not args.notebooks_dir.is_dir():
        raise WorkshopError(f"--notebooks-dir {args.notebooks_dir}: not a directory; run from the kit's root")
    return Settings.from_args(args)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        settings = _settings_from(args)
        notebooks = discover_notebooks(args.notebooks_dir)
        selected = select_notebooks(notebooks, args.only)
    except (WorkshopError, ValueError) as error:
        print(f"fraudkit.workshop: error: {error}", file=sys.stderr)
        return 2
    try:
        if args.refresh_committed:
            runs = refresh_committed(notebooks, keep=selected, quiet=args.quiet)
        else:
            runs = run_workshop(settings, selected, args.out, quiet=args.quiet)
    except RuntimeError as error:  # the local services did not start
        print(f"fraudkit.workshop: error: {error}", file=sys.stderr)
        return 1
    failed = [run for run in runs if run.status != "ok"]
    for run in failed:
        print(f"fraudkit.workshop: {run.name} failed at {run.error}", file=sys.stderr)
    if not args.refresh_committed and not args.quiet:
        print(f"results page: {args.out / 'index.html'} (executed notebooks next to it)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
