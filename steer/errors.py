"""One error root for steer, with narrow subclasses.

Every error carries a message that names the bad value and an optional hint
that says how to fix it (in the style of ``AxError(message, hint)``). The CLI
prints ``error: <message> (hint: <hint>)`` and exits non-zero without a
traceback for any :class:`SteerError`.
"""

from __future__ import annotations

__all__ = [
    "SteerError",
    "ConfigError",
    "CatalogError",
    "RegistryError",
    "UnsafeActionError",
    "InstrumentError",
    "InstrumentTimeoutError",
    "TrackingError",
    "ReplayMismatchError",
    "ResumeMismatchError",
    "MissingDependencyError",
    "Interrupted",
]


class SteerError(Exception):
    """Root of every error steer raises on purpose.

    Args:
        message: What went wrong, naming the offending value.
        hint: How to fix it (optional).
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message


class ConfigError(SteerError):
    """An experiment file or a setting is malformed or out of range."""


class CatalogError(ConfigError):
    """A target catalog is missing columns, has bad values or nothing observable."""


class RegistryError(SteerError):
    """An unknown environment, policy or instrument id was requested."""


class UnsafeActionError(SteerError):
    """An action violates the instrument's limits; nothing was sent."""


class InstrumentError(SteerError):
    """The instrument failed to carry out an action (fault, disconnect)."""


class InstrumentTimeoutError(InstrumentError):
    """The instrument did not answer within the configured seconds."""


class TrackingError(SteerError):
    """The tracking store (MLflow, journal folder) cannot be read or written."""


class ReplayMismatchError(SteerError):
    """A replayed run made a different decision than the logged run."""


class ResumeMismatchError(SteerError):
    """A resumed run made a different decision than its journal records."""


class MissingDependencyError(SteerError):
    """An optional dependency is needed but not installed."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, saying what the interrupted command finished and what it lost.

    Not a :class:`SteerError` (nothing was wrong); the CLI prints the message
    and exits 130.
    """
