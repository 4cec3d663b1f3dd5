"""Decides whether an engines pod may start."""

from preflight.core.clock import PROCESS_START

__version__ = "0.1.0"
__all__ = ["PROCESS_START", "__version__"]
