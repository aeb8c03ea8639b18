"""Screen: does a value for completing a period fix ``bo``'s period-recovery loss?

``periodic_gap.py`` found the loss at 5,000 targets to be priority stars one good
measurement short of the 8 a period needs, which ``bo`` never visits. This plays
``bench_variants.py`` with ``bo``'s scores, for every target whose good measurements
number exactly ``COUNT`` and whose fitted variability (amplitude^2, averaged over the
time scales' weights) exceeds ``AMP2``, multiplied by ``1 + BETA``::

    .venv/bin/python benchmarks/screen_completion.py BETA COUNT AMP2 EXPERIMENT
        --first-seed S --seeds K --variant feature=feature --variant comp=bo [--out PATH]

It is a screen, not a policy: it writes the evaluation's own 8-point rule into the
ranking, which a policy should not know; a principled form (information about the
period itself, from a periodic light-curve model) would replace it. Nothing of steer
changes; the patch lives in this process only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def completion_ranked(real: Any, beta: float, count: int, amp2_min: float,
                      seen: dict[str, int] | None = None) -> Any:
    """``bo``'s ``ranked`` with the completion screen's scores (``seen`` counts the boosts)."""

    def ranked(rank: Any, scores: np.ndarray, la: Any, mask: np.ndarray, n: int,
               why: dict[str, Any], exposure_mask: Any) -> Any:
        bank = rank.__self__.bank  # the policy whose ranking this is
        counts = np.fromiter((bank.count(i) for i in range(bank.n)), int, bank.n)
        amp2 = (bank.weights.numpy()
                * bank.outputscale.view(bank.n_l, bank.n).numpy().T).sum(1)
        boost = (counts == count) & (amp2 > amp2_min)
        if seen is not None:
            seen["boosted"] += int((boost & mask).sum())
            seen["decisions"] += 1
        return real(rank, np.where(boost[:, None], scores * (1.0 + beta), scores), la, mask,
                    n, why, exposure_mask)

    return ranked


def main() -> int:
    if len(sys.argv) < 5:
        raise SystemExit(__doc__)
    beta, count, amp2_min = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    import steer.policies.bo as bo

    seen = {"boosted": 0, "decisions": 0}
    bo.ranked = completion_ranked(bo.ranked, beta, count, amp2_min, seen)
    import bench_variants

    sys.argv = ["bench_variants.py", *sys.argv[4:]]
    rc = bench_variants.main()
    print(f"boosted feasible targets per decision: "
          f"{seen['boosted'] / max(seen['decisions'], 1):.1f}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
