"""Deterministic synthetic transaction data for the workshop (card bursts; customers/terminals)."""
