"""Test doubles for the core, shipped for users' tests too.

Nothing here replaces a real component in an integration test. Tiny
experiments and scripted policies of the target-selection environment are
in :mod:`steer.envs.testing`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ListSink"]

class ListSink:
    """A record sink that keeps the records in memory (``.records``), e.g. after a journal."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def write(self, record: Any) -> None:
        """Keep one record."""
        self.records.append(record)

    def close(self) -> None:
        """Nothing to release."""
