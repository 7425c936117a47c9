"""SageMaker control-plane operations for models, endpoint configs and endpoints."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fraudkit.emulator.core import RequestContext, operation
from fraudkit.emulator.endpoints.registry import ENDPOINT, ENDPOINT_CONFIG, MODEL, EndpointRegistry
from fraudkit.emulator.exceptions import ValidationException

# fields kept in the store that DescribeEndpoint does not return
_INTERNAL = ("ServingConfigName",)


def _registry(ctx: RequestContext) -> EndpointRegistry:
    registry: EndpointRegistry = ctx.state.backend("endpoints")
    return registry


def _timestamps(record: dict[str, Any]) -> dict[str, Any]:
    """The stored record with epoch-second times as datetimes, for the wire layer to serialise."""
    return {
        key: datetime.fromtimestamp(value, UTC)
        if key.endswith("Time") and isinstance(value, float)
        else value
        for key, value in record.items()
        if key not in _INTERNAL
    }


def _page(items: list[dict[str, Any]], params: dict[str, Any], key: str, name_key: str) -> dict[str, Any]:
    """Filter, sort and paginate a List* call the way SageMaker does (NextToken is an opaque offset)."""
    if contains := params.get("NameContains"):
        items = [item for item in items if contains.lower() in item[name_key].lower()]
    for field, test in (("CreationTimeBefore", float.__lt__), ("CreationTimeAfter", float.__gt__)):
        if (bound := params.get(field)) is not None:
            items = [item for item in items if test(item["CreationTime"], _epoch(bound))]
    if status := params.get("StatusEquals"):
        items = [item for item in items if item.get("EndpointStatus") == status]
    sort_field = {"Name": name_key, "Status": "EndpointStatus"}.get(params.get("SortBy", ""), "CreationTime")
    items.sort(
        key=lambda item: (item.get(sort_field, ""), item[name_key]),
        reverse=params.get("SortOrder") != "Ascending",
    )
    try:
        start = int(params.get("NextToken") or 0)
    except ValueError:
        raise ValidationException(
            "NextToken is not valid: pass the NextToken of the previous response"
        ) from None
    size = int(params.get("MaxResults") or 10)
    page = items[start : start + size]
    out: dict[str, Any] = {key: [_timestamps(item) for item in page]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


@operation("sagemaker", "CreateModel")
def create_model(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    registry = _registry(ctx)
    name = params["ModelName"]
    if not params.get("PrimaryContainer") and not params.get("Containers"):
        raise ValidationException("Either PrimaryContainer or Containers must be specified.")
    for container in [params.get("PrimaryContainer") or {}, *(params.get("Containers") or [])]:
        if container.get("ModelDataUrl"):  # refused now, not when an endpoint loads it
            ctx.state.objects.check_model_data(container["ModelDataUrl"])
    arn = registry.arn(MODEL, name)
    record: dict[str, Any] = {
        "ModelName": name,
        "ModelArn": arn,
        "CreationTime": time.time(),
        **{
            k: params[k]
            for k in ("PrimaryContainer", "Containers", "ExecutionRoleArn", "VpcConfig")
            if k in params
        },
        "EnableNetworkIsolation": bool(params.get("EnableNetworkIsolation", False)),
    }
    registry.insert(MODEL, name, record)
    return {"ModelArn": arn}


@operation("sagemaker", "DescribeModel")
def describe_model(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return _timestamps(_registry(ctx).require(MODEL, params["ModelName"]))


@operation("sagemaker", "DeleteModel")
def delete_model(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    _registry(ctx).delete(MODEL, params["ModelName"])
    return {}


@operation("sagemaker", "ListModels")
def list_models(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    summaries = [
        {k: m[k] for k in ("ModelName", "ModelArn", "CreationTime")} for m in _registry(ctx).list(MODEL)
    ]
    return _page(summaries, params, "Models", "ModelName")


@operation("sagemaker", "CreateEndpointConfig")
def create_endpoint_config(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    registry = _registry(ctx)
    name = params["EndpointConfigName"]
    variants = params.get("ProductionVariants") or []
    if not variants:
        raise ValidationException("ProductionVariants must contain at least one variant.")
    for variant in variants:
        if "ModelName" not in variant:
            raise ValidationException(f"Variant {variant.get('VariantName')} does not name a model.")
        if registry.get(MODEL, variant["ModelName"]) is None:
            raise registry.missing(MODEL, variant["ModelName"])
    arn = registry.arn(ENDPOINT_CONFIG, name)
    record: dict[str, Any] = {
        "EndpointConfigName": name,
        "EndpointConfigArn": arn,
        "ProductionVariants": variants,
        "CreationTime": time.time(),
        **{k: params[k] for k in ("DataCaptureConfig", "KmsKeyId") if k in params},
    }
    registry.insert(ENDPOINT_CONFIG, name, record)
    return {"EndpointConfigArn": arn}


@operation("sagemaker", "DescribeEndpointConfig")
def describe_endpoint_config(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return _timestamps(_registry(ctx).require(ENDPOINT_CONFIG, params["EndpointConfigName"]))


@operation("sagemaker", "DeleteEndpointConfig")
def delete_endpoint_config(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    _registry(ctx).delete(ENDPOINT_CONFIG, params["EndpointConfigName"])
    return {}


@operation("sagemaker", "ListEndpointConfigs")
def list_endpoint_configs(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    summaries = [
        {k: c[k] for k in ("EndpointConfigName", "EndpointConfigArn", "CreationTime")}
        for c in _registry(ctx).list(ENDPOINT_CONFIG)
    ]
    return _page(summaries, params, "EndpointConfigs", "EndpointConfigName")


def _variant_summaries(config: dict[str, Any], registry: EndpointRegistry) -> list[dict[str, Any]]:
    """ProductionVariants as DescribeEndpoint reports them (weights, instance counts, images)."""
    summaries = []
    for variant in config["ProductionVariants"]:
        model = registry.get(MODEL, variant["ModelName"]) or {}
        image = (model.get("PrimaryContainer") or {}).get("Image", "")
        weight = float(variant.get("InitialVariantWeight", 1.0))
        count = int(variant.get("InitialInstanceCount", 1))
        summaries.append(
            {
                "VariantName": variant.get("VariantName", "AllTraffic"),
                "DeployedImages": [{"SpecifiedImage": image, "ResolvedImage": image}] if image else [],
                "CurrentWeight": weight,
                "DesiredWeight": weight,
                "CurrentInstanceCount": count,
                "DesiredInstanceCount": count,
            }
        )
    return summaries


def _start_deployment(ctx: RequestContext, name: str, config_name: str, status: str) -> dict[str, Any]:
    registry = _registry(ctx)
    config = registry.get(ENDPOINT_CONFIG, config_name)
    if config is None:
        raise registry.missing(ENDPOINT_CONFIG, config_name)
    record = registry.get(ENDPOINT, name) or {
        "EndpointName": name,
        "EndpointArn": registry.arn(ENDPOINT, name),
        "CreationTime": time.time(),
    }
    record.update(
        EndpointConfigName=config_name,
        EndpointStatus=status,
        LastModifiedTime=time.time(),
        ProductionVariants=_variant_summaries(config, registry),
    )
    record.pop("FailureReason", None)
    registry.put(ENDPOINT, name, record)
    registry.activate(name)
    return {"EndpointArn": record["EndpointArn"]}


@operation("sagemaker", "CreateEndpoint")
def create_endpoint(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    registry = _registry(ctx)
    name = params["EndpointName"]
    if registry.get(ENDPOINT, name) is not None:
        raise registry.already_exists(ENDPOINT, name)
    return _start_deployment(ctx, name, params["EndpointConfigName"], "Creating")


@operation("sagemaker", "UpdateEndpoint")
def update_endpoint(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    registry = _registry(ctx)
    name = params["EndpointName"]
    current = registry.require(ENDPOINT, name)
    if current["EndpointStatus"] != "InService":
        raise ValidationException(
            f'Cannot update in-progress endpoint "{current["EndpointArn"]}": wait until it is InService.'
        )
    return _start_deployment(ctx, name, params["EndpointConfigName"], "Updating")


@operation("sagemaker", "DescribeEndpoint")
def describe_endpoint(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return _timestamps(_registry(ctx).require(ENDPOINT, params["EndpointName"]))


@operation("sagemaker", "DeleteEndpoint")
def delete_endpoint(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    _registry(ctx).delete(ENDPOINT, params["EndpointName"])
    return {}


@operation("sagemaker", "ListEndpoints")
def list_endpoints(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    fields = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")
    summaries = [{k: e[k] for k in fields} for e in _registry(ctx).list(ENDPOINT)]
    return _page(summaries, params, "Endpoints", "EndpointName")
