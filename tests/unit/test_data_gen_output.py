"""Atomic, deterministic writing of generated tables."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from data_gen.output import move_files_into, publish_directory, staging_directory, write_tables


def test_the_chunk_layout_does_not_change_the_bytes(tmp_path: Path) -> None:
    part = pl.DataFrame({"a": list(range(1000)), "b": [str(i) for i in range(1000)]})
    chunked = pl.concat([part, part, part], rechunk=False)
    assert chunked.n_chunks() > 1
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    write_tables({"t": chunked}, tmp_path / "x")
    write_tables({"t": chunked.rechunk()}, tmp_path / "y")
    assert (tmp_path / "x" / "t.parquet").read_bytes() == (tmp_path / "y" / "t.parquet").read_bytes()


def test_staging_is_removed_even_when_writing_fails(tmp_path: Path) -> None:
    try:
        with staging_directory(tmp_path / "out") as staging:
            (staging / "half.parquet").write_bytes(b"PAR1")
            raise RuntimeError("killed mid-write")
    except RuntimeError:
        pass
    assert list((tmp_path / "out").iterdir()) == []


def test_files_appear_only_when_moved(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with staging_directory(out) as staging:
        write_tables({"t": pl.DataFrame({"a": [1]})}, staging, csv=True)
        assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == []
        moved = move_files_into(staging, out)
    assert sorted(p.name for p in moved) == ["t.csv", "t.parquet"]
    assert sorted(p.name for p in out.iterdir()) == ["t.csv", "t.parquet"]


def test_publish_keeps_a_complete_target_and_replaces_a_damaged_one(tmp_path: Path) -> None:
    def staged(content: str) -> Path:
        staging = tmp_path / f".partial-{content}"
        staging.mkdir()
        (staging / "a.parquet").write_text(content)
        (staging / "b.parquet").write_text(content)
        return staging

    target = tmp_path / "cards"
    publish_directory(staged("first"), target)
    publish_directory(staged("second"), target)  # a concurrent run lost the race: the first copy stays
    assert (target / "a.parquet").read_text() == "first"
    (target / "b.parquet").unlink()
    publish_directory(staged("third"), target)  # damaged copy: replaced as a whole
    assert {p.name: p.read_text() for p in target.iterdir()} == {"a.parquet": "third", "b.parquet": "third"}
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".partial-")) == ["cards"]
