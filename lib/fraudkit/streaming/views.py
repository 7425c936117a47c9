"""Notebook views of the live demo: a table that grows as decisions arrive, and a latency histogram.

The table leaves out the transaction ids (they carry the run number). It shows each decision's latency,
which depends on the machine, at a fixed width with its unit ("   21.4 ms"), so the table's layout is
the same on every run and nbval's duration sanitizer masks the values in the stored outputs.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from fraudkit.streaming.demo import table_row

LIVE_COLUMNS = ("cc_num", "amount", "num_trans_last_10m", "score", "decision", "latency")


class LiveTable:
    """An output cell showing the decisions so far, updated in place (IPython display update)."""

    def __init__(self) -> None:
        from IPython.display import display

        self.rows: dict[str, dict[str, Any]] = {}
        self.handle = display(self.frame(), display_id=True)

    def frame(self) -> pd.DataFrame:
        """The decisions so far in transaction-id order (the demo's order), whatever order they arrived in."""
        return pd.DataFrame([self.rows[tid] for tid in sorted(self.rows)], columns=list(LIVE_COLUMNS))

    def __call__(self, decision: dict[str, Any]) -> None:
        row = table_row(decision)
        row["latency"] = f"{row['latency_ms']:7.1f} ms"
        self.rows[row["tid"]] = {name: row[name] for name in LIVE_COLUMNS}
        if self.handle is not None:
            self.handle.update(self.frame())


def latency_histogram(decisions: list[dict[str, Any]]) -> plt.Figure:
    """Histogram of end-to-end decision latencies (produce -> decision) in milliseconds."""
    figure, axes = plt.subplots(figsize=(6, 3))
    axes.hist([float(d["latency_ms"]) for d in decisions], bins=20, color="tab:blue")
    axes.set_xlabel("decision latency (ms), produce to decision")
    axes.set_ylabel("transactions")
    figure.tight_layout()
    return figure
