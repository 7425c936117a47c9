"""Feature Store state and rules: feature groups (control plane) and records (runtime).

The handlers in `responses.py` translate between wire parameters and these methods. Records keep
their values as the wire strings in the online store (GetRecord returns what PutRecord sent) and
as typed columns in the offline store.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson
import polars as pl

from fraudkit.emulator.core import EmulatorState, backend
from fraudkit.emulator.exceptions import (
    ConflictException,
    ResourceInUse,
    ResourceNotFound,
    ValidationException,
)
from fraudkit.emulator.featurestore.groups import (
    END_OF_TIME,
    TRANSITION_SECONDS,
    FeatureGroup,
    check_create_request,
    check_definitions,
    check_scalar,
    check_ttl,
    expiry,
    parse_event_time,
    ttl_seconds,
    typed,
)
from fraudkit.emulator.featurestore.offline import (
    ADDED_COLUMNS,
    EVENT_SECONDS,
    POLARS_TYPES,
    OfflineStore,
    offline_schema,
)
from fraudkit.emulator.featurestore.online import OnlineStore, StoredRecord

ONLINE, OFFLINE = "OnlineStore", "OfflineStore"
Values = dict[str, Any]  # feature name -> wire string, or list of strings for a collection


class FeatureStoreBackend:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        root = state.state_dir / "emulator"
        self.online = OnlineStore(root / "featurestore.db")
        self._groups = {doc["name"]: FeatureGroup(**doc) for doc in self.online.load_groups()}
        self._lock = threading.RLock()  # held across each control-plane read-modify-write
        self.offline = OfflineStore(state.objects, self.online, self._groups.get)

    def close(self) -> None:
        self.offline.close()
        self.online.close()

    def problems(self) -> list[str]:
        """Why the store cannot serve (its database unreadable, its offline flushes failing)."""
        self.online.probe()
        return self.offline.problems()

    # ------------------------------------------------------------------ control plane
    def arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.state.region}:{self.state.account_id}:feature-group/{name.lower()}"

    def create_group(self, params: dict[str, Any]) -> FeatureGroup:
        check_create_request(params)
        name = params["FeatureGroupName"]
        now = math.floor(time.time() * 1000) / 1000  # the service's timestamps have millisecond precision
        self._purge_deleted(now)
        with self._lock:
            if name in self._groups:
                raise ResourceInUse(f"Resource Already Exists: FeatureGroup with name {name} already exists")
            online = dict(params["OnlineStoreConfig"]) if params.get("OnlineStoreConfig") else None
            if online is not None:
                online.setdefault("StorageType", "Standard")
            group = FeatureGroup(
                name=name,
                arn=self.arn(name),
                record_identifier=params["RecordIdentifierFeatureName"],
                event_time=params["EventTimeFeatureName"],
                definitions=list(params["FeatureDefinitions"]),
                online_config=online,
                offline_config=self._resolve_offline(name, params.get("OfflineStoreConfig"), now),
                throughput=params.get("ThroughputConfig") or {"ThroughputMode": "OnDemand"},
                role_arn=params.get("RoleArn"),
                description=params.get("Description"),
                tags=list(params.get("Tags") or []),
                creation_time=now,
                last_modified_time=now,
            )
            self._save(group)
        return group

    def _resolve_offline(self, name: str, config: dict[str, Any] | None, now: float) -> dict[str, Any] | None:
        """ResolvedOutputS3Uri and the Glue table names, as the service fills them in."""
        if config is None:
            return None
        resolved = dict(config)
        s3 = dict(config["S3StorageConfig"])
        epoch = int(now)
        base = s3["S3Uri"].rstrip("/")
        s3["ResolvedOutputS3Uri"] = (
            f"{base}/{self.state.account_id}/sagemaker/{self.state.region}/offline-store/{name}-{epoch}/data"
        )
        resolved["S3StorageConfig"] = s3
        self.state.objects.check(s3["ResolvedOutputS3Uri"])
        if not config.get("DisableGlueTableCreation"):
            resolved.setdefault(
                "DataCatalogConfig",
                {
                    "TableName": f"{name.replace('-', '_').lower()}_{epoch}",
                    "Catalog": "AwsDataCatalog",
                    "Database": "sagemaker_featurestore",
                },
            )
        resolved.setdefault("TableFormat", "Glue")
        return resolved

    def _save(self, group: FeatureGroup) -> None:
        self._groups[group.name] = group
        self.online.save_group(group.name, group.to_dict())

    def _purge_deleted(self, now: float) -> None:
        """Finish deletions whose Deleting phase is over (caller does not hold the lock).

        A group's queued offline rows are written before it goes, outside the lock: a slow or failing
        write must not hold up every other request. A failing one leaves the group Deleting, for a
        later request to finish once the offline store's retry is due (the failure shows in health).
        """
        with self._lock:
            due = [
                g
                for g in self._groups.values()
                if g.deleting_since and now - g.deleting_since >= TRANSITION_SECONDS
            ]
        for group in due:
            if not self.offline.retry_due():
                return
            try:
                self.offline.flush(group.name)
            except Exception:  # logged and reported by the offline store
                return
            with self._lock:
                if self._groups.get(group.name) is group:  # not purged (and re-created) meanwhile
                    self.online.drop_group(group.name)
                    del self._groups[group.name]

    def group(self, name_or_arn: str, *, runtime: bool = False) -> FeatureGroup:
        """The feature group by name or ARN; ResourceNotFound (404 on the runtime) when absent."""
        self._purge_deleted(time.time())
        with self._lock:
            return self._lookup(name_or_arn, runtime)

    def _lookup(self, name_or_arn: str, runtime: bool = False) -> FeatureGroup:
        """`group` without finishing deletions, for callers holding the lock."""
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        now = time.time()
        group = self._groups.get(name)
        if group is None and name_or_arn.startswith("arn:"):
            group = next((g for g in self._groups.values() if g.arn == name_or_arn), None)
        if group is None or (runtime and group.status(now) == "Deleting"):
            message = f"Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name {name}"
            raise ResourceNotFound(message)
        if runtime and group.status(now) != "Created":
            raise ValidationException(
                f"FeatureGroup {name} is in status {group.status(now)}: wait until it is Created"
            )
        return group

    def list_groups(self) -> list[FeatureGroup]:
        self._purge_deleted(time.time())
        with self._lock:
            return list(self._groups.values())

    def update_group(self, params: dict[str, Any]) -> FeatureGroup:
        self._purge_deleted(time.time())
        with self._lock:
            group = self._lookup(params["FeatureGroupName"])
            changes: dict[str, Any] = {"last_modified_time": time.time()}
            additions = params.get("FeatureAdditions")
            if additions:
                storage = (group.online_config or {}).get("StorageType")
                check_definitions(additions, set(group.types), storage)
                changes["definitions"] = group.definitions + list(additions)
            online_update = params.get("OnlineStoreConfig")
            if online_update:
                if group.online_config is None:
                    raise ValidationException(f"FeatureGroup {group.name} has no online store to update")
                online = dict(group.online_config)
                if "TtlDuration" in online_update:
                    ttl = online_update["TtlDuration"]
                    check_ttl(ttl)
                    if ttl_seconds(ttl) is None:
                        online.pop("TtlDuration", None)
                    else:
                        online["TtlDuration"] = ttl
                if "StorageType" in online_update:
                    online["StorageType"] = online_update["StorageType"]
                changes["online_config"] = online
            if params.get("ThroughputConfig"):
                changes["throughput"] = {**group.throughput, **params["ThroughputConfig"]}
            updated = replace(group, **changes)
            self._save(updated)
            return updated

    def delete_group(self, name: str) -> None:
        self._purge_deleted(time.time())
        with self._lock:
            group = self._lookup(name)
            if group.deleting_since is None:
                self._save(replace(group, deleting_since=time.time()))

    def update_feature_metadata(self, params: dict[str, Any]) -> None:
        self._purge_deleted(time.time())
        with self._lock:
            group = self._lookup(params["FeatureGroupName"])
            feature = params["FeatureName"]
            if feature not in group.types:
                raise ResourceNotFound(f"Feature {feature} is not in FeatureGroup {group.name}")
            meta = dict(group.feature_metadata.get(feature, {}))
            parameters = dict(meta.get("Parameters", {}))
            for key in params.get("ParameterRemovals") or []:
                parameters.pop(key, None)
            for pair in params.get("ParameterAdditions") or []:
                parameters[pair["Key"]] = pair["Value"]
            if len(parameters) > 25:
                raise ValidationException("A feature holds at most 25 parameters")
            if "Description" in params:
                meta["Description"] = params["Description"]
            meta.update(Parameters=parameters, LastModifiedTime=time.time())
            self._save(replace(group, feature_metadata={**group.feature_metadata, feature: meta}))

    # ------------------------------------------------------------------ records
    def parse_values(
        self, group: FeatureGroup, record: Sequence[dict[str, Any]], *, complete: bool = True
    ) -> Values:
        """Check a Record against the definitions: known, unique names; types; collections."""
        types, collections = group.types, group.collections
        values: Values = {}
        for item in record:
            name = item["FeatureName"]
            kind = types.get(name)
            if kind is None:
                raise ValidationException(f"Feature {name} is not defined in FeatureGroup {group.name}")
            if name in values:
                raise ValidationException(f"Feature {name} appears more than once in the record")
            scalar, many = item.get("ValueAsString"), item.get("ValueAsStringList")
            if (scalar is None) == (many is None):
                raise ValidationException(
                    f"Feature {name} needs exactly one of ValueAsString or ValueAsStringList"
                )
            if name in collections:
                if many is None:
                    raise ValidationException(
                        f"Feature {name} is a {collections[name]}: use ValueAsStringList"
                    )
                for element in many:
                    check_scalar(element, kind, name)
                values[name] = list(many)
            else:
                if scalar is None:
                    raise ValidationException(f"Feature {name} is not a collection: use ValueAsString")
                check_scalar(scalar, kind, name)
                values[name] = scalar
        if complete:
            for required in (group.record_identifier, group.event_time):
                if not values.get(required):
                    raise ValidationException(f"The record must contain a value for {required}")
        return values

    def targets(self, group: FeatureGroup, requested: Sequence[str] | None) -> set[str]:
        enabled = {ONLINE} if group.online_enabled else set()
        if group.offline_enabled:
            enabled.add(OFFLINE)
        if requested is None:
            return enabled
        for store in requested:
            if store not in enabled:
                raise ValidationException(f"{store} is not enabled for FeatureGroup {group.name}")
        return set(requested)

    def _offline_row(self, group: FeatureGroup, values: Values, event_seconds: float, deleted: bool) -> bytes:
        """The offline-store row of a write, typed, as queued in the database."""
        types = group.types
        row: dict[str, Any] = {
            name: (
                [typed(v, types[name]) for v in value]
                if isinstance(value, list)
                else typed(value, types[name])
            )
            for name, value in values.items()
        }
        row.update(api_invocation_time=int(time.time() * 1_000_000), is_deleted=deleted)
        row[EVENT_SECONDS] = event_seconds
        return orjson.dumps(row)

    def _queue_offline_only(self, group: FeatureGroup, offline_row: bytes | None) -> None:
        if offline_row is not None:
            self.online.queue_offline(group.name, offline_row)
            self.offline.queued()

    def put_record(
        self,
        group: FeatureGroup,
        record: Sequence[dict[str, Any]],
        target_stores: Sequence[str] | None,
        ttl: dict[str, Any] | None,
    ) -> None:
        values = self.parse_values(group, record)
        event_seconds = parse_event_time(
            values[group.event_time], group.types[group.event_time], group.event_time
        )
        stores = self.targets(group, target_stores)
        offline_row = (
            self._offline_row(group, values, event_seconds, deleted=False) if OFFLINE in stores else None
        )
        if ONLINE not in stores:
            self._queue_offline_only(group, offline_row)
            return
        expires = expiry(event_seconds, ttl_seconds(ttl) if ttl else group.default_ttl)
        self.online.put(
            group.name, values[group.record_identifier], event_seconds, values, expires, offline_row
        )
        if offline_row is not None:
            self.offline.queued()

    def get_records(
        self, group: FeatureGroup, record_ids: Sequence[str], names: Sequence[str] | None
    ) -> dict[str, tuple[StoredRecord, list[dict[str, Any]]]]:
        """Visible online records by id, each with its Record (projected on `names`, nulls left out)."""
        if not group.online_enabled:
            raise ValidationException(f"The online store is not enabled for FeatureGroup {group.name}")
        order = list(group.types)
        if names:
            unknown = [n for n in names if n not in group.types]
            if unknown:
                raise ValidationException(
                    f"Features {', '.join(unknown)} are not defined in FeatureGroup {group.name}"
                )
            order = [n for n in order if n in set(names)]
        if len(record_ids) == 1:  # the GetRecord path: a point lookup
            one = self.online.get(group.name, record_ids[0])
            stored = {record_ids[0]: one} if one else {}
        else:
            stored = self.online.get_many(group.name, record_ids)
        now = time.time()
        result = {}
        for rid, rec in stored.items():
            if rec.visible(now):
                result[rid] = (
                    rec,
                    [_feature_value(n, rec.features[n]) for n in order if rec.features.get(n) is not None],
                )
            elif not rec.soft_deleted:
                self._expire(group, rec, now)
        return result

    def _expire(self, group: FeatureGroup, record: StoredRecord, now: float) -> None:
        """TTL: an expired record is hard deleted, with a delete marker in the offline store (done when
        a read meets it, where the service does it in the background)."""
        kept = {
            group.record_identifier: record.record_id,
            group.event_time: record.features[group.event_time],
        }
        marker = (
            self._offline_row(group, kept, record.event_time, deleted=True) if group.offline_enabled else None
        )
        if self.online.expire(group.name, record.record_id, now, marker) and marker is not None:
            self.offline.queued()

    def delete_record(
        self, group: FeatureGroup, rid: str, event_text: str, target_stores: Sequence[str] | None, mode: str
    ) -> None:
        event_seconds = parse_event_time(event_text, group.types[group.event_time], group.event_time)
        stores = self.targets(group, target_stores)
        kept = {group.record_identifier: rid, group.event_time: event_text}
        marker = self._offline_row(group, kept, event_seconds, deleted=True) if OFFLINE in stores else None
        if ONLINE not in stores:
            self._queue_offline_only(group, marker)
            return
        if mode == "HardDelete":
            if self.online.hard_delete(group.name, rid, event_seconds, marker) is False:
                raise ValidationException(
                    "EventTime: the delete's EventTime is not later than the stored record's; nothing was deleted"
                )
        else:
            self.online.soft_delete(group.name, rid, event_seconds, kept, marker)
        if marker is not None:
            self.offline.queued()

    def update_record(
        self,
        group: FeatureGroup,
        rid: str,
        features: Sequence[dict[str, Any]],
        target_stores: Sequence[str] | None,
        ttl: dict[str, Any] | None,
    ) -> None:
        """Partial update of an existing online record (Standard_V2 / InMemory stores only)."""
        if (group.online_config or {}).get("StorageType") not in ("Standard_V2", "InMemory"):
            raise ValidationException(
                "UpdateRecord needs an online store of StorageType Standard_V2 or InMemory"
            )
        if len(features) > 100:
            raise ValidationException("UpdateRecord accepts at most 100 features per call")
        changes = self.parse_values(group, features, complete=False)
        if changes.get(group.record_identifier, rid) != rid:
            raise ValidationException("Features must not change the record identifier")
        if ttl and group.event_time not in changes:
            raise ValidationException("TtlDuration needs the event time feature among Features")
        stores = self.targets(group, target_stores)

        def merge(current: StoredRecord | None) -> tuple[StoredRecord, bytes | None]:
            if current is None or not current.visible(time.time()):
                raise ResourceNotFound(f"Record {rid} does not exist in FeatureGroup {group.name}")
            event_seconds = current.event_time
            if group.event_time in changes:
                event_seconds = parse_event_time(
                    changes[group.event_time], group.types[group.event_time], group.event_time
                )
                if event_seconds < current.event_time:
                    raise ConflictException("EventTime is older than the record's current EventTime")
            expires = expiry(event_seconds, ttl_seconds(ttl)) if ttl else current.expires_at
            merged = replace(
                current,
                features={**current.features, **changes},
                event_time=event_seconds,
                expires_at=expires,
            )
            offline = (
                self._offline_row(group, merged.features, event_seconds, deleted=False)
                if OFFLINE in stores
                else None
            )
            return merged, offline

        if ONLINE in stores:
            self.online.modify(group.name, rid, merge)
        else:
            self._queue_offline_only(group, merge(self.online.get(group.name, rid))[1])
        if OFFLINE in stores:
            self.offline.queued()

    @staticmethod
    def _online_rows(
        group: FeatureGroup, frame: pl.DataFrame
    ) -> list[tuple[str, float, bytes, float | None]]:
        """The latest row per record id as (rid, event seconds, features JSON of wire strings, expires at)."""
        if frame[group.record_identifier].is_duplicated().any():  # most stream batches have no repeated id
            frame = frame.sort(EVENT_SECONDS, maintain_order=True).unique(
                group.record_identifier, keep="last"
            )
        names = [c for c in frame.columns if c != EVENT_SECONDS]
        rid_at = names.index(group.record_identifier)
        ttl = group.default_ttl
        return [
            (
                values[rid_at],
                seconds,
                orjson.dumps(dict(zip(names, values, strict=True))),
                expiry(seconds, ttl),
            )
            for values, seconds in zip(
                frame.select(pl.col(c).cast(pl.Utf8) for c in names).iter_rows(),
                frame[EVENT_SECONDS],
                strict=True,
            )
        ]

    def bulk_ingest(self, group: FeatureGroup, frame: pl.DataFrame) -> dict[str, int]:
        """The local bulk path: typed columns in; latest row per id to the online store, all rows offline."""
        unknown = [c for c in frame.columns if c not in group.types]
        missing = [c for c in (group.record_identifier, group.event_time) if c not in frame.columns]
        if unknown or missing:
            raise ValidationException(
                f"Columns not in FeatureGroup {group.name}: {unknown}; required but missing: {missing}"
            )
        if group.collections:
            raise ValidationException("The bulk path does not take collection features; use PutRecord")
        event = pl.col(group.event_time)
        if group.types[group.event_time] == "String":
            seconds = (
                event.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC", strict=False).dt.epoch("us")
                / 1e6
            )
        else:
            seconds = event.cast(pl.Float64)
        try:  # one query: a frame of a few rows (one stream batch) costs little more than its fixed overhead
            frame = (
                frame.lazy()
                .cast({c: POLARS_TYPES[group.types[c]] for c in frame.columns}, strict=True)
                .with_columns(seconds.alias(EVENT_SECONDS))
                .collect()
            )
        except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as err:
            raise ValidationException(f"A column does not hold its feature type: {str(err)[:200]}") from None
        event_seconds = frame[EVENT_SECONDS]
        if (
            event_seconds.null_count()
            or frame[group.record_identifier].null_count()
            or not event_seconds.is_between(0, END_OF_TIME, closed="left").all()
        ):
            raise ValidationException(
                f"Every row needs a valid {group.event_time} and {group.record_identifier}"
            )
        # checked (expiry times included) before anything is written
        online_rows = self._online_rows(group, frame) if group.online_enabled else []
        offline_frame = None
        if group.offline_enabled:
            schema = offline_schema(group)
            # the offline columns in table order (queued frames of a group concatenate as they are)
            full = frame.select(
                *[
                    pl.col(c) if c in frame.columns else pl.lit(None, schema[c]).alias(c)
                    for c in schema
                    if c not in ADDED_COLUMNS
                ],
                pl.lit(int(time.time() * 1_000_000))
                .cast(pl.Datetime("us", "UTC"))
                .alias("api_invocation_time"),
                pl.lit(False).alias("is_deleted"),
                pl.col(EVENT_SECONDS),
            )
            offline_frame = self.offline.queue_or_write(group, full)
        online_count = self.online.put_many(group.name, online_rows, offline_frame)
        if offline_frame is not None:
            self.offline.queued(frame.height)
        offline_rows = frame.height if group.offline_enabled else 0
        return {"OnlineRecords": online_count, "OfflineRows": offline_rows}


def _feature_value(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {"FeatureName": name, "ValueAsStringList": value}
    return {"FeatureName": name, "ValueAsString": value}


@backend("featurestore")
def _feature_store(state: EmulatorState) -> FeatureStoreBackend:
    return FeatureStoreBackend(state)
