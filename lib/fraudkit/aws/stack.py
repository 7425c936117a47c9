"""Read the outputs of the CloudFormation stack (`cloudformation/`) that the aws backend runs on.

The stack creates what the notebooks cannot create themselves (the offline-store bucket, the
SageMaker execution role, the MSK cluster). Its outputs fill the settings those resources belong
in, so on aws every notebook uses the same names as on the local backend.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from fraudkit.config import Settings

# stack output key -> the setting it fills ("extra.<key>" for names Settings keeps in `extra`)
STACK_OUTPUTS = {
    "OfflineStoreBucket": "offline_store_bucket",
    "SageMakerRoleArn": "extra.sagemaker_role_arn",
    "MskBootstrapServers": "bootstrap_servers",
}
USABLE_STACK_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}
DEPLOY_HINT = "deploy the templates in cloudformation/ (`make deploy`) or set FRAUDKIT_STACK_NAME to your stack"


class StackNotReady(RuntimeError):
    """The aws backend cannot run: the message says what is missing and how to provide it."""


def _describe_stack(settings: Settings, cloudformation: Any) -> dict[str, Any]:
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
            raise StackNotReady(f"backend 'aws' needs the {where}, which does not exist: {DEPLOY_HINT}") from None
        raise StackNotReady(f"backend 'aws' cannot read the {where}: {message}") from None
    except BotoCoreError as error:
        raise StackNotReady(f"backend 'aws' cannot read the {where}: {error}") from None
    stack: dict[str, Any] = stacks[0]
    if stack["StackStatus"] not in USABLE_STACK_STATES:
        raise StackNotReady(f"the {where} is {stack['StackStatus']}, not ready: {DEPLOY_HINT}")
    return stack


def read_stack_outputs(settings: Settings, cloudformation: Any | None = None) -> dict[str, str]:
    """The stack's outputs by key, plus `AccountId` (from the stack ARN); raises StackNotReady if unusable.

    `cloudformation` is the client to use (default: `settings.client("cloudformation")`).
    """
    stack = _describe_stack(settings, cloudformation or settings.client("cloudformation"))
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    missing = sorted(set(STACK_OUTPUTS) - set(outputs))
    if missing:
        raise StackNotReady(
            f"CloudFormation stack {settings.stack_name!r} lacks the output(s) {', '.join(missing)}: {DEPLOY_HINT}"
        )
    # arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>
    outputs["AccountId"] = stack["StackId"].split(":")[4]
    return outputs


def apply_stack_outputs(settings: Settings, outputs: dict[str, str]) -> Settings:
    """`settings` with the stack's resources filled in (bucket, role, bootstrap servers, account id)."""
    changes: dict[str, Any] = {}
    extra = dict(settings.extra, account_id=outputs["AccountId"])
    for key, target in STACK_OUTPUTS.items():
        if target.startswith("extra."):
            extra[target.removeprefix("extra.")] = outputs[key]
        else:
            changes[target] = outputs[key]
    return settings.replace(extra=extra, **changes)
