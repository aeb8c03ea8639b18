"""Screen only: the suite with ``bo``'s two candidate changes at once, in every process.

With this folder on ``PYTHONPATH`` every Python process (``steer compare`` and its Ray
workers included) loads ``steer.policies.bo`` patched: ``amortise_readout`` on by default
(the option; the runs are version "7+amortise") and the completion screen of
``benchmarks/screen_completion.py`` (scores x3 for variable-looking targets, fitted
amplitude^2 > 0.005 mag^2, one good measurement short of 8)::

    PYTHONPATH=benchmarks/screen_site .venv/bin/python benchmarks/bench_suite.py \\
        --policies bo --runs-dir /tmp/suite-screen-runs \\
        --update benchmarks/results/suite.json --out /tmp/suite-screen.json

(``--out``: the suite writes there; without it, over ``suite.json``.) The same for a
campaign: ``PYTHONPATH=benchmarks/screen_site .venv/bin/python
benchmarks/bench_campaign.py --experiment ... --out /tmp/campaign-screen.json``.

It writes the evaluation's own 8-point rule into the ranking: a screen of how far the two
mechanisms go, not a policy. Nothing of steer changes.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
import _bo_patch  # noqa: E402


def _patch(module):
    from screen_completion import completion_ranked

    module.ranked = completion_ranked(module.ranked, 2.0, 7, 0.005)  # scores x3
    init = module.BOPolicy.__init__

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("amortise_readout", True)
        init(self, *args, **kwargs)

    module.BOPolicy.__init__ = __init__


_bo_patch.install(_patch)
