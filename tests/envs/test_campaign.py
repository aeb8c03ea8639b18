"""Multi-night campaigns of the target-selection environment: one sky, many nights."""

from __future__ import annotations

import numpy as np
import pytest

from steer.campaign import play_campaign
from steer.envs.testing import tiny_config
from steer.errors import ConfigError
from steer.records import read_journal
from steer.session import make_env


def _play(tmp_path, policy: str = "feature", nights: int = 3, seed: int = 1):
    return play_campaign(tiny_config(), policy, seed, nights, tmp_path)


def test_nights_share_one_sky_and_carry_the_history(tmp_path):
    env = make_env(tiny_config())
    base = env.unwrapped
    seen = []
    for k in range(3):
        env.reset(seed=1, options={"night": k, "nights": 3})
        o = base.observatory
        seen.append((o.night_date, o.weather, o.truth, len(base.history["mjd"])))
        for _ in range(8):  # a few visits, so the next night has more history
            mask = base.feasible_mask()
            if not mask.any():
                break
            _, _, term, trunc, _ = env.step(np.array([int(np.flatnonzero(mask)[0]), 0]))
            if term or trunc:
                break
        n_visits = len(base.log["mjd"])
        if k < 2:
            seen[-1] += (n_visits,)
    dates = [s[0] for s in seen]
    assert dates == ["2026-03-20", "2026-03-21", "2026-03-22"]
    t0, t1 = seen[0][2], seen[1][2]
    for name in ("kind", "period_d", "phase", "t0_mjd", "ref_mag"):  # one truth
        np.testing.assert_array_equal(getattr(t0, name), getattr(t1, name))
    assert t0.night_mid_mjd != t1.night_mid_mjd  # summarised per night
    # the next night's history is this night's plus its measured visits
    assert seen[1][3] > seen[0][3] and seen[2][3] > seen[1][3]
    assert seen[1][3] <= seen[0][3] + seen[0][4]
    # each night has its own weather
    w0, w1 = seen[0][1], seen[1][1]
    assert w1.night_start_mjd - w0.night_start_mjd == pytest.approx(1.0, abs=0.01)
    assert not np.allclose(w0.grid_zenith_seeing_arcsec[:30], w1.grid_zenith_seeing_arcsec[:30])
    env.close()


def test_nights_must_be_played_in_order():
    env = make_env(tiny_config())
    with pytest.raises(ConfigError, match="needs nights 0..1 first"):
        env.reset(seed=1, options={"night": 2, "nights": 3})
    env.reset(seed=1, options={"night": 0, "nights": 3})
    with pytest.raises(ConfigError, match="cannot follow"):
        env.reset(seed=2, options={"night": 1, "nights": 3})
    with pytest.raises(ConfigError, match="does not exist"):
        env.reset(seed=1, options={"night": 3, "nights": 3})
    with pytest.raises(ConfigError, match="unknown reset option"):
        env.reset(seed=1, options={"nigth": 1})
    env.close()


def test_a_campaign_is_reproducible_and_scored_as_a_whole(tmp_path):
    a = _play(tmp_path / "a")
    b = _play(tmp_path / "b")
    assert len(a.nights) == 3 and not a.stopped

    def decisions(result):
        return [[(r.decision_key, r.sim_mjd, r.reward) for r in read_journal(n.journal_path)]
                for n in result.nights]

    assert decisions(a) == decisions(b)
    m = a.metrics
    assert m["campaign_nights"] == 3
    visits = sum(n.episode.metrics["visits"] for n in a.nights)
    assert m["visits"] == visits > 0
    assert m["science_score"] == pytest.approx(
        sum(n.episode.metrics["science_score"] for n in a.nights))
    assert 0.0 <= m["frac_characterised"] <= 1.0
    assert 0.0 <= m["period_recovery_rate"] <= 1.0
    assert m["new_transients_characterised"] <= m["new_transients"]
    # the campaign counts what its data characterised beyond the archive, once per target
    assert m["characterised_campaign"] >= max(n.episode.metrics["characterised_tonight"]
                                              for n in a.nights)


def test_the_policy_starts_each_night_from_every_earlier_visit(tmp_path):
    """The policy is reset each night with a context whose history holds the archive and
    every measured visit of the earlier nights: what it learned comes with it."""
    from steer.callbacks import LoopCallback

    seen: list[int] = []

    class Context(LoopCallback):
        def on_episode_start(self, env, policy, seed, run_id):
            seen.append(len(policy.context.history["mjd"]))

    res = play_campaign(tiny_config(), "bo", 1, 2, tmp_path, callbacks=[Context()])
    measured = sum(1 for r in read_journal(res.nights[0].journal_path)
                   if r.measurement and r.measurement.get("value_mag") is not None)
    assert measured > 5
    assert seen[1] == seen[0] + measured


def test_campaign_settings_are_checked():
    from steer.campaign import check_nights
    from steer.config import parse_experiment

    with pytest.raises(ConfigError, match="unknown \\[campaign\\] setting 'night'"):
        tiny_config("\n[campaign]\nnight = 3\n")
    with pytest.raises(ConfigError, match="campaign.nights = 0 is below 1"):
        tiny_config("\n[campaign]\nnights = 0\n")
    assert check_nights(tiny_config("\n[campaign]\nnights = 4\n"), None) == 4
    assert check_nights(tiny_config("\n[campaign]\nnights = 4\n"), 2) == 2
    with pytest.raises(ConfigError, match="--nights 0"):
        check_nights(tiny_config(), 0)
    focus = parse_experiment('[experiment]\nname = "b"\nenv = "steer/Autofocus-v0"\n', "<b>")
    with pytest.raises(ConfigError, match="plays single episodes"):
        check_nights(focus, 3)
