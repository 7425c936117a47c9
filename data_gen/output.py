"""Writing generated tables so that no reader ever sees a half-written file.

Everything is written under a temporary name in the destination's own directory (same filesystem), then
renamed into place; a run that is killed leaves at most a hidden `.partial-*` directory, never a file with the
real name. Parquet writer options are fixed so the same frames give the same bytes on every machine.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import polars as pl

PARQUET_OPTIONS: dict = {
    "compression": "zstd",
    "compression_level": 1,  # random 32-hex ids barely compress: a higher level only costs time
    "statistics": True,
    "row_group_size": 1_048_576,
}
PARTIAL_PREFIX = ".partial-"


def write_tables(tables: Mapping[str, pl.DataFrame], directory: Path, csv: bool = False) -> list[Path]:
    """`<name>.parquet` (and `<name>.csv` when asked) for every table, in name order; the written paths."""
    written = []
    for name in sorted(tables):
        frame = tables[name].rechunk()  # the chunk layout must not depend on how the frame was built
        frame.write_parquet(directory / f"{name}.parquet", **PARQUET_OPTIONS)
        written.append(directory / f"{name}.parquet")
        if csv:
            frame.write_csv(directory / f"{name}.csv")
            written.append(directory / f"{name}.csv")
    return written


@contextmanager
def staging_directory(parent: Path) -> Iterator[Path]:
    """A fresh hidden directory inside `parent` (created if needed), removed with whatever is left in it."""
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def move_files_into(staging: Path, destination: Path) -> list[Path]:
    """Rename every file of `staging` into `destination` (same filesystem, so each rename is atomic)."""
    moved = []
    for path in sorted(staging.iterdir()):
        os.replace(path, destination / path.name)
        moved.append(destination / path.name)
    return moved


def publish_directory(staging: Path, target: Path) -> None:
    """Make the complete `staging` directory appear as `target` in one rename.

    If `target` already exists (a concurrent run won the race, or a damaged earlier copy), the existing one is
    kept when it holds every file `staging` has, else it is replaced.
    """
    try:
        staging.rename(target)
        return
    except OSError:
        if not target.is_dir():
            raise
    if all((target / path.name).is_file() for path in staging.iterdir()):
        return
    retired = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=target.parent))
    target.rename(retired / target.name)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
