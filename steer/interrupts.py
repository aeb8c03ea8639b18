"""Ctrl-C in commands that run many episodes: finish what is in hand, say what was lost."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any

__all__ = ["interrupt_deferred", "lost_episodes", "ranges"]


@contextlib.contextmanager
def interrupt_deferred() -> Any:
    """Hold Ctrl-C (SIGINT) until the block is done, then raise it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hit: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: hit.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if hit:
        raise KeyboardInterrupt


def lost_episodes(policies: list[str], seeds: list[int],
                  results: dict[tuple[str, int], Any], nights: int) -> str:
    """What an interrupted comparison finished and what it lost, in one line.

    Args:
        policies: The compared policies.
        seeds: Their seeds.
        results: The (policy, seed) pairs whose episodes (or campaigns) finished.
        nights: Nights per campaign (1: single episodes).
    """
    what = "campaigns" if nights > 1 else "episodes"
    total = len(policies) * len(seeds)
    lost = {p: [s for s in seeds if (p, s) not in results] for p in policies}
    lost = {p: ss for p, ss in lost.items() if ss}
    if not lost:
        return (f"all {total} {what} finished and are logged; the comparison's summary "
                "was not: rerun the command")
    missing = "; ".join(f"{p} seeds {ranges(ss)}" for p, ss in lost.items())
    return (f"{len(results)} of {total} {what} finished and are logged; "
            f"{total - len(results)} did not ({missing}): their MLflow runs are marked FAILED "
            "and their decisions were not journaled (they ran on Ray workers); "
            "no comparison summary was written: rerun the command")


def ranges(values: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``."""
    out: list[str] = []
    start = prev = values[0]
    for v in [*values[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        out.append(f"{start}-{prev}" if prev > start else f"{start}")
        if v is not None:
            start = prev = v
    return ", ".join(out)
