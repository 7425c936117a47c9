"""Personal fields: one masking rule per column, applied locally and attached as Redshift policies.

The rules are SQL expressions that DuckDB and Redshift both evaluate the same way. Locally the unmasked
customers live only in the privileged file (`pii.customers`); the warehouse every analyst opens holds
`customers_masked`, computed with these rules when the customers are loaded. On Redshift the same rules
become dynamic data masking policies attached to PUBLIC, with an explicit pass-through for one role.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from data_gen import ensure_dataset
from fraudkit.config import Settings
from fraudkit.warehouse.database import PII_CATALOG, connect

PII_TYPE = "VARCHAR(256)"
CUSTOMERS_TABLE = "customers"
MASKED_CUSTOMERS = "customers_masked"


@dataclass(frozen=True)
class Mask:
    """How one personal column is shown to analysts (an expression over the column itself)."""

    column: str
    expression: str

    @property
    def policy(self) -> str:
        return f"mask_customer_{self.column}"

    def sql(self) -> str:
        # Redshift asks for the policy's output type to be the input's: cast explicitly
        return f"CAST({self.expression} AS {PII_TYPE})"


MASKS = (
    Mask("name", "LEFT(name, 1) || '***'"),
    Mask("email", "REGEXP_REPLACE(email, '^[^@]+', '***')"),
    Mask("phone", "'***-' || RIGHT(phone, 4)"),
    Mask("address", "'***'"),
)
PII_COLUMNS = tuple(mask.column for mask in MASKS)


def masked_select(source: str) -> str:
    masked = ", ".join(f"{mask.sql()} AS {mask.column}" for mask in MASKS)
    return f"SELECT customer_id, {masked} FROM {source}"


def load_customers(settings: Settings) -> int:
    """Load the Handbook's customers (Faker identities, seeded): unmasked into the privileged file, masked
    into the warehouse. Returns the number of customers."""
    customers = pl.read_parquet(ensure_dataset("handbook", settings) / "customers.parquet").select(
        "customer_id", *PII_COLUMNS
    )
    columns = ", ".join(f"{column} {PII_TYPE}" for column in PII_COLUMNS)
    connection = connect(settings, privileged=True)
    try:
        connection.register("_customers", customers.to_arrow())
        connection.execute(
            f"CREATE OR REPLACE TABLE {PII_CATALOG}.{CUSTOMERS_TABLE} (customer_id BIGINT PRIMARY KEY, {columns})"
        )
        connection.execute(f"INSERT INTO {PII_CATALOG}.{CUSTOMERS_TABLE} SELECT * FROM _customers")
        connection.execute(
            f"CREATE OR REPLACE TABLE {MASKED_CUSTOMERS} AS {masked_select(f'{PII_CATALOG}.{CUSTOMERS_TABLE}')}"
        )
    finally:
        connection.close()
    return customers.height


def read_customers_unmasked(settings: Settings) -> pl.DataFrame:
    """The privileged path: the customers with their personal fields as stored."""
    connection = connect(settings, privileged=True)
    try:
        return connection.sql(f"SELECT * FROM {PII_CATALOG}.{CUSTOMERS_TABLE} ORDER BY customer_id").pl()
    finally:
        connection.close()
