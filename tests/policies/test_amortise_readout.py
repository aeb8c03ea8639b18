"""``bo``'s option ``amortise_readout``: each target's exposure amortises all of its
visit's dead time, readout included (measured on the suite, not the default)."""

from __future__ import annotations

import numpy as np
import pytest

from steer.errors import ConfigError


def test_the_exposure_that_amortises_dead_time_best_is_kept_per_target():
    """Where the slew is short, version 7's rate (readout counted once) takes the short
    exposure; weighting the readout like the slew takes the longer one, which gives a
    little more information for far fewer weighted seconds. Disallowed pairs stay out."""
    from steer.policies.lookahead import amortised_exposures

    value = np.array([[1.00, 1.10, 1.15],   # a near target: 2 s of slew
                      [1.00, 1.10, 1.15],   # a far one: 60 s of slew
                      [1.00, 1.10, 1.15]])  # only its 30 s exposure is allowed
    overhead_s, readout_s, exps = np.array([2.0, 60.0, 2.0]), 15.0, np.array([30.0, 60.0, 120.0])
    allowed = np.array([[True, True, True], [True, True, True], [True, False, False]])
    v7 = value / (32.0 * overhead_s[:, None] + readout_s + exps[None, :])
    assert np.argmax(v7[0]) == 0  # version 7: the 30 s exposure
    keep = amortised_exposures(value, overhead_s, readout_s, exps, 32.0, allowed)
    per_visit = 32.0 * (overhead_s[:, None] + readout_s) + exps[None, :]
    for i in range(3):
        rate = np.where(allowed[i], value[i] / per_visit[i], -np.inf)
        assert keep[i].sum() == 1 and keep[i, np.argmax(rate)]
    assert keep[0, 1] and keep[2, 0]  # 60 s for the near target; the far one's only choice
    assert not (keep & ~allowed).any()


def test_a_tiny_night_with_it_says_so_and_takes_no_shorter_exposures(tmp_path):
    """A real tiny night with ``amortise_readout = true`` ("7+amortise", no period value)
    and by version 7: the option names the exposure rule in every decision, takes no shorter
    exposures on the whole, and its decisions differ."""
    from steer.envs.testing import tiny_night

    amortised = tiny_night(tmp_path / "a", "bo", 0, amortise_readout=True, period_weight=0)
    v7 = tiny_night(tmp_path / "7", "bo", 0, amortise_readout=False, period_weight=0)
    assert {r.policy_version for r in amortised} == {"7+amortise"}
    assert {r.policy_version for r in v7} == {"7"}
    for record in amortised:
        assert "32 x (slew+settle+filter change+readout)+exposure" in (
            record.proposal["explanation"]["exposure"])
    assert all("exposure" not in r.proposal["explanation"] for r in v7)
    from steer.report_explorer import explorer_data
    from steer.session import presenter_for

    presenter = presenter_for("steer/TargetSelection-v0")
    assert "the one that best amortises the visit's dead time, readout included" in (
        explorer_data(amortised[:1], presenter)[0]["reason"])
    assert "amortises" not in explorer_data(v7[:1], presenter)[0]["reason"]
    exp_a = [r.measurement["exptime_s"] for r in amortised if r.measurement]
    exp7 = [r.measurement["exptime_s"] for r in v7 if r.measurement]
    assert np.median(exp_a) >= np.median(exp7)
    assert [r.decision_key for r in amortised] != [r.decision_key for r in v7]


def test_it_names_its_version_and_does_nothing_without_a_weight():
    from steer.policies import make_policy

    assert make_policy("bo", period_weight=0).version == "7+amortise"
    assert make_policy("bo", period_weight=0, lookahead=4).version == "7+amortise+lookahead"
    assert make_policy("bo", lookahead=4).version == "8+lookahead"
    assert make_policy("bo", amortise_readout=False).version == "7+period"
    assert make_policy("bo", amortise_readout=True, overhead_weight=1).version == "6"


def test_a_bad_setting_is_refused_in_one_line():
    from steer.policies import make_policy

    with pytest.raises(ConfigError) as err:
        make_policy("bo", amortise_readout="yes")
    assert "amortise_readout = 'yes' is not true or false" in str(err.value)
    assert "\n" not in str(err.value)
