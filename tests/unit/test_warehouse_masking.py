"""Personal fields in the local warehouse: analysts see them masked, the unmasked table exists only behind
the privileged path; and the DuckDB script and CLI of the warehouse."""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import polars as pl
import pytest
from fraudkit.config import Settings
from fraudkit.warehouse import connect, duckdb_statements, load_customers, read_customers_unmasked
from fraudkit.warehouse.__main__ import main
from fraudkit.warehouse.database import pii_path
from fraudkit.warehouse.masking import MASKED_CUSTOMERS, PII_COLUMNS

from data_gen import ensure_dataset


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings.load(backend="local", scale="tiny", state_dir=tmp_path_factory.mktemp("warehouse"))
    load_customers(settings)
    return settings


def _faker_customers(settings: Settings) -> pl.DataFrame:
    path = ensure_dataset("handbook", settings) / "customers.parquet"
    return pl.read_parquet(path).select("customer_id", *PII_COLUMNS).sort("customer_id")


def test_analysts_see_masked_fields_only(settings: Settings) -> None:
    people = _faker_customers(settings)
    connection = connect(settings)
    try:
        masked = connection.sql(f"SELECT * FROM {MASKED_CUSTOMERS} ORDER BY customer_id").pl()
        for unmasked in ("customers", "pii.customers"):
            with pytest.raises(duckdb.CatalogException):
                connection.sql(f"SELECT * FROM {unmasked}")
        stored = "\n".join(str(row) for row in connection.sql("SELECT * FROM duckdb_tables()").fetchall())
    finally:
        connection.close()
    assert masked["customer_id"].to_list() == people["customer_id"].to_list()
    assert masked["name"].to_list() == [name[0] + "***" for name in people["name"]]
    assert masked["email"].to_list() == ["***@" + email.split("@")[1] for email in people["email"]]
    assert masked["phone"].to_list() == ["***-" + phone[-4:] for phone in people["phone"]]
    assert set(masked["address"]) == {"***"}
    for column in PII_COLUMNS:  # no unmasked value anywhere an analyst's file could show it
        assert not set(masked[column]) & set(people[column])
    assert "pii" not in stored


def test_the_privileged_path_reads_the_unmasked_table(settings: Settings) -> None:
    assert read_customers_unmasked(settings).equals(_faker_customers(settings))
    assert stat.S_IMODE(pii_path(settings).stat().st_mode) == 0o600
    unmasked_bytes = pii_path(settings).read_bytes()
    assert _faker_customers(settings)["email"][0].encode() in unmasked_bytes


def test_the_duckdb_script_builds_a_warehouse(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        connection.execute(f"SET file_search_path = '{tmp_path}'")
        for statement in duckdb_statements():
            connection.execute(statement.replace("'pii.duckdb'", f"'{tmp_path / 'pii.duckdb'}'"))
        assert connection.execute("SELECT count(*) FROM transaction_features").fetchone() == (0,)


def test_cli_prints_each_dialect_as_one_script(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for dialect in ("redshift", "duckdb"):
        assert main(["sql", "--dialect", dialect, "--scale", "tiny", "--state-dir", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert out.rstrip().endswith(";") and "transaction_features" in out
    with pytest.raises(SystemExit) as help_exit:
        main(["sql", "--help"])
    assert help_exit.value.code == 0 and "--dialect" in capsys.readouterr().out
