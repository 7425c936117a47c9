"""`sagemaker-runtime` InvokeEndpoint: the emulated built-in XGBoost container behind an endpoint."""

from __future__ import annotations

from typing import Any

from fraudkit.emulator.core import RequestContext, operation
from fraudkit.emulator.endpoints.container import ContainerError, invoke
from fraudkit.emulator.endpoints.registry import ENDPOINT, EndpointRegistry
from fraudkit.emulator.exceptions import ModelError, ValidationException


@operation("sagemaker-runtime", "InvokeEndpoint")
def invoke_endpoint(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    registry: EndpointRegistry = ctx.state.backend("endpoints")
    name = params["EndpointName"]
    booster = registry.serving_booster(name)
    if booster is None:
        record = registry.get(ENDPOINT, name)
        if record is None:
            raise ValidationException(f"Endpoint {name} of account {registry.account_id} not found.")
        raise ValidationException(f"Endpoint {name} is not in service (status {record['EndpointStatus']}).")
    try:
        body, content_type = invoke(
            booster, params.get("Body") or b"", params.get("ContentType"), params.get("Accept")
        )
    except ContainerError as exc:
        log_group = f"/aws/sagemaker/Endpoints/{name}"
        raise ModelError(
            f'Received client error ({exc.status}) from primary with message "{exc.message}". '
            f"See the emulator log for endpoint {name} for more information.",
            original_status=exc.status,
            original_message=exc.message,
            log_stream_arn=f"arn:aws:logs:{registry.region}:{registry.account_id}:log-group:{log_group}",
        ) from None
    return {"Body": body, "ContentType": content_type, "InvokedProductionVariant": "AllTraffic"}
