"""The loop the Hartmann6 exploration screens share (issue 16's trap).

Each screen (``quality_kg.py``, ``quality_lengthscale_cap.py``,
``quality_turbo.py``) swaps one part of ``bo-continuous`` and plays the
benchmark's black-box settings, noise known, on chosen seeds; this runs those
seeds and reports each one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

#: The 14 tuning seeds (3000-3031) on which the settings end in the local basin.
FAILING = "3001,3004,3005,3008,3010,3011,3013,3014,3015,3017,3018,3024,3025,3028"


def run_screen(label: str, seeds: Iterable[int], params: dict[str, Any],
               setup: Callable[[int], None] | None = None,
               extra: Callable[[], dict[str, Any]] | None = None,
               on_row: Callable[[list[dict[str, Any]]], None] | None = None,
               ) -> list[dict[str, Any]]:
    """Hartmann6, 40 evaluations, noise known, on every seed: one row per seed.

    Args:
        label: Printed before each seed's line.
        seeds: The seeds to run.
        params: ``bo-continuous`` settings.
        setup: Called with the seed before its run.
        extra: Fields added to a seed's row after its run.
        on_row: Called with the rows so far after every seed (to write them).

    Returns:
        ``{"seed", "final_simple_regret", "mean_ask_s", **extra()}`` per seed.
    """
    import bench_quality as bq

    rows: list[dict[str, Any]] = []
    for seed in seeds:
        if setup is not None:
            setup(seed)
        run = bq.run_one("bo-continuous", "hartmann6", 40, seed, 0.0, params)
        more = extra() if extra is not None else {}
        rows.append({"seed": seed, "final_simple_regret": run["final_simple_regret"],
                     "mean_ask_s": run["mean_ask_s"], **more})
        said = "".join(f", {k} {v:.3g}" if isinstance(v, float) else f", {k} {v}"
                       for k, v in more.items())
        print(f"{label} seed {seed}: regret {run['final_simple_regret']:.4f}{said}, "
              f"{run['mean_ask_s']:.2f} s per suggestion", file=sys.stderr, flush=True)
        if on_row is not None:
            on_row(rows)
    return rows


def in_global_basin(rows: list[dict[str, Any]]) -> int:
    """Runs whose final simple regret is below 0.1 (under the best local optimum, 0.119)."""
    return sum(r["final_simple_regret"] < 0.1 for r in rows)
