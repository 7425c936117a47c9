"""fraudkit.model.inputs: a user's transactions in either schema and case, Parquet or CSV, file or directory;
bad files end in one message naming every problem."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from fraudkit.model.inputs import INPUT_SCHEMAS, InputDataError, file_digest, input_files, load_transactions


def handbook_rows(n: int = 6) -> pl.DataFrame:
    """A few Handbook transactions with the Handbook's nine columns, in upper case as it publishes them."""
    start = dt.datetime(2018, 4, 1)
    return pl.DataFrame(
        {
            "TRANSACTION_ID": list(range(n)),
            "TX_DATETIME": [start + dt.timedelta(hours=7 * i) for i in range(n)],
            "CUSTOMER_ID": [i % 2 for i in range(n)],
            "TERMINAL_ID": [i % 3 for i in range(n)],
            "TX_AMOUNT": [10.0 + i for i in range(n)],
            "TX_TIME_SECONDS": [7 * 3600 * i for i in range(n)],
            "TX_TIME_DAYS": [7 * i // 24 for i in range(n)],
            "TX_FRAUD": [int(i == 3) for i in range(n)],
            "TX_FRAUD_SCENARIO": [int(i == 3) for i in range(n)],
        }
    )


def card_rows(n: int = 5) -> pl.DataFrame:
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    return pl.DataFrame(
        {
            "tid": [f"t{i}" for i in range(n)],
            "event_time": [start + dt.timedelta(minutes=3 * i) for i in range(n)],
            "cc_num": ["4000000000000001", "4000000000000002"] * (n // 2) + ["4000000000000001"] * (n % 2),
            "amount": [5.5 * (i + 1) for i in range(n)],
            "fraud_label": [int(i == 4) for i in range(n)],
        }
    )


def write(frame: pl.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
@pytest.mark.parametrize("upper", [True, False])
def test_handbook_file_in_either_case_and_format(tmp_path: Path, suffix: str, upper: bool) -> None:
    rows = handbook_rows()
    frame = rows if upper else rows.rename(str.lower)
    data = load_transactions("handbook", write(frame, tmp_path / f"tx{suffix}"))
    assert data.frame.columns == list(INPUT_SCHEMAS["handbook"].columns)
    assert data.frame.schema["tx_datetime"] == pl.Datetime("us")
    assert data.frame["tx_amount"].to_list() == rows["TX_AMOUNT"].to_list()
    assert data.description["rows"] == 6 and data.description["frauds"] == 1
    assert data.description["first"].startswith("2018-04-01") and data.description["last"].startswith("2018-04-02")
    assert data.description["path"] == str((tmp_path / f"tx{suffix}").resolve())


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_card_file_in_the_card_schema(tmp_path: Path, suffix: str) -> None:
    rows = card_rows()
    data = load_transactions("cards", write(rows.rename(str.upper), tmp_path / f"cards{suffix}"))
    assert data.frame.schema["event_time"] == pl.Datetime("us", "UTC")
    assert data.frame["cc_num"].to_list() == rows["cc_num"].to_list()
    assert data.description["frauds"] == 1


def test_naive_card_times_are_taken_as_utc_and_aware_handbook_times_made_naive(tmp_path: Path) -> None:
    naive = card_rows().with_columns(pl.col("event_time").dt.replace_time_zone(None))
    cards = load_transactions("cards", write(naive, tmp_path / "c.parquet")).frame
    assert cards["event_time"].to_list() == card_rows()["event_time"].to_list()
    aware = handbook_rows().with_columns(pl.col("TX_DATETIME").dt.replace_time_zone("Europe/Brussels"))
    handbook = load_transactions("handbook", write(aware, tmp_path / "h.parquet")).frame
    assert handbook["tx_datetime"][0] == dt.datetime(2018, 3, 31, 22)  # 00:00 in Brussels (CEST) is 22:00 UTC


def test_directory_of_daily_files_is_read_in_name_order(tmp_path: Path) -> None:
    rows = handbook_rows(8)
    write(rows[4:], tmp_path / "2018-04-02.parquet")
    write(rows[:4], tmp_path / "2018-04-01.parquet")
    data = load_transactions("handbook", tmp_path)
    assert data.frame["transaction_id"].to_list() == list(range(8))
    assert data.description["files"] == 2


def test_directory_with_transactions_file_reads_only_it(tmp_path: Path) -> None:
    write(handbook_rows(), tmp_path / "transactions.parquet")
    write(pl.DataFrame({"customer_id": [1]}), tmp_path / "customers.parquet")
    assert input_files(tmp_path) == [tmp_path / "transactions.parquet"]
    assert load_transactions("handbook", tmp_path).description["rows"] == 6


def test_hash_follows_the_bytes(tmp_path: Path) -> None:
    path = write(handbook_rows(), tmp_path / "a.parquet")
    first = load_transactions("handbook", path).description["sha256"]
    assert first == file_digest([path], path)
    write(handbook_rows().with_columns(pl.col("TX_AMOUNT") + 1), path)
    assert load_transactions("handbook", path).description["sha256"] != first


@pytest.mark.parametrize(
    ("frame", "needles"),
    [
        (handbook_rows().drop("TX_FRAUD", "TERMINAL_ID"), ["missing column(s) terminal_id, tx_fraud"]),
        (handbook_rows().with_columns(pl.col("TX_AMOUNT").cast(pl.String) + "EUR"), ["tx_amount must be a number"]),
        (
            handbook_rows().drop("CUSTOMER_ID").with_columns(pl.lit("soon").alias("TX_DATETIME")),
            ["missing column(s) customer_id", "tx_datetime must be a date-time"],
        ),
        (handbook_rows().with_columns(pl.lit(2).alias("TX_FRAUD")), ["tx_fraud must be 0 or 1"]),
        (handbook_rows().with_columns(pl.lit(None, pl.Float64).alias("TX_AMOUNT")), ["tx_amount has 6 empty value(s)"]),
    ],
)
def test_schema_problems_are_named_together(tmp_path: Path, frame: pl.DataFrame, needles: list[str]) -> None:
    path = write(frame, tmp_path / "bad.parquet")
    with pytest.raises(InputDataError) as raised:
        load_transactions("handbook", path)
    message = str(raised.value)
    assert "\n" not in message and str(path) in message
    for needle in needles:
        assert needle in message


def test_a_card_file_is_not_handbook_data(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="not handbook transactions: missing column"):
        load_transactions("handbook", write(card_rows(), tmp_path / "cards.parquet"))


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("empty.csv", b"", "cannot be read as CSV"),
        ("empty.parquet", b"", "cannot be read as Parquet"),
        ("garbage.parquet", b"PAR1 this is not parquet", "cannot be read as Parquet"),
        ("notes.txt", b"TX_DATETIME,TX_AMOUNT\n", "not a Parquet or CSV file"),
        ("header.csv", b"TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD\n", "holds no transactions"),
    ],
)
def test_unreadable_or_empty_files(tmp_path: Path, name: str, content: bytes, needle: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputDataError, match=needle):
        load_transactions("handbook", tmp_path / name)


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="no such file or directory"):
        load_transactions("cards", tmp_path / "nope.parquet")
    with pytest.raises(InputDataError, match=r"holds no \.parquet or \.csv file"):
        load_transactions("cards", tmp_path)


def test_files_of_a_directory_must_share_their_columns(tmp_path: Path) -> None:
    write(handbook_rows(), tmp_path / "a.parquet")
    write(handbook_rows().drop("TX_FRAUD_SCENARIO"), tmp_path / "b.parquet")
    with pytest.raises(InputDataError, match="do not all have the same columns"):
        load_transactions("handbook", tmp_path)
