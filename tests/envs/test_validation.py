"""Validation of the simulated night against the published Rubin numbers."""

import tempfile
from pathlib import Path

import pytest

from steer.config import load_experiment, parse_experiment
from steer.session import play


def test_rubin_like_feature_open_shutter_fraction_is_credible():
    """physics.md: Rubin's own simulations reach 0.71-0.74; above ~0.78 is a bug.

    A clear whole night (no weather downtime), 1,000 targets, 30 s visits,
    2 s readout + 1 s shutter, Rubin slews and 120 s filter changes.
    """
    base = load_experiment("experiments/rubin-like.toml")
    cfg = parse_experiment(base.source_text.replace("cloudiness = 0.3", "cloudiness = 0.0"),
                           base.source_path)
    with tempfile.TemporaryDirectory() as tmp:
        res = play(cfg, "feature", 0, Path(tmp))
    m = res.episode.metrics
    assert m["dome_closed_s"] == 0.0
    assert 0.6 <= m["open_shutter_fraction"] <= 0.78, m["open_shutter_fraction"]
    assert m["visits"] > 600
    assert 3.0 < m["slew_median_s"] < 30.0


@pytest.mark.parametrize("policy", ["greedy", "round-robin"])
def test_open_shutter_fraction_never_exceeds_the_bound(policy):
    cfg = load_experiment("experiments/demo.toml")
    with tempfile.TemporaryDirectory() as tmp:
        m = play(cfg, policy, 0, Path(tmp)).episode.metrics
    assert 0.0 < m["open_shutter_fraction"] <= m["open_shutter_fraction_dome_open"] <= 0.78
