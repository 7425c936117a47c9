"""fraudkit-specific routes beside the AWS API (under /_fraudkit/, never used by AWS clients).

- `GET /_fraudkit/health`: readiness probe for the launcher: 200 `{"status": "ok"}`, or 503 with
  the reasons when a service's state is unusable or its offline flushes keep failing.
- `POST /_fraudkit/flush`: write buffered offline rows now (the offline query helper calls it) and
  say where the objects live (the emulated S3's directory, or the S3 endpoint the server writes to).
- `POST /_fraudkit/bulk-ingest?FeatureGroupName=NAME`: the local bulk path. The body is an Arrow IPC
  stream of typed feature columns; the latest row per record id goes to the online store (same
  event-time rule as PutRecord) and every row to the offline store, without a round trip per record.
"""

from __future__ import annotations

import io

import orjson
import polars as pl

from fraudkit.emulator.core import EmulatorState
from fraudkit.emulator.exceptions import ValidationException
from fraudkit.emulator.featurestore.models import FeatureStoreBackend
from fraudkit.emulator.featurestore.responses import RUNTIME
from fraudkit.emulator.wire import Extension, HttpRequest, HttpResponse

PREFIX = "/_fraudkit"


def _json(document: object) -> HttpResponse:
    return HttpResponse(200, orjson.dumps(document), [("Content-Type", "application/json")])


def _store(state: EmulatorState) -> FeatureStoreBackend:
    return state.backend("featurestore")


def health(req: HttpRequest, state: EmulatorState) -> HttpResponse:
    problems = state.problems()
    if problems:
        body = orjson.dumps({"status": "unhealthy", "reasons": problems})
        return HttpResponse(503, body, [("Content-Type", "application/json")])
    return _json({"status": "ok"})


def flush(req: HttpRequest, state: EmulatorState) -> HttpResponse:
    store = _store(state)
    return _json({"FlushedRows": store.offline.flush(), "S3Root": state.objects.location})


def bulk_ingest(req: HttpRequest, state: EmulatorState) -> HttpResponse:
    names = req.query.get("FeatureGroupName")
    if not names:
        raise ValidationException("bulk-ingest needs the query parameter FeatureGroupName")
    store = _store(state)
    group = store.group(names[0], runtime=True)
    try:
        frame = pl.read_ipc_stream(io.BytesIO(req.body))
    except Exception as err:  # polars raises several kinds for a body that is not Arrow IPC
        raise ValidationException(f"The body is not an Arrow IPC stream: {str(err)[:200]}") from None
    return _json(store.bulk_ingest(group, frame))


EXTENSIONS: dict[tuple[str, str], Extension] = {
    ("GET", f"{PREFIX}/health"): (RUNTIME, health),
    ("POST", f"{PREFIX}/flush"): (RUNTIME, flush),
    ("POST", f"{PREFIX}/bulk-ingest"): (RUNTIME, bulk_ingest),
}
