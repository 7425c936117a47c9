"""Ingestion helpers that need no server: the wire form of a row, the newest row of each record."""

from __future__ import annotations

import polars as pl
from fraudkit.featurestore.ingest import latest_per_record, wire_records

CARD = "4000123412341234"


def test_only_each_records_newest_row_is_kept_and_of_equal_times_the_last() -> None:
    frame = pl.DataFrame(
        {
            "cc_num": [CARD, CARD, "4000000000000009", CARD],
            "n": [1, 2, 3, 4],
            "trans_time": [2.0, 1.0, 0.0, 2.0],
        }
    )
    assert sorted(latest_per_record(frame)["n"].to_list()) == [3, 4]


def test_wire_records_are_strings_and_leave_nulls_out() -> None:
    frame = pl.DataFrame(
        {"cc_num": [CARD], "avg": [None], "trans_time": [0.1]}, schema_overrides={"avg": pl.Float64}
    )
    assert list(wire_records(frame)) == [
        [
            {"FeatureName": "cc_num", "ValueAsString": CARD},
            {"FeatureName": "trans_time", "ValueAsString": "0.1"},
        ]
    ]
