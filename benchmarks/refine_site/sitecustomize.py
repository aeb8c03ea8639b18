"""Measurement only: ``bo`` with ``refine_periods`` on by default, in every process.

With this folder on ``PYTHONPATH`` every Python process (``steer compare`` and its Ray
workers included) makes ``bo`` with ``refine_periods = true`` unless a setting says
otherwise (its runs are version "8+refine"), so the suite and the campaigns judge the
option on their reporting seeds without another experiment file::

    PYTHONPATH=benchmarks/refine_site .venv/bin/python benchmarks/bench_suite.py \\
        --policies bo --update benchmarks/results/suite.json --out /tmp/suite-refine.json
    PYTHONPATH=benchmarks/refine_site .venv/bin/python benchmarks/bench_campaign.py \\
        --experiment experiments/campaign-south-winter.toml --policies feature,bo --seeds 10

Nothing of steer changes.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
import _bo_patch  # noqa: E402


def _patch(module):
    init = module.BOPolicy.__init__

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("refine_periods", True)
        init(self, *args, **kwargs)

    module.BOPolicy.__init__ = __init__


_bo_patch.install(_patch)
