"""fraudkit: the library behind the real-time fraud-detection workshop notebooks."""

__version__ = "0.1.0"
