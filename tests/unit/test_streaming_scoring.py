"""The 1-week features a decision uses: the batch row, topped up with a newer 10-minute window; warming a scorer."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fraudkit.features import add_card_ratios, card_ratios
from fraudkit.streaming.records import COUNT_FEATURE, MEAN_FEATURE, format_time
from fraudkit.streaming.scoring import WARM_UP_CARD, WEEK_COUNT, WEEK_MEAN, Scorer, serving_week_features

SNAPSHOT_S = 1_700_000_000.0


def message(seconds_after_snapshot: float, count: int, mean: float) -> dict[str, object]:
    micros = round((SNAPSHOT_S + seconds_after_snapshot) * 1e6)
    return {"event_time": format_time(micros), "num_trans_last_10m": count, "avg_amt_last_10m": mean}


BATCH = {WEEK_COUNT: 4.0, WEEK_MEAN: 100.0, "trans_time": SNAPSHOT_S}


def test_a_window_wholly_after_the_snapshot_is_added_to_the_week() -> None:
    week = serving_week_features(BATCH, message(11 * 60, count=2, mean=10.0))
    assert week[WEEK_COUNT] == 6
    assert week[WEEK_MEAN] == pytest.approx((4 * 100 + 2 * 10) / 6)


@pytest.mark.parametrize("after_s", [0.0, 60.0, 600.0])
def test_a_window_overlapping_the_snapshot_is_not_counted_twice(after_s: float) -> None:
    assert serving_week_features(BATCH, message(after_s, count=2, mean=10.0)) == {
        WEEK_COUNT: 4.0,
        WEEK_MEAN: 100.0,
    }


def test_a_batch_row_without_snapshot_time_is_used_as_it_is() -> None:
    batch = {**BATCH, "trans_time": float("nan")}
    assert serving_week_features(batch, message(3600, count=2, mean=10.0)) == {
        WEEK_COUNT: 4.0,
        WEEK_MEAN: 100.0,
    }


# Worked by hand from the ratio rule of fraudkit.features.spec: float division; 0.0 when the denominator is
# zero or an operand is missing (None, or NaN for an aggregate that has aged out). Values are chosen so the
# quotients are exact in binary floating point.
RATIO_CASES = [
    # amount, 10m count, 10m mean, 1w count, 1w mean -> amt_ratio1, amt_ratio2, count_ratio
    (
        (120.5, 3, 80.25, 12, 64.0),
        (80.25 / 64, 120.5 / 64, 0.25),
    ),  # 1.25390625, 1.8828125: no integer division
    ((9.99, 1, 9.99, 8, 4.0), (2.4975, 2.4975, 0.125)),
    ((9.99, 1, 9.99, 0, 0.0), (0.0, 0.0, 0.0)),  # zero denominators
    ((42.0, 2, 30.0, float("nan"), float("nan")), (0.0, 0.0, 0.0)),  # 1-week aggregates aged out
    ((50.0, None, None, 4, 25.0), (0.0, 2.0, 0.0)),  # 10-minute aggregates missing: amt_ratio2 still defined
    ((0.0, 1, 0.0, 2, 5.0), (0.0, 0.0, 0.5)),  # a zero numerator is a defined 0.0
]
RATIO_NAMES = ("amt_ratio1", "amt_ratio2", "count_ratio")


def test_batch_ratios_follow_the_ratio_rule_row_by_row() -> None:
    rows: list[dict[str, Any]] = [
        {"amount": a, COUNT_FEATURE: c10, MEAN_FEATURE: m10, WEEK_COUNT: c1w, WEEK_MEAN: m1w}
        for (a, c10, m10, c1w, m1w), _ in RATIO_CASES
    ]
    add_card_ratios(rows)  # one batch: an undefined row must not disturb its neighbours
    assert [tuple(row[name] for name in RATIO_NAMES) for row in rows] == [
        expected for _, expected in RATIO_CASES
    ]


@pytest.mark.parametrize(("operands", "expected"), RATIO_CASES)
def test_per_transaction_ratios_follow_the_ratio_rule(
    operands: tuple[float | None, ...], expected: tuple[float, float, float]
) -> None:
    assert card_ratios(*operands) == dict(zip(RATIO_NAMES, expected, strict=True))


class RecordingClient:
    """Answers BatchGetRecord and InvokeEndpoint as the services would for an unknown card and one row."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def batch_get_record(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("BatchGetRecord", request))
        return {"Records": [], "Errors": [], "UnprocessedIdentifiers": []}

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("InvokeEndpoint", request))
        return {"Body": io.BytesIO(b"0.5")}


def test_warming_a_scorer_reads_an_unknown_card_and_scores_one_row() -> None:
    """`run` warms its scorer before it says it is ready: both calls of a batch, nothing written."""
    client = RecordingClient()
    scorer = Scorer.__new__(Scorer)
    scorer.batch_feature_group, scorer.endpoint_name = "batch-fg", "endpoint"
    scorer.feature_order, scorer.featurestore, scorer.runtime = ["a", "b", "c"], client, client
    scorer.warm()
    (get, get_request), (invoke, invoke_request) = client.calls
    assert (get, invoke) == ("BatchGetRecord", "InvokeEndpoint")
    assert get_request["Identifiers"][0]["RecordIdentifiersValueAsString"] == [WARM_UP_CARD]
    assert invoke_request["Body"] == b"0.0,0.0,0.0"
