"""Read the CloudFormation stack (`cloudformation/`) that the aws backend runs on, as typed outputs.

The stack creates what the notebooks cannot create themselves (the offline-store bucket, the
SageMaker execution role, the MSK cluster); `fraudkit.backends.aws.AwsBackend` reads its outputs
once and hands them to every stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from fraudkit.backends.base import BackendNotReady
from fraudkit.config import Settings

# the outputs every notebook needs; Kafka's (MskClusterArn, or the MskBootstrapServers override a local
# account's harness supplies) are checked when Kafka is used: notebooks 03 and 04 do without
REQUIRED_OUTPUTS = ("OfflineStoreBucket", "SageMakerRoleArn")
USABLE_STACK_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}
DEPLOY_HINT = (
    "deploy the templates in cloudformation/ (`make deploy`) or set FRAUDKIT_STACK_NAME to your stack"
)


class StackNotReady(BackendNotReady):
    """The aws backend cannot run: the message says what is missing and how to provide it."""


def describe_stack(settings: Settings, cloudformation: Any) -> dict[str, Any]:
    """DescribeStacks of `settings.stack_name`; StackNotReady unless it exists in a usable state."""
    where = f"CloudFormation stack {settings.stack_name!r} in {settings.region}"
    try:
        stacks = cloudformation.describe_stacks(StackName=settings.stack_name)["Stacks"]
    except NoCredentialsError:
        raise StackNotReady(
            f"backend 'aws' needs AWS credentials to read the {where}: run `aws configure` or set AWS_PROFILE"
        ) from None
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        if "does not exist" in message:
            raise StackNotReady(
                f"backend 'aws' needs the {where}, which does not exist: {DEPLOY_HINT}"
            ) from None
        raise StackNotReady(f"backend 'aws' cannot read the {where}: {message}") from None
    except BotoCoreError as error:
        raise StackNotReady(f"backend 'aws' cannot read the {where}: {error}") from None
    stack: dict[str, Any] = stacks[0]
    if stack["StackStatus"] not in USABLE_STACK_STATES:
        raise StackNotReady(f"the {where} is {stack['StackStatus']}, not ready: {DEPLOY_HINT}")
    return stack


def outputs_by_key(stack: dict[str, Any]) -> dict[str, str]:
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}


def missing_outputs(stack_name: str, keys: list[str]) -> StackNotReady:
    """The one-line stop when the stack lacks outputs the kit reads."""
    return StackNotReady(
        f"CloudFormation stack {stack_name!r} lacks the output(s) {', '.join(keys)}: {DEPLOY_HINT}"
    )


@dataclass(frozen=True)
class StackOutputs:
    """What the kit reads from the stack, typed: its account, bucket, SageMaker role and Kafka cluster."""

    account_id: str
    bucket: str
    sagemaker_role_arn: str
    msk_cluster_arn: str = ""
    bootstrap_servers: str = ""  # the optional MskBootstrapServers override

    @classmethod
    def from_stack(cls, stack: dict[str, Any]) -> StackOutputs:
        """The outputs of a DescribeStacks `Stack`; StackNotReady naming the required ones it lacks."""
        outputs = outputs_by_key(stack)
        missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
        if missing:
            raise missing_outputs(stack["StackName"], missing)
        # StackId: arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>
        return cls(
            account_id=stack["StackId"].split(":")[4],
            bucket=outputs["OfflineStoreBucket"],
            sagemaker_role_arn=outputs["SageMakerRoleArn"],
            msk_cluster_arn=outputs.get("MskClusterArn", ""),
            bootstrap_servers=outputs.get("MskBootstrapServers", ""),
        )


def read_stack_outputs(settings: Settings, cloudformation: Any | None = None) -> StackOutputs:
    """The stack's outputs (default client: `settings.client("cloudformation")`); StackNotReady if unusable."""
    return StackOutputs.from_stack(
        describe_stack(settings, cloudformation or settings.client("cloudformation"))
    )
