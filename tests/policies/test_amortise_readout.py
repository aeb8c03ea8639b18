"""``bo`` version 8: each target's exposure amortises all of its visit's dead time,
readout included (``amortise_readout``)."""

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


def test_a_tiny_night_by_version_8_says_so_and_keeps_the_shutter_open_longer(tmp_path):
    """A real tiny night by the default (version 8) and with ``amortise_readout = false``
    (version 7): version 8 names the exposure rule in every decision, never picks a
    shorter exposure on the whole than version 7, and its decisions differ."""
    from steer.envs.testing import tiny_night

    v8 = tiny_night(tmp_path / "8", "bo", 0)
    v7 = tiny_night(tmp_path / "7", "bo", 0, amortise_readout=False)
    assert {r.policy_version for r in v8} == {"8"} and {r.policy_version for r in v7} == {"7"}
    for record in v8:
        assert "32 x (slew+settle+filter change+readout)+exposure" in (
            record.proposal["explanation"]["exposure"])
    assert all("exposure" not in r.proposal["explanation"] for r in v7)
    exp8 = [r.measurement["exptime_s"] for r in v8 if r.measurement]
    exp7 = [r.measurement["exptime_s"] for r in v7 if r.measurement]
    assert np.median(exp8) >= np.median(exp7)
    assert [r.decision_key for r in v8] != [r.decision_key for r in v7]


def test_a_version_7_run_replays_as_version_7():
    from types import SimpleNamespace

    from steer.envs.testing import tiny_config
    from steer.policies import make_policy
    from steer.runs import as_logged_version

    plain = tiny_config()
    restored, note = as_logged_version(plain, "bo", [SimpleNamespace(policy="bo",
                                                                     policy_version="7")])
    assert restored.policy_params("bo") == {"amortise_readout": False}
    assert "replaying with [policy.bo] amortise_readout = False" in note
    assert make_policy("bo", overhead_weight=1).version == "6"  # nothing to amortise


def test_a_bad_setting_is_refused_in_one_line():
    from steer.policies import make_policy

    with pytest.raises(ConfigError) as err:
        make_policy("bo", amortise_readout="yes")
    assert "amortise_readout = 'yes' is not true or false" in str(err.value)
    assert "\n" not in str(err.value)
