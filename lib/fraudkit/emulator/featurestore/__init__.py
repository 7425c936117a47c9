"""The emulated SageMaker Feature Store: control plane on `sagemaker`, all runtime operations.

Importing the package registers its handlers and its backend with `fraudkit.emulator.core`.
"""

from fraudkit.emulator.featurestore import responses as responses

__all__ = ["responses"]
