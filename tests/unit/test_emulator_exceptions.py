"""The emulator's error classes agree with botocore's error shapes on every plane that defines them."""

from __future__ import annotations

import botocore.session
import pytest
from fraudkit.emulator import exceptions
from fraudkit.emulator.exceptions import REST_PLANE, AwsError

ERROR_CLASSES: list[type[AwsError]] = [
    cls
    for cls in vars(exceptions).values()
    if isinstance(cls, type) and issubclass(cls, AwsError) and cls is not AwsError
]
MODELS = {
    name: botocore.session.get_session().get_service_model(name)
    for name in ("sagemaker", "sagemaker-featurestore-runtime", "sagemaker-runtime")
}
# (service, error class) wherever the service's model defines the class's code on its plane
DEFINED = [
    (service, cls)
    for service, model in MODELS.items()
    for cls in ERROR_CLASSES
    if cls.code_on(model.metadata["protocol"]) in model.shape_names
]


@pytest.mark.parametrize(("service", "cls"), DEFINED, ids=[f"{s}-{c.__name__}" for s, c in DEFINED])
def test_codes_and_statuses_are_the_models(service: str, cls: type[AwsError]) -> None:
    model = MODELS[service]
    protocol = model.metadata["protocol"]
    error = model.shape_for(cls.code_on(protocol)).metadata.get("error") or {}
    # the JSON control plane's models declare no status: every client error is 400 there
    assert cls.status_on(protocol) == error.get("httpStatusCode", 400)


def test_the_runtime_errors_are_checked_against_a_runtime_model() -> None:
    on_rest = {cls.__name__ for service, cls in DEFINED if MODELS[service].metadata["protocol"] == REST_PLANE}
    assert {"ValidationException", "ResourceNotFound", "ConflictException", "ModelError"} <= on_rest
