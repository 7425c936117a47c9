"""The features file as other tools read it: `write_parquet_atomically`'s output in pandas, pyarrow and DuckDB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
from fraudkit.features import compute_card_features
from fraudkit.features.store import write_parquet_atomically

from data_gen.cards import generate as generate_cards


def test_the_written_file_reads_back_equal_in_polars_pandas_pyarrow_and_duckdb(tmp_path: Path) -> None:
    features = compute_card_features(generate_cards(transactions=500, cards=10, seed=5))
    path = tmp_path / "features.parquet"
    write_parquet_atomically(features, path)

    assert pl.read_parquet(path).equals(features)
    assert pl.DataFrame(pq.read_table(path)).equals(features)
    from_pandas = pd.read_parquet(path)
    assert list(from_pandas.columns) == features.columns
    assert from_pandas["num_trans_last_1w"].tolist() == features["num_trans_last_1w"].to_list()
    assert from_pandas["avg_amt_last_10m"].tolist() == features["avg_amt_last_10m"].to_list()
    rows = duckdb.connect().execute(f"SELECT tid, event_time, amt_ratio2 FROM '{path}' ORDER BY event_time, tid").fetchall()
    expected = features.sort("event_time", "tid").select("tid", "event_time", "amt_ratio2").rows()
    assert [(tid, when.astimezone(dt.UTC), ratio) for tid, when, ratio in rows] == expected
