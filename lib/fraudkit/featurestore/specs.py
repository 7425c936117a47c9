"""The feature groups of the reference design, declared once and turned into API requests.

`cc-agg-fg` holds the streaming 10-minute aggregates (online + offline), `cc-agg-batch-fg` the
batch 1-week aggregates. Both are keyed by `cc_num` with `trans_time` (Unix seconds, Fractional)
as event time, as in the reference design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from fraudkit.config import Settings

RECORD_ID = "cc_num"
EVENT_TIME = "trans_time"
SOURCE_EVENT_TIME = "event_time"  # the transactions' timestamp column the event time is derived from
OFFLINE_PREFIX = "feature-store"
POLARS_TYPES: dict[str, pl.DataType] = {"Integral": pl.Int64(), "Fractional": pl.Float64(), "String": pl.Utf8()}


@dataclass(frozen=True)
class FeatureGroupSpec:
    """A feature group: its name, record identifier, event time and typed features."""

    name: str
    features: tuple[tuple[str, str], ...]  # (name, FeatureType), record id and event time included
    record_identifier: str = RECORD_ID
    event_time: str = EVENT_TIME
    online: bool = True
    offline: bool = True
    description: str = ""

    @property
    def feature_names(self) -> list[str]:
        return [name for name, _ in self.features]

    @property
    def types(self) -> dict[str, str]:
        return dict(self.features)

    def create_request(self, settings: Settings) -> dict[str, Any]:
        """CreateFeatureGroup parameters for this group on the settings' backend."""
        request: dict[str, Any] = {
            "FeatureGroupName": self.name,
            "RecordIdentifierFeatureName": self.record_identifier,
            "EventTimeFeatureName": self.event_time,
            "FeatureDefinitions": [{"FeatureName": n, "FeatureType": t} for n, t in self.features],
            "Description": self.description,
        }
        if self.online:
            request["OnlineStoreConfig"] = {"EnableOnlineStore": True}
        if self.offline:
            backend = settings.provider
            request["OfflineStoreConfig"] = {"S3StorageConfig": {"S3Uri": f"s3://{backend.bucket}/{OFFLINE_PREFIX}"}}
            request["RoleArn"] = backend.role_arn  # the role the offline store writes with
        return request

    def frame_from(self, features: pl.DataFrame) -> pl.DataFrame:
        """This group's columns from a card-features frame: `trans_time` is `event_time` in Unix seconds."""
        columns = []
        for name, kind in self.features:
            if name == self.event_time and name not in features.columns:
                columns.append((pl.col(SOURCE_EVENT_TIME).dt.epoch("us") / 1_000_000).alias(name))
            else:
                columns.append(pl.col(name).cast(POLARS_TYPES[kind]))
        return features.select(columns)


def online_group(settings: Settings) -> FeatureGroupSpec:
    return FeatureGroupSpec(
        name=settings.online_feature_group,
        features=(
            (RECORD_ID, "String"),
            ("num_trans_last_10m", "Integral"),
            ("avg_amt_last_10m", "Fractional"),
            (EVENT_TIME, "Fractional"),
        ),
        description="Per-card 10-minute aggregates, written by the streaming aggregator",
    )


def batch_group(settings: Settings) -> FeatureGroupSpec:
    return FeatureGroupSpec(
        name=settings.batch_feature_group,
        features=(
            (RECORD_ID, "String"),
            ("num_trans_last_1w", "Integral"),
            ("avg_amt_last_1w", "Fractional"),
            (EVENT_TIME, "Fractional"),
        ),
        description="Per-card 1-week aggregates, computed in batch",
    )


def card_feature_groups(settings: Settings) -> list[FeatureGroupSpec]:
    """The two feature groups of the reference design, named by the settings."""
    return [online_group(settings), batch_group(settings)]
