"""Argument checks shared by the Python API and the CLI, so both reject bad sizes with the same words."""

from __future__ import annotations

import datetime as dt


def positive(name: str, value: int) -> int:
    """`value` if it is a count of at least one, else ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def non_negative(name: str, value: int) -> int:
    """`value` if it is an integer >= 0 (seeds), else ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return value


def iso_date(name: str, text: str) -> dt.date:
    """The calendar date written as YYYY-MM-DD, else ValueError naming `name`."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be a date written YYYY-MM-DD, got {text!r}") from None
