"""Feature Store operations registered with the emulator: wire parameters in, output dicts out."""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from fraudkit.emulator.core import RequestContext, operation
from fraudkit.emulator.exceptions import REST_PLANE, AwsError, ResourceNotFound, ValidationException
from fraudkit.emulator.featurestore.groups import FeatureGroup, iso_time
from fraudkit.emulator.featurestore.models import FeatureStoreBackend

SAGEMAKER = "sagemaker"
RUNTIME = "sagemaker-featurestore-runtime"
MAX_BATCH_IDENTIFIERS = 100
DEFAULT_LIST_RESULTS = 10
DEFAULT_RECORD_RESULTS = 100


def _store(ctx: RequestContext) -> FeatureStoreBackend:
    return ctx.state.backend("featurestore")


def _encode_token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def _decode_token(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationException("The NextToken is not valid") from None


def _offset_token(token: str | None) -> int:
    """A list position carried in a NextToken (ValidationException when it is not one of ours)."""
    decoded = _decode_token(token) or "0"
    if not decoded.isdigit():
        raise ValidationException("The NextToken is not valid")
    return int(decoded)


# ---------------------------------------------------------------------------------- control plane


def _milliseconds(seconds: float) -> int:
    """Creation times compare at the service's (and botocore's) millisecond precision."""
    return round(seconds * 1000)


def _summary(group: FeatureGroup, now: float) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "FeatureGroupName": group.name,
        "FeatureGroupArn": group.arn,
        "CreationTime": group.creation_time,
        "FeatureGroupStatus": group.status(now),
    }
    if group.offline_enabled:
        summary["OfflineStoreStatus"] = {"Status": "Active"}
    return summary


@operation(SAGEMAKER, "CreateFeatureGroup")
def create_feature_group(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"FeatureGroupArn": _store(ctx).create_group(params).arn}


@operation(SAGEMAKER, "DescribeFeatureGroup")
def describe_feature_group(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    group = store.group(params["FeatureGroupName"])
    _, size = store.online.count(group.name)
    description = {
        **_summary(group, time.time()),
        "RecordIdentifierFeatureName": group.record_identifier,
        "EventTimeFeatureName": group.event_time,
        "FeatureDefinitions": group.definitions,
        "LastModifiedTime": group.last_modified_time,
        "OnlineStoreConfig": group.online_config,
        "OfflineStoreConfig": group.offline_config,
        "ThroughputConfig": group.throughput,
        "RoleArn": group.role_arn,
        "Description": group.description,
        "NextToken": "",
    }
    if group.online_enabled:
        description["OnlineStoreTotalSizeBytes"] = size
    if group.last_modified_time != group.creation_time:
        description["LastUpdateStatus"] = {"Status": "Successful"}
    return description


@operation(SAGEMAKER, "ListFeatureGroups")
def list_feature_groups(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    now = time.time()
    summaries = [_summary(g, now) for g in _store(ctx).list_groups()]
    if "NameContains" in params:
        summaries = [s for s in summaries if params["NameContains"] in s["FeatureGroupName"]]
    if "FeatureGroupStatusEquals" in params:
        summaries = [s for s in summaries if s["FeatureGroupStatus"] == params["FeatureGroupStatusEquals"]]
    if "OfflineStoreStatusEquals" in params:
        wanted = params["OfflineStoreStatusEquals"]
        summaries = [s for s in summaries if s.get("OfflineStoreStatus", {}).get("Status") == wanted]
    if "CreationTimeAfter" in params:
        after = _milliseconds(params["CreationTimeAfter"].timestamp())
        summaries = [s for s in summaries if _milliseconds(s["CreationTime"]) > after]
    if "CreationTimeBefore" in params:
        before = _milliseconds(params["CreationTimeBefore"].timestamp())
        summaries = [s for s in summaries if _milliseconds(s["CreationTime"]) < before]
    sort_key = {
        "Name": lambda s: s["FeatureGroupName"],
        "FeatureGroupStatus": lambda s: s["FeatureGroupStatus"],
        "OfflineStoreStatus": lambda s: s.get("OfflineStoreStatus", {}).get("Status", ""),
        "CreationTime": lambda s: s["CreationTime"],
    }[params.get("SortBy", "CreationTime")]
    summaries.sort(
        key=lambda s: (sort_key(s), s["FeatureGroupName"]), reverse=params.get("SortOrder") != "Ascending"
    )
    start = _offset_token(params.get("NextToken"))
    limit = params.get("MaxResults", DEFAULT_LIST_RESULTS)
    page = summaries[start : start + limit]
    output: dict[str, Any] = {"FeatureGroupSummaries": page}
    if start + limit < len(summaries):
        output["NextToken"] = _encode_token(str(start + limit))
    return output


@operation(SAGEMAKER, "UpdateFeatureGroup")
def update_feature_group(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"FeatureGroupArn": _store(ctx).update_group(params).arn}


@operation(SAGEMAKER, "DeleteFeatureGroup")
def delete_feature_group(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    _store(ctx).delete_group(params["FeatureGroupName"])
    return {}


@operation(SAGEMAKER, "DescribeFeatureMetadata")
def describe_feature_metadata(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    group = _store(ctx).group(params["FeatureGroupName"])
    feature = params["FeatureName"]
    if feature not in group.types:
        raise ResourceNotFound(f"Feature {feature} is not in FeatureGroup {group.name}")
    meta = group.feature_metadata.get(feature, {})
    return {
        "FeatureGroupArn": group.arn,
        "FeatureGroupName": group.name,
        "FeatureName": feature,
        "FeatureType": group.types[feature],
        "CreationTime": group.creation_time,
        "LastModifiedTime": meta.get("LastModifiedTime", group.creation_time),
        "Description": meta.get("Description"),
        "Parameters": [{"Key": k, "Value": v} for k, v in meta.get("Parameters", {}).items()],
    }


@operation(SAGEMAKER, "UpdateFeatureMetadata")
def update_feature_metadata(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    _store(ctx).update_feature_metadata(params)
    return {}


# ---------------------------------------------------------------------------------- runtime


def _expiry(record_expires: float | None, wanted: str | None) -> dict[str, Any]:
    return (
        {"ExpiresAt": iso_time(record_expires)} if wanted == "Enabled" and record_expires is not None else {}
    )


@operation(RUNTIME, "PutRecord")
def put_record(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    group = store.group(params["FeatureGroupName"], runtime=True)
    store.put_record(group, params["Record"], params.get("TargetStores"), params.get("TtlDuration"))
    return {}


@operation(RUNTIME, "GetRecord")
def get_record(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    group = store.group(params["FeatureGroupName"], runtime=True)
    rid = params["RecordIdentifierValueAsString"]
    found = store.get_records(group, [rid], params.get("FeatureNames")).get(rid)
    if found is None:
        return {}
    stored, record = found
    return {"Record": record, **_expiry(stored.expires_at, params.get("ExpirationTimeResponse"))}


@operation(RUNTIME, "BatchGetRecord")
def batch_get_record(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    identifiers = params["Identifiers"]
    total = sum(len(i["RecordIdentifiersValueAsString"]) for i in identifiers)
    if total > MAX_BATCH_IDENTIFIERS:
        raise ValidationException(
            f"BatchGetRecord takes at most {MAX_BATCH_IDENTIFIERS} record identifiers in total"
        )
    records, errors = [], []
    for identifier in identifiers:
        name, ids = identifier["FeatureGroupName"], identifier["RecordIdentifiersValueAsString"]
        try:
            group = store.group(name, runtime=True)
            found = store.get_records(group, ids, identifier.get("FeatureNames"))
        except AwsError as err:
            errors += [
                {
                    "FeatureGroupName": name,
                    "RecordIdentifierValueAsString": rid,
                    "ErrorCode": err.code_on(REST_PLANE),
                    "ErrorMessage": err.message,
                }
                for rid in ids
            ]
            continue
        for rid in ids:
            if rid in found:
                stored, record = found[rid]
                records.append(
                    {
                        "FeatureGroupName": name,
                        "RecordIdentifierValueAsString": rid,
                        "Record": record,
                        **_expiry(stored.expires_at, params.get("ExpirationTimeResponse")),
                    }
                )
    return {"Records": records, "Errors": errors, "UnprocessedIdentifiers": []}


@operation(RUNTIME, "BatchWriteRecord")
def batch_write_record(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    errors = []
    for entry in params["Entries"]:
        try:
            group = store.group(entry["FeatureGroupName"], runtime=True)
            ttl = entry.get("TtlDuration") or params.get("TtlDuration")
            store.put_record(group, entry["Record"], entry.get("TargetStores"), ttl)
        except AwsError as err:
            errors.append({"Entry": entry, "ErrorCode": err.code_on(REST_PLANE), "ErrorMessage": err.message})
    return {"Errors": errors, "UnprocessedEntries": []}


@operation(RUNTIME, "DeleteRecord")
def delete_record(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    group = store.group(params["FeatureGroupName"], runtime=True)
    store.delete_record(
        group,
        params["RecordIdentifierValueAsString"],
        params["EventTime"],
        params.get("TargetStores"),
        params.get("DeletionMode", "SoftDelete"),
    )
    return {}


@operation(RUNTIME, "UpdateRecord")
def update_record(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    group = store.group(params["FeatureGroupName"], runtime=True)
    store.update_record(
        group,
        params["RecordIdentifierValueAsString"],
        params["Features"],
        params.get("TargetStores"),
        params.get("TtlDuration"),
    )
    return {}


@operation(RUNTIME, "ListRecords")
def list_records(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    group = store.group(params["FeatureGroupName"], runtime=True)
    if not group.online_enabled:
        raise ValidationException(f"The online store is not enabled for FeatureGroup {group.name}")
    limit = params.get("MaxResults", DEFAULT_RECORD_RESULTS)
    ids = store.online.list_ids(
        group.name,
        _decode_token(params.get("NextToken")),
        limit + 1,
        params.get("IncludeSoftDeletedRecords", False),
        time.time(),
    )
    output: dict[str, Any] = {"RecordIdentifiers": ids[:limit]}
    if len(ids) > limit:
        output["NextToken"] = _encode_token(ids[limit - 1])
    return output
