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


def _patch(module):
    import numpy as np

    real_ranked = module.ranked

    def ranked(rank, scores, la, mask, n, why, exposure_mask):
        bank = rank.__self__.bank  # the policy whose ranking this is
        counts = np.fromiter((bank.count(i) for i in range(bank.n)), int, bank.n)
        amp2 = (bank.weights.numpy()
                * bank.outputscale.view(bank.n_l, bank.n).numpy().T).sum(1)
        boost = (counts == 7) & (amp2 > 0.005)
        return real_ranked(rank, np.where(boost[:, None], scores * 3.0, scores), la, mask, n,
                           why, exposure_mask)

    module.ranked = ranked
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
