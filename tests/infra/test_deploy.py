"""`make deploy` / `make destroy` (`fraudkit.aws.deploy`) against a local account.

CloudFormation, S3, IAM, EC2, KMS, Logs, Lambda and Glue are moto's (in process, `mock_aws`); the
SageMaker APIs are the kit's emulator (its AWS_ENDPOINT_URL_* variables, which moto lets through).
The stack is the local-account variant (LocalAccount=true: no MSK, no event source mappings, no
interface endpoints). The exact call sequence of an update, which moto answers loosely, is pinned
with botocore's Stubber.
"""

from __future__ import annotations

import datetime
import io
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from fraudkit.aws import deploy
from fraudkit.config import Settings

from tests.fixtures.emulator import feature_group_request

pytest.importorskip(
    "openapi_spec_validator", reason="moto's CloudFormation needs moto[cloudformation]'s extras"
)
from fraudkit.aws.local_account import change_set_outputs
from moto import mock_aws  # after the skip: moto's CloudFormation imports those extras

LOCAL = {"LocalAccount": "true"}


@pytest.fixture
def code(tmp_path: Path) -> Path:
    path = tmp_path / "fraudkit-lambda.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fraudkit/__init__.py", "")
    return path


@pytest.fixture
def account(emulator: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings of a fresh local account: moto for everything but SageMaker, which the emulator answers."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_CLOUDFORMATION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    suffix = uuid.uuid4().hex[:8]
    settings = Settings.load(
        backend="aws",
        region="us-east-1",
        stack_name=f"fk-{suffix}",
        online_feature_group=f"fk-{suffix}-agg-fg",
        batch_feature_group=f"fk-{suffix}-agg-batch-fg",
        model_name=f"fk-{suffix}-xgb",
        endpoint_name=f"fk-{suffix}-xgb-endpoint",
    )
    with mock_aws(), change_set_outputs():
        yield settings


def stack_statuses(settings: Settings) -> dict[str, str]:
    summaries = boto3.client("cloudformation", region_name=settings.region).list_stacks()["StackSummaries"]
    return {summary["StackName"]: summary["StackStatus"] for summary in summaries}


def test_dry_run_prints_the_change_sets_and_executes_nothing(account: Settings, code: Path) -> None:
    lines: list[str] = []
    deploy.deploy(account, code, LOCAL, dry_run=True, say=lines.append)
    text = "\n".join(lines)
    assert "Add     ArtifactsBucket" in text and "AWS::Lambda::Function" in text
    assert text.count("dry run, change set deleted without executing it") == 2
    assert ": executing" not in text
    assert set(stack_statuses(account).values()) == {"DELETE_COMPLETE"}
    assert boto3.client("s3").list_buckets()["Buckets"] == []
    assert boto3.client("lambda", region_name="us-east-1").list_functions()["Functions"] == []


def test_deploy_prints_each_change_set_before_executing_it(account: Settings, code: Path) -> None:
    lines: list[str] = []
    deploy.deploy(account, code, LOCAL, say=lines.append)
    main = account.stack_name
    tables = [i for i, line in enumerate(lines) if "action  logical id" in line]
    executions = [i for i, line in enumerate(lines) if ": executing fraudkit-" in line]
    assert len(tables) == 2 and len(executions) == 2
    assert all(table < execution for table, execution in zip(tables, executions, strict=True))
    assert lines[executions[1]].startswith(f"{main}: executing")
    assert stack_statuses(account) == {main: "CREATE_COMPLETE", f"{main}-bootstrap": "CREATE_COMPLETE"}

    stacks = deploy.Stacks.from_settings(account)
    artifacts = stacks.physical_id(f"{main}-bootstrap", "ArtifactsBucket")
    key = deploy.code_key(code)
    assert boto3.client("s3").get_object(Bucket=artifacts, Key=key)["Body"].read() == code.read_bytes()
    function = boto3.client("lambda", region_name="us-east-1").get_function(FunctionName=f"{main}-scoring")
    assert function["Configuration"]["Runtime"] == "python3.13"
    assert function["Configuration"]["Handler"] == "fraudkit.streaming.handlers.scoring_handler"


def test_a_second_deploy_without_changes_executes_nothing(account: Settings, code: Path) -> None:
    deploy.deploy(account, code, LOCAL, say=lambda line: None)
    lines: list[str] = []
    deploy.deploy(account, code, LOCAL, say=lines.append)
    assert [line for line in lines if "change set" in line or "executing" in line] == []
    assert f"{account.stack_name}: no changes" in lines


def test_destroy_deletes_the_workshop_resources_every_object_version_and_the_stacks(
    account: Settings, code: Path
) -> None:
    deploy.deploy(account, code, LOCAL, say=lambda line: None)
    stacks = deploy.Stacks.from_settings(account)
    bucket = stacks.physical_id(account.stack_name, "DataBucket")
    s3 = boto3.client("s3")
    # moto's CloudFormation leaves out the bucket's VersioningConfiguration; AWS applies it
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="offline/part-0.parquet", Body=b"1")
    s3.put_object(Bucket=bucket, Key="offline/part-0.parquet", Body=b"2")
    s3.delete_object(Bucket=bucket, Key="offline/part-0.parquet")  # leaves two versions and a marker
    s3.put_object(Bucket=bucket, Key="fraudkit/models/model.tar.gz", Body=b"model")
    sagemaker = account.client("sagemaker")  # the emulator
    offline = {"S3StorageConfig": {"S3Uri": f"s3://{bucket}/offline"}}
    role = "arn:aws:iam::123456789012:role/fraudkit-sagemaker"
    sagemaker.create_feature_group(
        **feature_group_request(account.online_feature_group, OfflineStoreConfig=offline, RoleArn=role)
    )

    lines: list[str] = []
    deleted = deploy.destroy(account, say=lines.append)

    assert deleted["feature groups"] == 1
    assert deleted["model artifacts"] == 1
    # two versions and a delete marker of the offline object; the model's version and the marker
    # that teardown's DeleteObjects (without version ids) left in the versioned bucket
    assert deleted[f"object versions in s3://{bucket}"] == 5
    assert deleted[f"stack {account.stack_name}"] == deleted[f"stack {account.stack_name}-bootstrap"] == 1
    assert f"deleted stack {account.stack_name}" in lines and "deleted 1 feature groups" in lines
    assert set(stack_statuses(account).values()) == {"DELETE_COMPLETE"}
    assert s3.list_buckets()["Buckets"] == []
    assert (
        sagemaker.list_feature_groups(NameContains=account.online_feature_group)["FeatureGroupSummaries"]
        == []
    )


def test_destroy_asks_first_and_yes_skips_the_question(
    account: Settings, code: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy.deploy(account, code, LOCAL, say=lambda line: None)
    monkeypatch.setenv("FRAUDKIT_STACK_NAME", account.stack_name)
    for name in ("online_feature_group", "batch_feature_group", "model_name", "endpoint_name"):
        monkeypatch.setenv(f"FRAUDKIT_{name.upper()}", getattr(account, name))
    questions: list[str] = []

    def refuse(question: str) -> str:
        questions.append(question)
        return "n"

    assert deploy.main(["destroy"], ask=refuse) == 1
    assert account.stack_name in questions[0]
    assert stack_statuses(account)[account.stack_name] == "CREATE_COMPLETE"
    assert deploy.main(["destroy", "--yes"], ask=refuse) == 0
    assert len(questions) == 1
    assert set(stack_statuses(account).values()) == {"DELETE_COMPLETE"}


def test_update_calls_exactly_the_change_set_operations(tmp_path: Path) -> None:
    """One UPDATE of the main stack, operation by operation (moto accepts looser calls than AWS)."""
    client = boto3.client(
        "cloudformation", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    stacks = deploy.Stacks(Settings.load(backend="aws", region="eu-west-1"), client, s3=None)
    stack = {
        "StackName": "fraudkit",
        "CreationTime": datetime.datetime(2026, 1, 1),
        "StackStatus": "UPDATE_COMPLETE",
    }
    change = {"ResourceChange": {"Action": "Modify", "LogicalResourceId": "IngestFunction",
                                 "ResourceType": "AWS::Lambda::Function", "Replacement": "False"}}  # fmt: skip
    described = {"Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE", "Changes": [change]}
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "fraudkit"})
        stub.add_response(
            "create_change_set",
            {"Id": "arn:aws:cloudformation:eu-west-1:1:changeSet/x/1"},
            {
                "StackName": "fraudkit",
                "ChangeSetName": ANY,
                "ChangeSetType": "UPDATE",
                "TemplateBody": deploy.MAIN_TEMPLATE.read_text(),
                "Parameters": [
                    {"ParameterKey": "AccessLogBucket", "ParameterValue": "logs"},
                    {"ParameterKey": "CodeBucket", "ParameterValue": "artifacts"},
                    {"ParameterKey": "CodeKey", "ParameterValue": "lambda/fraudkit-lambda-0123.zip"},
                ],
                "Capabilities": ["CAPABILITY_IAM"],
                "Description": "make deploy (fraudkit.yaml)",
            },
        )
        stub.add_response("describe_change_set", described, {"StackName": "fraudkit", "ChangeSetName": ANY})
        stub.add_response("describe_change_set", described, {"StackName": "fraudkit", "ChangeSetName": ANY})
        stub.add_response("execute_change_set", {}, {"StackName": "fraudkit", "ChangeSetName": ANY})
        stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "fraudkit"})
        stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "fraudkit"})
        out = io.StringIO()
        changed = deploy.deploy_stack(
            stacks,
            "fraudkit",
            deploy.MAIN_TEMPLATE,
            {
                "CodeKey": "lambda/fraudkit-lambda-0123.zip",
                "CodeBucket": "artifacts",
                "AccessLogBucket": "logs",
            },
            dry_run=False,
            say=lambda line: print(line, file=out),
        )
        stub.assert_no_pending_responses()
    assert changed
    assert "Modify  IngestFunction  AWS::Lambda::Function  False" in out.getvalue()
    assert "fraudkit: UPDATE_COMPLETE" in out.getvalue()


def test_deploy_refuses_a_stack_that_is_not_settled(tmp_path: Path) -> None:
    client = boto3.client(
        "cloudformation", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    stacks = deploy.Stacks(Settings.load(backend="aws", region="eu-west-1"), client, s3=None)
    stack: dict[str, Any] = {"StackName": "fraudkit", "CreationTime": datetime.datetime(2026, 1, 1)}
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", {"Stacks": [{**stack, "StackStatus": "ROLLBACK_COMPLETE"}]})
        with pytest.raises(deploy.DeployError, match=r"ROLLBACK_COMPLETE.*make destroy"):
            deploy.deploy_stack(stacks, "fraudkit", deploy.MAIN_TEMPLATE, {}, dry_run=False)
