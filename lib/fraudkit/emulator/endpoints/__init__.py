"""The emulator's models/endpoints service: SageMaker's control plane for models, endpoint configs and
endpoints, and `sagemaker-runtime` InvokeEndpoint serving XGBoost like the built-in container.

Importing this package registers every handler with the emulator core.
"""

from fraudkit.emulator.endpoints import control, runtime

__all__ = ["control", "runtime"]
