"""Which outputs the local account's variant of the stack has: the template's conditions, evaluated."""

from __future__ import annotations

from pathlib import Path

from fraudkit.aws.local_account import _holds, _load_template, template_outputs

TEMPLATE = Path(__file__).resolve().parents[2] / "cloudformation" / "fraudkit.yaml"


def test_the_local_variant_has_every_output_but_msk_and_the_optional_aws_parts() -> None:
    outputs = template_outputs(TEMPLATE)
    assert outputs["OfflineStoreBucket"] and outputs["SageMakerRoleArn"] and outputs["ScoringFunctionName"]
    assert not outputs["MskClusterArn"]
    assert not outputs["WarehouseRoleArn"] and not outputs["WarehouseWorkgroupName"]


def test_conditions_follow_the_parameters_and_their_defaults() -> None:
    template = _load_template(TEMPLATE)
    assert _holds("IsAws", template, {})
    assert not _holds("IsAws", template, {"LocalAccount": "true"})
    assert _holds("ProvisionedMsk", template, {}) and not _holds("ServerlessMsk", template, {})
    assert _holds("ServerlessMsk", template, {"MskClusterType": "serverless"})
    assert not _holds("CreateWarehouse", template, {})
    assert _holds("CreateWarehouse", template, {"WarehouseWorkgroup": "true"})
    assert not _holds("CreateWarehouse", template, {"WarehouseWorkgroup": "true", "LocalAccount": "true"})
    assert not _holds("CreateFlinkApp", template, {"FlinkAppKey": "flink/app.zip"})
    assert _holds("CreateFlinkApp", template, {"FlinkAppKey": "flink/app.zip", "FlinkBootstrapServers": "b:9098"})
