"""The notebook helpers: summaries, the window-rule example, engine comparison and the distribution plot."""

from __future__ import annotations

import datetime as dt

from fraudkit.features import CARD_FEATURES, HANDBOOK_FEATURES, compute_card_features
from fraudkit.features.report import (
    compare_engines,
    describe_features,
    plot_feature_distributions,
    summary_by_label,
    window_edge_example,
)

from tests.unit.test_features_engines import BASE, card_frame


def labelled_cards() -> list[tuple[str, dt.datetime, float]]:
    return [("c1", BASE, 10.0), ("c1", BASE + dt.timedelta(minutes=1), 30.0), ("c2", BASE, 5.0)]


def test_summary_by_label_gives_class_means() -> None:
    features = compute_card_features(card_frame(labelled_cards())).with_columns(
        fraud_label=card_frame(labelled_cards())["amount"].gt(20).cast(int)
    )
    summary = {row["feature"]: (row["legitimate"], row["fraud"]) for row in summary_by_label(features, CARD_FEATURES).to_dicts()}
    assert summary["transactions"] == (2.0, 1.0)
    assert summary["num_trans_last_10m"] == (1.0, 2.0)
    assert summary["avg_amt_last_10m"] == (7.5, 20.0)


def test_window_edge_example_shows_both_edges_and_peers() -> None:
    assert window_edge_example()["num_trans_last_10m"].to_list() == [1, 2, 4, 4, 4]


def test_describe_features_has_one_row_per_feature() -> None:
    for feature_set in (CARD_FEATURES, HANDBOOK_FEATURES):
        assert describe_features(feature_set)["feature"].to_list() == list(feature_set.feature_names)
    assert "[t - 14d, t - 7d]" in describe_features(HANDBOOK_FEATURES)["window"].to_list()


def test_compare_engines_reports_agreement() -> None:
    table = compare_engines(card_frame(labelled_cards()), CARD_FEATURES, engines=("duckdb", "pandas"))
    assert table["count_mismatches"].to_list() == [0, 0]
    assert table["floats_within_1e-09"].to_list() == [True, True]


def test_plot_has_one_visible_panel_per_feature() -> None:
    features = compute_card_features(card_frame(labelled_cards())).with_columns(fraud_label=0)
    figure = plot_feature_distributions(features, CARD_FEATURES)
    assert [axis.get_title() for axis in figure.axes if axis.get_visible()] == list(CARD_FEATURES.feature_names)
