"""`make workshop-aws-local` at the tiny scale: every notebook on backend=aws against the local account
(`fraudkit.aws.local_account`), judged from the calls.json it writes: the calls every process made, by
service and operation with their short parameters, and what the account still held after destroy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fraudkit.storage import MODEL_ARTIFACT_PREFIX
from fraudkit.workshop import discover_notebooks

pytest.importorskip("openapi_spec_validator", reason="moto's CloudFormation needs moto[cloudformation]'s extras")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("aws-local")
    command = [sys.executable, "-m", "fraudkit.aws.local_account", "run", "--out", str(out), "--scale", "tiny"]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1500, check=False)
    calls = out / "calls.json"
    assert calls.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(calls.read_text())
    result["returncode"] = proc.returncode
    result["output"] = proc.stdout + proc.stderr
    return result


def calls(report: dict[str, Any], operation: str, phase: str | None = None) -> list[dict[str, Any]]:
    return [c for c in report["calls"] if c["operation"] == operation and phase in (None, c["phase"])]


def test_every_notebook_ran_on_aws_and_the_run_passed(report: dict[str, Any]) -> None:
    assert [run["name"] for run in report["notebooks"]] == [p.stem for p in discover_notebooks(REPO / "notebooks")]
    assert {run["status"] for run in report["notebooks"]} == {"ok"}, report["notebooks"]
    assert report["returncode"] == 0, report["output"][-3000:]


def test_the_deploy_printed_its_change_sets_and_the_harness_named_what_the_variant_leaves_out(
    report: dict[str, Any],
) -> None:
    assert report["output"].count("action  logical id") == 2
    assert "left out by LocalAccount=true: MskClusterArn; supplied: FRAUDKIT_BOOTSTRAP_SERVERS=" in report["output"]
    assert [c["phase"] for c in calls(report, "ExecuteChangeSet")] == ["deploy", "deploy"]


def test_the_notebooks_read_the_stack_and_used_its_bucket_and_role(report: dict[str, Any]) -> None:
    outputs = report["outputs"]
    stack_reads = calls(report, "DescribeStacks", "notebooks")
    assert stack_reads and all(c["params"]["StackName"] == report["stack"] for c in stack_reads)
    uploads = [
        c for c in calls(report, "PutObject", "notebooks")
        if c["params"]["Bucket"] == outputs["OfflineStoreBucket"] and c["params"]["Key"].startswith(MODEL_ARTIFACT_PREFIX)
    ]  # fmt: skip
    assert uploads and uploads[0]["params"]["Key"].endswith("/model.tar.gz")
    created = [c for c in calls(report, "CreateFeatureGroup", "notebooks") if c["status"] == 200]  # later: in use
    assert sorted(c["params"]["FeatureGroupName"] for c in created) == ["cc-agg-batch-fg", "cc-agg-fg"]
    assert {c["params"]["RoleArn"] for c in created} == {outputs["SageMakerRoleArn"]}
    models = calls(report, "CreateModel", "notebooks")
    assert models and {c["params"]["ExecutionRoleArn"] for c in models} == {outputs["SageMakerRoleArn"]}
    assert sum(c["count"] for c in calls(report, "PutRecord", "notebooks")) > 0


def test_every_call_was_named_and_none_failed_on_the_server(report: dict[str, Any]) -> None:
    assert [c for c in report["calls"] if c["operation"] == "(unknown)"] == []
    assert [c for c in report["calls"] if c["status"] >= 500] == []


def test_after_cleanup_and_destroy_nothing_remains(report: dict[str, Any]) -> None:
    assert calls(report, "DeleteStack", "destroy")
    assert report["remaining"] == {
        "feature groups": [], "endpoints": [], "endpoint configs": [], "models": [],
        "buckets": [], "bucket objects": [], "stacks": [],
    }  # fmt: skip
