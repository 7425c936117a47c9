"""What notebook 02 shows: feature previews, per-label summaries, distribution plots, the window rule at work.

Printed numbers are rounded so the notebook's stored outputs compare equal run after run.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import polars.selectors as cs
from matplotlib.figure import Figure

from fraudkit.features.compute import compute_card_features, compute_features, feature_differences
from fraudkit.features.spec import FeatureSet

LABEL_COLUMNS = {"cards": "fraud_label", "handbook": "tx_fraud"}
LEGIT_COLOUR, FRAUD_COLOUR = "#4C72B0", "#C44E52"
DIGITS = 4


def preview(features: pl.DataFrame, feature_set: FeatureSet, rows: int = 5) -> pl.DataFrame:
    """The first rows: time, keys, label and features, floats rounded."""
    columns = [feature_set.timestamp, *feature_set.keys, LABEL_COLUMNS[feature_set.name], *feature_set.feature_names]
    return features.select(columns).head(rows).with_columns(cs.float().round(DIGITS))


def summary_by_label(features: pl.DataFrame, feature_set: FeatureSet) -> pl.DataFrame:
    """Mean of every feature (one row each) for legitimate and fraudulent transactions, after their counts."""
    label = LABEL_COLUMNS[feature_set.name]
    by_label = (
        features.group_by(label)
        .agg(pl.len().cast(pl.Float64).alias("transactions"), *(pl.col(n).cast(pl.Float64).mean() for n in feature_set.feature_names))
        .sort(label)
    )
    names = {0: "legitimate", 1: "fraud"}
    return (
        by_label.drop(label)
        .transpose(include_header=True, header_name="feature", column_names=[names[v] for v in by_label[label]])
        .with_columns(cs.float().round(DIGITS))
    )


def plot_feature_distributions(features: pl.DataFrame, feature_set: FeatureSet, columns: int = 4) -> Figure:
    """One histogram per feature, fraud against legitimate, each normalised to its own class size."""
    label = LABEL_COLUMNS[feature_set.name]
    names = feature_set.feature_names
    rows = -(-len(names) // columns)
    figure = Figure(figsize=(3.2 * columns, 2.6 * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for axis, name in zip(axes, names, strict=False):
        values = features[name].cast(pl.Float64).to_numpy()
        # clip the long right tail at the 99th percentile so the bulk of both classes stays visible
        low = float(values.min())
        bins = np.linspace(low, max(float(np.quantile(values, 0.99)), low + 1.0), 40)
        for value, colour, text in ((0, LEGIT_COLOUR, "legitimate"), (1, FRAUD_COLOUR, "fraud")):
            subset = features.filter(pl.col(label) == value)[name].cast(pl.Float64).clip(upper_bound=bins[-1])
            if subset.len():  # a density of no values is undefined
                axis.hist(subset.to_numpy(), bins=bins, color=colour, alpha=0.55, density=True, label=text)
        axis.set_title(name, fontsize=9)
        axis.tick_params(labelsize=7)
    for axis in axes[len(names):]:
        axis.set_visible(False)
    axes[0].legend(fontsize=7)
    return figure


def window_edge_example() -> pl.DataFrame:
    """Five transactions of one card showing the window rule: [t - 10 min, t], both ends in, peers share."""
    start = dt.datetime(2022, 1, 3, 12, 0, tzinfo=dt.UTC)
    offsets = [dt.timedelta(0), dt.timedelta(minutes=5), dt.timedelta(minutes=10), dt.timedelta(minutes=10),
               dt.timedelta(minutes=10, seconds=1)]
    transactions = pl.DataFrame(
        {
            "tid": [f"t{i}" for i in range(1, len(offsets) + 1)],
            "event_time": [start + offset for offset in offsets],
            "cc_num": ["4000000000000002"] * len(offsets),
            "amount": [10.0, 20.0, 30.0, 40.0, 50.0],
        },
        schema_overrides={"event_time": pl.Datetime("us", "UTC")},
    )
    return compute_card_features(transactions).select("tid", "event_time", "amount", "num_trans_last_10m",
                                                      "avg_amt_last_10m")


def compare_engines(df: pl.DataFrame, feature_set: FeatureSet, engines: tuple[str, ...],
                    reference: str = "polars", tolerance: float = 1e-9) -> pl.DataFrame:
    """Per engine: count values that differ from `reference`, and whether every float is within `tolerance`."""
    expected = compute_features(df, feature_set, reference)
    rows = []
    for engine in engines:
        difference = feature_differences(expected, compute_features(df, feature_set, engine), feature_set)
        rows.append({"engine": engine, "count_mismatches": int(difference["count_mismatches"]),
                     f"floats_within_{tolerance:g}": difference["max_float_difference"] <= tolerance})
    return pl.DataFrame(rows)


def _short(duration: dt.timedelta) -> str:
    """7d, 10m, 2h: the largest whole unit (what the window labels use)."""
    for unit, size in (("d", dt.timedelta(days=1)), ("h", dt.timedelta(hours=1)), ("m", dt.timedelta(minutes=1))):
        if duration % size == dt.timedelta(0):
            return f"{duration // size}{unit}"
    return str(duration)


def describe_features(feature_set: FeatureSet) -> pl.DataFrame:
    """The specification as a table: one row per feature with its definition."""
    rows = [
        {"feature": a.name, "definition": f"{a.function}({a.value or '*'}) per {a.key}",
         "window": f"[t - {_short(a.window.start_offset)}, t - {_short(a.window.delay)}]" if a.window.delay
         else f"[t - {_short(a.window.width)}, t]"}
        for a in feature_set.aggregates
    ]
    rows += [{"feature": r.name, "definition": f"{r.numerator} / {r.denominator} (0.0 if undefined)", "window": ""}
             for r in feature_set.ratios]
    rows += [{"feature": f.name, "definition": "Saturday or Sunday" if f.kind == "weekend" else "hour <= 6",
              "window": ""} for f in feature_set.flags]
    return pl.DataFrame(rows)
