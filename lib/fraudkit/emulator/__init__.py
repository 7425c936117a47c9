"""The local AWS-compatible emulator: SageMaker Feature Store, models and endpoints on 127.0.0.1.

`python -m fraudkit.emulator serve` runs it; `fraudkit.emulator.launcher` starts it in the
background; `core` is the seam services register with; `wire` speaks botocore's protocols.
"""
