"""Static checks of the CloudFormation templates: cfn-lint, checkov, version allow-lists, IAM policies.

The IAM checks read the Service Authorization Reference as policy_sentry ships it (a dependency of
checkov): every action must exist there, a Resource of "*" is allowed only for actions that have no
resource-level permissions, and every resource ARN must have the format one of its actions accepts.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from cfnlint.decode import cfn_yaml
from policy_sentry.querying.actions import get_action_data

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "cloudformation"
TEMPLATES = sorted(TEMPLATE_DIR.glob("*.yaml"))

# Lambda runtimes with their deprecation dates (Lambda's runtime table); a runtime past its date fails.
ALLOWED_LAMBDA_RUNTIMES = {
    "python3.13": datetime.date(2029, 6, 30),
    "python3.14": datetime.date(2030, 6, 30),
}
# MSK versions without a published end-of-support date; 3.8.x is the one MSK recommends.
ALLOWED_KAFKA_VERSIONS = {"3.8.x", "3.9.x", "4.0.x"}
# Managed Service for Apache Flink runtimes (none is deployed yet; an application must use one of these).
ALLOWED_FLINK_RUNTIMES = {"FLINK-1_20"}

# Actions that the Service Authorization Reference lists without a resource type, so their statements
# must say Resource "*" (checked against policy_sentry's copy of the reference below).
NO_RESOURCE_LEVEL_ACTIONS = {
    "cloudwatch:PutMetricData",  # SageMaker endpoint metrics; narrowed by the cloudwatch:namespace condition
    "ec2:DescribeNetworkInterfaces",  # Lambda's VPC network interfaces
    "ec2:DescribeDhcpOptions",  # the Managed Flink application in the VPC
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ecr:GetAuthorizationToken",  # the endpoint's image pull
    "kafka:GetBootstrapBrokers",  # the MSK event source mapping
    "logs:DescribeLogGroups",  # VPC flow logs delivery
}

SAMPLE = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}


def _load(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = cfn_yaml.load(str(path))
    return template


def _resources(template: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in template.get("Resources", {}).items():
        if resource["Type"] == kind:
            yield name, resource.get("Properties", {})


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_cfn_lint_has_no_errors_or_warnings(template: Path) -> None:
    matches = lint_file(template, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [f"{match.rule.id} line {match.linenumber}: {match.message}" for match in matches] == []


def test_templates_exist() -> None:
    assert [path.name for path in TEMPLATES] == ["bootstrap.yaml", "fraudkit.yaml"]


def test_lambda_runtimes_are_allowed_and_supported() -> None:
    runtimes = {
        props["Runtime"]
        for path in TEMPLATES
        for _, props in _resources(_load(path), "AWS::Lambda::Function")
    }
    assert runtimes, "no Lambda function found"
    for runtime in runtimes:
        assert runtime in ALLOWED_LAMBDA_RUNTIMES, f"{runtime} is not in the allow-list"
        assert datetime.date.today() < ALLOWED_LAMBDA_RUNTIMES[runtime], f"{runtime} is deprecated"


def test_kafka_versions_are_allowed() -> None:
    template = _load(TEMPLATE_DIR / "fraudkit.yaml")
    parameter = template["Parameters"]["KafkaVersion"]
    versions = {parameter["Default"], *parameter["AllowedValues"]}
    for _, props in _resources(template, "AWS::MSK::Cluster"):
        version = props["KafkaVersion"]
        assert version == {"Ref": "KafkaVersion"} or version in ALLOWED_KAFKA_VERSIONS
    assert versions <= ALLOWED_KAFKA_VERSIONS
    assert parameter["Default"] == "3.8.x"


def test_flink_runtimes_are_allowed() -> None:
    for path in TEMPLATES:
        for _, props in _resources(_load(path), "AWS::KinesisAnalyticsV2::Application"):
            assert props["RuntimeEnvironment"] in ALLOWED_FLINK_RUNTIMES


def test_msk_accepts_only_iam_over_tls() -> None:
    template = _load(TEMPLATE_DIR / "fraudkit.yaml")
    for _, props in _resources(template, "AWS::MSK::Cluster"):
        assert props["ClientAuthentication"] == {
            "Sasl": {"Iam": {"Enabled": True}},
            "Unauthenticated": {"Enabled": False},
        }
        assert props["EncryptionInfo"]["EncryptionInTransit"] == {"ClientBroker": "TLS", "InCluster": True}
    for _, props in _resources(template, "AWS::MSK::ServerlessCluster"):
        assert props["ClientAuthentication"] == {"Sasl": {"Iam": {"Enabled": True}}}


def test_buckets_are_encrypted_private_versioned_and_tls_only() -> None:
    for path in TEMPLATES:
        template = _load(path)
        policies = {
            props["Bucket"]["Ref"]: props["PolicyDocument"]
            for _, props in _resources(template, "AWS::S3::BucketPolicy")
        }
        for name, props in _resources(template, "AWS::S3::Bucket"):
            assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            assert all(props["PublicAccessBlockConfiguration"].values())
            assert props["VersioningConfiguration"] == {"Status": "Enabled"}
            assert any(
                "NoncurrentVersionExpiration" in rule for rule in props["LifecycleConfiguration"]["Rules"]
            )
            deny = [s for s in policies[name]["Statement"] if s["Effect"] == "Deny"]
            assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, name


def test_checkov_finds_nothing_and_every_skip_is_justified() -> None:
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false")
    # A relative directory: checkov adds the template's path to every map it checks, and CKV_AWS_45
    # takes any 40-character run of [A-Za-z0-9/] for an AWS secret key, such as the absolute path
    # "/check/work/main/cloudformation/fraudkit" in CI.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "checkov.main",
            "-d",
            TEMPLATE_DIR.name,
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=TEMPLATE_DIR.parent,
        timeout=300,
    )
    reports = json.loads(result.stdout)
    for report in reports if isinstance(reports, list) else [reports]:
        results = report["results"]
        assert [(c["check_id"], c["resource"]) for c in results["failed_checks"]] == []
        assert report["summary"]["parsing_errors"] == 0
        assert report["summary"]["passed"] > 50
        for check in results["skipped_checks"]:
            comment = check["check_result"].get("suppress_comment", "")
            assert len(comment) > 40, f"unjustified skip {check['check_id']} {check['resource']}"


# --- IAM ---


def _policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every identity-based policy document of the template's roles and policies."""
    for name, props in _resources(template, "AWS::IAM::Role"):
        for policy in props.get("Policies", []):
            yield f"{name}/{policy['PolicyName']}", policy["PolicyDocument"]
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for name, props in _resources(template, kind):
            yield name, props["PolicyDocument"]


def _statements() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    found = []
    for path in TEMPLATES:
        template = _load(path)
        for name, document in _policy_documents(template):
            statements = document["Statement"]
            found += [(f"{path.name}:{name}", statement, template) for statement in statements]
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_iam_has_no_wildcard_actions_or_full_access_policies() -> None:
    statements = _statements()
    assert len(statements) > 10
    for where, statement, _ in statements:
        assert statement["Effect"] == "Allow", where
        assert "NotAction" not in statement and "NotResource" not in statement, where
        for action in _as_list(statement["Action"]):
            name = action.partition(":")[2]
            assert action != "*" and name != "*", f"{where}: {action}"
    for path in TEMPLATES:
        for _, props in _resources(_load(path), "AWS::IAM::Role"):
            for arn in props.get("ManagedPolicyArns", []):
                assert "FullAccess" not in json.dumps(arn)


def _arn_pattern(raw: str) -> re.Pattern[str]:
    """A regex for a Service Authorization Reference ARN format such as arn:${Partition}:s3:::${BucketName}."""
    parts = re.split(r"\$\{[^}]+\}", raw)
    return re.compile("^" + ".+".join(re.escape(part) for part in parts) + "$")


def _sample_of(template: dict[str, Any], name: str, attribute: str | None) -> str:
    """A realistic value of Ref/GetAtt on a template's resource or parameter, for ARN format checks."""
    if name in SAMPLE:
        return SAMPLE[name]
    if name == "AWS::StackName":
        return "fraudkit"
    if name in template.get("Parameters", {}):
        return str(template["Parameters"][name].get("Default", "value"))
    kind = template["Resources"][name]["Type"]
    samples = {
        ("AWS::S3::Bucket", None): "fraudkit-data",
        ("AWS::S3::Bucket", "Arn"): "arn:aws:s3:::fraudkit-data",
        ("AWS::KMS::Key", "Arn"): "arn:aws:kms:us-east-1:123456789012:key/0d8a7e2c",
        ("AWS::Logs::LogGroup", None): f"/aws/{name}",
        ("AWS::MSK::Cluster", None): "arn:aws:kafka:us-east-1:123456789012:cluster/fraudkit-msk/5b7c-2",
        (
            "AWS::MSK::ServerlessCluster",
            None,
        ): "arn:aws:kafka:us-east-1:123456789012:cluster/fraudkit-msk/6c8d-3",
        ("AWS::EC2::Subnet", None): "subnet-0123",
        ("AWS::EC2::SecurityGroup", None): "sg-0123",
    }
    return samples[(kind, attribute)]


def _resolve(value: Any, template: dict[str, Any], variables: dict[str, str] | None = None) -> str:
    """Evaluate the intrinsic functions the policies use (the true branch of Fn::If) to a sample ARN."""
    if isinstance(value, str):
        return value
    ((function, argument),) = value.items()
    if function == "Ref":
        return _sample_of(template, argument, None)
    if function == "Fn::GetAtt":
        return _sample_of(template, argument[0], argument[1])
    if function == "Fn::If":
        return _resolve(argument[1], template, variables)
    if function == "Fn::Select":
        return _resolve(argument[1]["Fn::Split"][1], template, variables).split(argument[1]["Fn::Split"][0])[
            argument[0]
        ]
    if function == "Fn::Sub":
        text, local = (argument, {}) if isinstance(argument, str) else argument
        values = {key: _resolve(item, template) for key, item in local.items()}

        def substitute(match: re.Match[str]) -> str:
            reference = match.group(1)
            if reference in values:
                return values[reference]
            name, _, attribute = reference.partition(".")
            return _sample_of(template, name, attribute or None)

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)
    raise AssertionError(f"unexpected intrinsic function {function}")


def test_iam_actions_exist_and_resources_match_their_arn_formats() -> None:
    for where, statement, template in _statements():
        actions = _as_list(statement["Action"])
        formats: dict[str, list[str]] = {}
        for action in actions:
            service, _, name = action.partition(":")
            data = get_action_data(service, name)
            assert data and data[service], f"{where}: {action} is not in the Service Authorization Reference"
            formats[action] = [entry["resource_arn_format"] for entry in data[service]]
        resources = _as_list(statement["Resource"])
        if resources == ["*"]:
            for action in actions:
                assert action in NO_RESOURCE_LEVEL_ACTIONS, f"{where}: {action} supports resources, scope it"
                assert formats[action] == ["*"], f"{where}: {action} has resource types {formats[action]}"
            continue
        assert "*" not in resources, where
        arns = [_resolve(resource, template) for resource in resources]
        patterns = {
            action: [_arn_pattern(raw) for raw in raws if raw != "*"] for action, raws in formats.items()
        }
        for action, action_patterns in patterns.items():
            assert any(p.match(arn) for p in action_patterns for arn in arns), (
                f"{where}: {action} matches none of {arns}"
            )
        for arn in arns:
            assert any(p.match(arn) for ps in patterns.values() for p in ps), (
                f"{where}: {arn} fits none of {actions}"
            )


def test_no_resource_level_list_matches_the_reference() -> None:
    for action in NO_RESOURCE_LEVEL_ACTIONS:
        service, _, name = action.partition(":")
        assert [entry["resource_arn_format"] for entry in get_action_data(service, name)[service]] == ["*"], (
            action
        )


def test_kms_key_policy_grants_the_account_and_only_the_logs_service() -> None:
    template = _load(TEMPLATE_DIR / "fraudkit.yaml")
    statements = template["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    wildcard = [s for s in statements if s["Action"] == "kms:*"]
    assert [s["Principal"] for s in wildcard] == [
        {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    ]
    services = [s for s in statements if "Service" in s["Principal"]]
    assert all("Condition" in s and "kms:*" not in _as_list(s["Action"]) for s in services)


def test_the_warehouse_is_off_by_default_private_tls_only_and_reads_the_kits_topic() -> None:
    from fraudkit.config import Settings
    from fraudkit.warehouse.ingest import handbook_topic

    template = _load(TEMPLATE_DIR / "fraudkit.yaml")
    assert template["Parameters"]["WarehouseWorkgroup"]["Default"] == "false"
    warehouse = [name for name, resource in template["Resources"].items()
                 if resource["Type"].startswith("AWS::RedshiftServerless::") or name.startswith("Warehouse")]
    assert len(warehouse) >= 4
    for name in [*warehouse, "MskFromWarehouseIngress"]:
        assert template["Resources"][name].get("Condition") == "CreateWarehouse", name
    ((_, workgroup),) = _resources(template, "AWS::RedshiftServerless::Workgroup")
    assert workgroup["PubliclyAccessible"] is False
    assert {"ParameterKey": "require_ssl", "ParameterValue": "true"} in workgroup["ConfigParameters"]
    ((_, namespace),) = _resources(template, "AWS::RedshiftServerless::Namespace")
    assert namespace["ManageAdminPassword"] is True and "AdminUserPassword" not in namespace
    assert namespace["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    # the role may read exactly the topic that `python -m fraudkit.warehouse` publishes and reads
    role = template["Resources"]["WarehouseRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    (topic_statement,) = [s for s in role["Statement"] if s["Sid"] == "MskStreamingIngestionTopic"]
    arn = _resolve(topic_statement["Resource"], template)
    assert arn.rsplit("/", 1)[1] == handbook_topic(Settings.load(state_dir="/nonexistent"))
