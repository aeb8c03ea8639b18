"""How a night's visits were spent, read from its sequence of targets (the camping
benchmarks share it)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any


def longest_repeat(target_ids: Sequence[Any]) -> int:
    """The longest run of consecutive visits to one target (0 for no visits)."""
    return max((sum(1 for _ in run) for _, run in groupby(target_ids)), default=0)
