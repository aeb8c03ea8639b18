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

import importlib.abc
import importlib.util
import sys
from pathlib import Path


def _patch(module):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
    from screen_completion import completion_ranked

    module.ranked = completion_ranked(module.ranked, 2.0, 7, 0.005)  # scores x3
    init = module.BOPolicy.__init__

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("amortise_readout", True)
        init(self, *args, **kwargs)

    module.BOPolicy.__init__ = __init__


class _PatchBo(importlib.abc.MetaPathFinder):
    """Patches ``steer.policies.bo`` right after it is first executed."""

    def find_spec(self, name, path, target=None):
        if name != "steer.policies.bo":
            return None
        sys.meta_path.remove(self)  # find it the usual way, once
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _patch(module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _PatchBo())
