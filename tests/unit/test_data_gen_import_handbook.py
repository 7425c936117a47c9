"""`python -m data_gen import-handbook`: the Handbook's daily pickles become the kit's transactions.parquet, and
only when the caller trusts them."""

from __future__ import annotations

import datetime as dt
import pickle
import re
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from data_gen import handbook
from data_gen.cli import main
from data_gen.import_handbook import InputDataError, PickleNotTrusted, read_handbook_pickles


def handbook_day(day: int, first_id: int, n: int = 4) -> pd.DataFrame:
    """One day as the Handbook pickles it: upper-case names, ids and times as Python objects."""
    start = dt.datetime(2018, 4, 1) + dt.timedelta(days=day)
    frame = pd.DataFrame(
        {
            "TRANSACTION_ID": range(first_id, first_id + n),
            "TX_DATETIME": [start + dt.timedelta(hours=5 * i) for i in range(n)],
            "CUSTOMER_ID": pd.Series([str(i % 3) for i in range(n)], dtype=object),
            "TERMINAL_ID": pd.Series([7 + i for i in range(n)], dtype=object),
            "TX_AMOUNT": [12.5 * (i + 1) for i in range(n)],
            "TX_TIME_SECONDS": pd.Series([day * 86_400 + 5 * 3600 * i for i in range(n)], dtype=object),
            "TX_TIME_DAYS": pd.Series([day] * n, dtype=object),
            "TX_FRAUD": [int(i == 1) for i in range(n)],
            "TX_FRAUD_SCENARIO": [2 * int(i == 1) for i in range(n)],
        }
    )
    return frame.set_index(frame["TRANSACTION_ID"].rename(None))


@pytest.fixture
def pickles(tmp_path: Path) -> Path:
    data = tmp_path / "simulated-data-raw" / "data"
    data.mkdir(parents=True)
    for day in (1, 0):  # written out of order: the importer sorts
        handbook_day(day, first_id=4 * day).to_pickle(data / f"2018-04-0{day + 1}.pkl")
    return data.parent


def test_pickles_become_the_generators_schema(pickles: Path) -> None:
    frame = read_handbook_pickles(pickles, trust_pickle=True)
    generated = handbook.generate(customers=5, terminals=10, days=2)["transactions"]
    assert frame.schema == generated.schema
    assert frame["transaction_id"].to_list() == list(range(8))
    assert frame["customer_id"].to_list() == [0, 1, 2, 0] * 2
    assert frame["tx_fraud"].sum() == 2 and frame["tx_fraud_scenario"].max() == 2


def test_refused_without_trust(pickles: Path) -> None:
    with pytest.raises(PickleNotTrusted, match="--trust-pickle"):
        read_handbook_pickles(pickles, trust_pickle=False)


def test_cli_refuses_in_one_line_and_writes_nothing(
    pickles: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as done:
        main(["import-handbook", str(pickles), "--out", str(out)])
    assert done.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "loading a pickle can run arbitrary code" in lines[0] and "--trust-pickle" in lines[0]
    assert not out.exists()


def test_cli_imports_into_the_kit_layout(pickles: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["import-handbook", str(pickles / "data"), "--out", str(out), "--trust-pickle", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["transactions.parquet"]
    assert pl.read_parquet(out / "transactions.parquet").height == 8
    assert "transactions: 8 rows, 2 fraud" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (pd.Series([1, 2]), "holds a Series, not a pandas DataFrame"),
        (handbook_day(0, 0).drop(columns=["TX_AMOUNT"]), "missing column(s) tx_amount"),
    ],
)
def test_bad_pickles_end_in_one_line_and_write_nothing(
    tmp_path: Path, content: object, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "2018-04-01.pkl").write_bytes(pickle.dumps(content))
    with pytest.raises(InputDataError, match=re.escape(needle)):
        read_handbook_pickles(tmp_path, trust_pickle=True)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as done:
        main(["import-handbook", str(tmp_path), "--out", str(out), "--trust-pickle", "--quiet"])
    assert done.value.code == 2 and needle in capsys.readouterr().err
    assert not out.exists() or not list(out.iterdir())


def test_a_directory_without_pickles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["import-handbook", str(tmp_path), "--out", str(tmp_path / "out"), "--trust-pickle"])
    assert "holds no .pkl files" in capsys.readouterr().err
