"""The generated Flink SQL on Apache Flink (PyFlink's mini-cluster, streaming mode, .venv-engines).

One Flink job runs every edge case and seeded random stream of both feature sets (equal to polars),
and a card stream out of event-time order with rows beyond the allowed lateness: Flink places the same
rows late as the kit's stream aggregator rejects, and the rest, fed through the kit's aggregate writer,
give the same `cc-agg-fg` records as the aggregator's final revisions. The property test runs
`compute_features(engine="flink")`, the CLI's path, on a few random streams.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fraudkit.features import CARD_FEATURES, WINDOW_10M
from fraudkit.features.engine_flink import FlinkRun, compute_many
from fraudkit.streaming.aggregator import DEFAULT_LATENESS, enriched_message
from fraudkit.streaming.records import (
    COUNT_FEATURE,
    MEAN_FEATURE,
    MalformedRecord,
    Transaction,
    format_time,
    to_micros,
)
from fraudkit.streaming.window import CardWindows, WindowValue
from hypothesis import HealthCheck, Phase, given, settings

from tests.engines.cases import (
    CARD_BASE,
    MINUTE,
    MS,
    TASKS,
    assert_same_features,
    card_frame,
    card_number,
    card_streams,
    check_compute_features,
    engine_input,
)
from tests.unit.test_streaming_ingest import RecordingWriter

pytestmark = pytest.mark.slow
SECOND = dt.timedelta(seconds=1)

# a replay out of event-time order: late by exactly the allowed lateness (kept), by 1 ms more and by
# minutes (late), a late row between peers, a new card behind the watermark (late: the watermark is global)
LATE_STREAM = card_frame([
    (card_number(1), CARD_BASE, 5.0),
    (card_number(1), CARD_BASE + 5 * MINUTE, 7.0),
    (card_number(2), CARD_BASE + 5 * MINUTE - DEFAULT_LATENESS, 11.0),
    (card_number(2), CARD_BASE + 5 * MINUTE - DEFAULT_LATENESS - MS, 13.0),
    (card_number(1), CARD_BASE + 2 * MINUTE, 17.0),
    (card_number(1), CARD_BASE + 5 * MINUTE, 19.0),
    (card_number(3), CARD_BASE + 4 * MINUTE, 23.0),
    (card_number(1), CARD_BASE + 15 * MINUTE, 29.0),
    (card_number(2), CARD_BASE + 15 * MINUTE - 10 * SECOND, 31.0),
    (card_number(1), CARD_BASE + 15 * MINUTE, 37.0),
])


@pytest.fixture(scope="module")
def flink_run() -> FlinkRun:
    tasks = [*((engine_input(df, fs), fs) for df, fs in TASKS), (engine_input(LATE_STREAM, CARD_FEATURES), CARD_FEATURES)]
    return compute_many(tasks, in_event_time_order=[True, True, False])


@pytest.mark.parametrize("task", [0, 1], ids=["cards", "handbook"])
def test_flink_equals_polars_on_edges_and_random_streams(flink_run: FlinkRun, task: int) -> None:
    df, feature_set = TASKS[task]
    assert flink_run.late[task] == [], "rows replayed in event-time order are never late"
    assert_same_features(flink_run.features[task], df, feature_set, "flink")


def aggregator_values(rows: list[dict[str, Any]]) -> tuple[dict[int, WindowValue], list[int]]:
    """The stream aggregator's window state over the rows in order: final value per row, rejected rows."""
    windows = CardWindows(WINDOW_10M.width // dt.timedelta(microseconds=1), DEFAULT_LATENESS // dt.timedelta(microseconds=1))
    final: dict[str, WindowValue] = {}
    rejected = []
    for index, row in enumerate(rows):
        tx = Transaction(tid=str(index), cc_num=row["cc_num"], amount=row["amount"], event_micros=to_micros(row["event_time"]))
        try:
            final.update({value.tid: value for value in windows.add(tx)})  # later revisions replace earlier ones
        except MalformedRecord:
            rejected.append(index)
    return {int(tid): value for tid, value in final.items()}, rejected


def written_records(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What the kit's aggregate writer writes to cc-agg-fg for `messages`, in a stable order."""
    writer = RecordingWriter()
    writer(messages)()
    records = writer.rows([m for write in writer.writes for m in write])
    return sorted(records.iter_rows())


def test_late_rows_are_the_aggregators_and_the_records_are_the_same(flink_run: FlinkRun) -> None:
    rows = LATE_STREAM.to_dicts()
    python, rejected = aggregator_values(rows)
    assert flink_run.late[2] == rejected == [3, 4, 6], "late: 30 s + 1 ms behind, minutes behind, a new card behind"
    flink = flink_run.features[2]
    flink_messages = [
        {"cc_num": row["cc_num"], "event_time": format_time(to_micros(row["event_time"])),
         COUNT_FEATURE: flink["num_trans_last_10m"][i], MEAN_FEATURE: flink["avg_amt_last_10m"][i]}
        for i, row in enumerate(rows) if i not in rejected
    ]
    python_messages = [enriched_message(python[i], produced_ms=0) for i in range(len(rows)) if i not in rejected]
    flink_records, python_records = written_records(flink_messages), written_records(python_messages)
    assert [r[:2] + r[3:] for r in flink_records] == [r[:2] + r[3:] for r in python_records]
    assert [r[2] for r in flink_records] == pytest.approx([r[2] for r in python_records], abs=1e-9, rel=0)


# each example starts a Flink job (about 20 s): two fixed (derandomized) examples of
# eight streams each (Hypothesis draws the simplest first, then a random one); no shrinking,
# which would start dozens more (the failing example is printed as drawn)
@settings(max_examples=2, deadline=None, derandomize=True, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
@given(card_streams)
def test_compute_features_on_flink_keeps_rows_and_equals_polars(rows: list[tuple[str, dt.datetime, float]]) -> None:
    check_compute_features(rows, "flink")
