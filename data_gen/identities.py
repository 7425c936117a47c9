"""Faker-made identities: card numbers for the card data, PII for the Handbook's customers.

Faker is seeded per call (its own generator, never the global `random`), so the same seed gives the same
people on every machine with the pinned Faker version. These loops run over cards or customers (thousands),
never over transactions.
"""

from __future__ import annotations

import polars as pl
from faker import Faker

CARD_NUMBER_DIGITS = 16
PII_SCHEMA = {"customer_id": pl.Int64, "name": pl.Utf8, "email": pl.Utf8, "phone": pl.Utf8, "address": pl.Utf8}


def _seeded_faker(seed: int) -> Faker:
    faker = Faker("en_US")
    faker.seed_instance(seed)
    return faker


def unique_visa_numbers(count: int, seed: int) -> list[str]:
    """`count` distinct 16-digit Visa numbers (Luhn-valid), in the order Faker made them."""
    faker = _seeded_faker(seed)
    numbers: dict[str, None] = {}  # insertion-ordered set
    while len(numbers) < count:
        number = faker.credit_card_number(card_type="visa16")
        if len(number) == CARD_NUMBER_DIGITS:
            numbers[number] = None
    return list(numbers)


def customer_pii(customer_ids: list[int], seed: int) -> pl.DataFrame:
    """Name, email, phone and one-line postal address per customer id."""
    faker = _seeded_faker(seed)
    rows = [
        (customer_id, faker.name(), faker.email(), faker.phone_number(), faker.address().replace("\n", ", "))
        for customer_id in customer_ids
    ]
    return pl.DataFrame(rows, schema=PII_SCHEMA, orient="row")
