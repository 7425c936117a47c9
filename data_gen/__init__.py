"""Deterministic synthetic transaction data for the workshop (card bursts; customers/terminals).

`ensure_dataset(kind, settings)` is what notebooks call; `python -m data_gen` is the command line.
"""

from data_gen.datasets import DATASET_TABLES, ensure_dataset, generate_tables

__all__ = ["DATASET_TABLES", "ensure_dataset", "generate_tables"]
