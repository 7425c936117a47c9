"""The AWS backend's glue: the CloudFormation stack outputs the kit reads, and teardown of what it created."""

from fraudkit.aws.stack import StackNotReady, StackOutputs, read_stack_outputs

__all__ = ["StackNotReady", "StackOutputs", "read_stack_outputs"]
