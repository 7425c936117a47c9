"""The command line and the on-disk features file (`ensure_features`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from fraudkit.config import Settings
from fraudkit.features import CARD_FEATURES, HANDBOOK_FEATURES, compute_card_features, ensure_features

from data_gen.cards import generate as generate_cards


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fraudkit.features", *args], capture_output=True, text=True,
                          check=False, timeout=120)


@pytest.fixture(scope="module")
def transactions_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cards") / "transactions.parquet"
    generate_cards(transactions=2_000, cards=30, seed=3).write_parquet(path)
    return path


@pytest.mark.parametrize("engine", ["polars", "duckdb", "pandas"])
def test_cli_writes_every_input_row_and_column_plus_the_features(transactions_file: Path, tmp_path: Path,
                                                                  engine: str) -> None:
    out = tmp_path / "features.parquet"
    result = run_cli("cards", "--input", str(transactions_file), "--out", str(out), "--engine", engine)
    assert result.returncode == 0, result.stderr
    written, source = pl.read_parquet(out), pl.read_parquet(transactions_file)
    assert written.select(source.columns).equals(source)
    assert written.columns == [*source.columns, *CARD_FEATURES.feature_names]
    assert written.equals(compute_card_features(source, engine))
    assert sorted(os.listdir(tmp_path)) == ["features.parquet"]


def test_cli_missing_input_is_a_one_line_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "features.parquet"
    result = run_cli("handbook", "--input", str(tmp_path / "absent.parquet"), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--input" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_cli_wrong_layout_names_the_missing_columns(transactions_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "features.parquet"
    result = run_cli("handbook", "--input", str(transactions_file), "--out", str(out))
    assert result.returncode == 2
    assert "customer_id" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_unreadable_parquet_is_a_usage_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.parquet"
    garbage.write_text("not parquet")
    result = run_cli("cards", "--input", str(garbage), "--out", str(tmp_path / "f.parquet"))
    assert result.returncode == 2 and "--input" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.parquet"]


def test_cli_unwritable_output_is_a_usage_error(transactions_file: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("cards", "--input", str(transactions_file), "--out", str(blocker / "features.parquet"))
    assert result.returncode == 2 and "--out" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.parametrize("kind", ["cards", "handbook"])
def test_ensure_features_writes_once_and_rebuilds_when_the_data_changes(tmp_path: Path, kind: str) -> None:
    settings = Settings.load(scale="tiny", seed=5, state_dir=tmp_path)
    path = ensure_features(kind, settings)
    assert path == settings.data_dir / kind / "features.parquet"
    written = pl.read_parquet(path)
    transactions = pl.read_parquet(settings.data_dir / kind / "transactions.parquet")
    feature_set = CARD_FEATURES if kind == "cards" else HANDBOOK_FEATURES
    assert written.columns == [*transactions.columns, *feature_set.feature_names]
    assert written.height == transactions.height

    first_write = path.stat().st_mtime_ns
    assert ensure_features(kind, settings) == path
    assert path.stat().st_mtime_ns == first_write  # reused, not recomputed

    source = settings.data_dir / kind / "transactions.parquet"
    later = first_write + 5_000_000_000
    os.utime(source, ns=(later, later))
    ensure_features(kind, settings)
    assert path.stat().st_mtime_ns != first_write


def test_ensure_features_rebuilds_a_file_missing_a_feature(tmp_path: Path) -> None:
    settings = Settings.load(scale="tiny", seed=5, state_dir=tmp_path)
    path = ensure_features("cards", settings)
    pl.read_parquet(path).drop("count_ratio").write_parquet(path)  # as written by an older specification
    ensure_features("cards", settings)
    assert "count_ratio" in pl.read_parquet_schema(path)
