"""Feature groups of the reference design: specs, creation, ingestion, online reads, offline queries.

The same calls work on both backends: boto3 clients come from `Settings.client`, and the only
backend-specific paths (bulk ingestion, the offline files, the role and bucket of a group's offline
store) are the backend's (`Settings.provider`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fraudkit.featurestore.admin import (
    create_feature_group,
    create_feature_groups,
    delete_feature_groups,
    describe,
    wait_for_status,
)
from fraudkit.featurestore.ingest import IngestError, bulk_ingest_local, ingest, put_records
from fraudkit.featurestore.online import get_record, read_online, typed_record
from fraudkit.featurestore.specs import (
    EVENT_TIME,
    RECORD_ID,
    FeatureGroupSpec,
    batch_group,
    card_feature_groups,
    online_group,
)
from fraudkit.lazy import submodule_attributes

if TYPE_CHECKING:
    from fraudkit.featurestore.offline import (
        flush_local,
        latest_snapshot,
        offline_connection,
        point_in_time_join,
    )

# the offline queries (DuckDB) load when first asked for
__getattr__ = submodule_attributes(
    __name__,
    __path__,
    {"offline": ("flush_local", "latest_snapshot", "offline_connection", "point_in_time_join")},
)

__all__ = [
    "EVENT_TIME",
    "RECORD_ID",
    "FeatureGroupSpec",
    "IngestError",
    "batch_group",
    "bulk_ingest_local",
    "card_feature_groups",
    "create_feature_group",
    "create_feature_groups",
    "delete_feature_groups",
    "describe",
    "flush_local",
    "get_record",
    "ingest",
    "latest_snapshot",
    "offline_connection",
    "online_group",
    "point_in_time_join",
    "put_records",
    "read_online",
    "typed_record",
    "wait_for_status",
]
