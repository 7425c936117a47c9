"""Batch ingestion of a feature frame into a feature group, by the backend's fastest path.

On AWS the only write API is PutRecord (one record per call): `put_records` runs it from parallel
workers. Locally the emulator's bulk path (`POST /_fraudkit/bulk-ingest`, Arrow IPC chunks) reaches
the same end state (latest record per id online, every row offline, event-time rule applied) without
a round trip per record, so full-scale data loads in seconds. `ingest` lets the backend choose.
"""

from __future__ import annotations

import io
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import polars as pl
from tqdm import tqdm

from fraudkit.backends.base import PUT_WORKERS
from fraudkit.config import Settings
from fraudkit.featurestore.specs import EVENT_TIME, RECORD_ID

BULK_CHUNK_ROWS = 1_000_000


class IngestError(RuntimeError):
    """The emulator refused a bulk chunk; `code` is the AWS-style error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def wire_records(frame: pl.DataFrame) -> Iterator[list[dict[str, str]]]:
    """Each row as a PutRecord `Record`: every non-null value as a string."""
    for row in frame.iter_rows(named=True):
        yield [{"FeatureName": k, "ValueAsString": _text(v)} for k, v in row.items() if v is not None]


def latest_per_record(frame: pl.DataFrame) -> pl.DataFrame:
    """Each record id's row with the newest event time (of equal ones, the last): what the online
    store keeps of `frame`, for writers that pay per record."""
    return frame.sort(EVENT_TIME, maintain_order=True).unique(RECORD_ID, keep="last", maintain_order=True)


def _progress(total: int, quiet: bool, what: str) -> tqdm:
    return tqdm(total=total, desc=what, unit="rows", file=sys.stderr, disable=quiet or not sys.stderr.isatty())


def put_records(settings: Settings, name: str, frame: pl.DataFrame, workers: int = PUT_WORKERS, quiet: bool = False) -> int:
    """PutRecord for every row from `workers` threads sharing one client; returns the rows written."""
    client = settings.client("sagemaker-featurestore-runtime")

    def put(record: list[dict[str, str]]) -> None:
        client.put_record(FeatureGroupName=name, Record=record)

    with _progress(frame.height, quiet, f"PutRecord {name}") as bar, ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(put, wire_records(frame)):
            bar.update(1)
    return frame.height


def bulk_ingest_local(settings: Settings, name: str, frame: pl.DataFrame, quiet: bool = False) -> dict[str, int]:
    """The emulator's bulk path, in chunks of typed Arrow columns; totals of online records and offline rows."""
    url = f"{settings.emulator_url}/_fraudkit/bulk-ingest?FeatureGroupName={quote(name, safe='')}"
    totals = {"OnlineRecords": 0, "OfflineRows": 0}
    with _progress(frame.height, quiet, f"bulk ingest {name}") as bar:
        for start in range(0, frame.height, BULK_CHUNK_ROWS):
            chunk = frame.slice(start, BULK_CHUNK_ROWS)
            body = io.BytesIO()
            chunk.write_ipc_stream(body)
            request = urllib.request.Request(url, data=body.getvalue(), method="POST")
            try:
                with urllib.request.urlopen(request, timeout=600) as response:
                    result = json.loads(response.read())
            except urllib.error.HTTPError as err:
                error = json.loads(err.read() or b"{}")
                raise IngestError(error.get("__type", str(err.code)), error.get("Message", err.reason)) from None
            for key in totals:
                totals[key] += int(result[key])
            bar.update(chunk.height)
    return totals


def ingest(settings: Settings, name: str, frame: pl.DataFrame, workers: int = PUT_WORKERS, quiet: bool = False) -> int:
    """Write every row of `frame` (columns = the group's features) to feature group `name`; returns rows."""
    settings.provider.ingest(name, frame, quiet, workers)
    return frame.height
