"""The AWS backend's glue: the CloudFormation stack outputs the kit reads, and teardown of what it created."""

from fraudkit.aws.stack import StackNotReady, apply_stack_outputs, read_stack_outputs

__all__ = ["StackNotReady", "apply_stack_outputs", "read_stack_outputs"]
