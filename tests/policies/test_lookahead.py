"""The two-step lookahead: where a visit leaves the telescope counts, by the instrument's model."""

from __future__ import annotations

import numpy as np

from steer.instruments.sim.geometry import slew_components_s
from steer.instruments.sim.presets import get_preset
from steer.policies.lookahead import two_step

EXPS = np.array([30.0, 60.0])
READOUT_S = 5.0


def _sky():
    """A: alone at azimuth 250; B and C side by side at azimuth 90; D in another filter by B."""
    alt = np.array([60.0, 60.0, 61.0, 60.5])
    az = np.array([250.0, 90.0, 91.0, 90.5])
    band = np.array(["r", "r", "r", "g"])
    return alt, az, band


def _costs(config, alt, az, band, here_alt=60.0, here_az=170.0, here_band="r"):
    motion, settle = slew_components_s(here_alt, here_az, alt, az, config)
    change = np.where(band != here_band, config.filter_change_s, 0.0)
    return (motion + settle + change)[:, None] + READOUT_S + EXPS[None, :]


def test_a_target_that_leaves_the_telescope_beside_the_next_beats_a_slightly_better_lone_one():
    config = get_preset("small-robotic")
    alt, az, band = _sky()
    cost = _costs(config, alt, az, band)
    value = np.array([[1.0, 1.1], [0.95, 1.0], [0.9, 0.95], [0.0, 0.0]]) * cost[:, :1]
    value[1] *= 0.97  # B's own rate a little below A's
    allowed = np.ones_like(value, bool)
    myopic = value / cost
    assert myopic[0].max() > myopic[1].max()  # one visit at a time: A
    la = two_step(value, cost, allowed, 8, alt, az, band, EXPS, READOUT_S, config)
    assert int(np.argmax(la.scores.max(axis=1))) in (1, 2)  # two at a time: B or C first
    # A's next visit is costed from azimuth 250 (a long slew back to B and C)
    j = int(la.next_index[0])
    expected = (sum(slew_components_s(alt[0], az[0], alt[j], az[j], config))
                + READOUT_S + EXPS[la.next_exposure[0]])
    assert np.isclose(la.next_cost_s[0], expected)
    # B's next is C (beside it, same filter), never B itself, nor D (a filter change away)
    assert la.next_index[1] == 2 and la.next_index[2] == 1
    # a visit worth nothing scores nothing, whatever its neighbour is worth
    assert np.all(la.scores[3][np.isfinite(la.scores[3])] == 0.0)


def test_only_the_candidates_are_scored_and_a_filter_change_costs_the_next_visit():
    config = get_preset("small-robotic")
    alt, az, band = _sky()
    cost = _costs(config, alt, az, band)
    value = np.ones((4, 2)) * cost  # every rate 1
    value[2] = 0.0  # C worth nothing: B's best next is D, a filter change away
    la = two_step(value, cost, np.ones_like(value, bool), 2, alt, az, band, EXPS, READOUT_S,
                  config)
    assert np.isfinite(la.scores.max(axis=1)).sum() == 2  # two candidates, the rest -inf
    d = 3  # half a degree from B and a filter change (30 s) beats A's 84 s slew
    assert la.next_index[1] == d
    to_d = sum(slew_components_s(alt[1], az[1], alt[d], az[d], config)) + config.filter_change_s
    assert np.isclose(la.next_cost_s[1], to_d + READOUT_S + EXPS[la.next_exposure[1]])
    # nothing allowed: nothing scored
    none = two_step(value, cost, np.zeros_like(value, bool), 8, alt, az, band, EXPS, READOUT_S,
                    config)
    assert not np.isfinite(none.scores).any() and (none.next_index == -1).all()


def test_bo_with_lookahead_explains_the_visit_it_expects_to_follow(tmp_path):
    """bo with ``lookahead = 8`` (an option) says, for each choice, which visit it costed next
    and from where, and the decision explorer's reason says it in words."""
    import dataclasses

    from steer.envs.testing import tiny_config
    from steer.report_explorer import explorer_data
    from steer.session import play, presenter_for, set_threads

    set_threads(1)
    config = tiny_config()
    config = dataclasses.replace(config, policy_kwargs={
        **config.policy_kwargs, "bo": {**config.policy_params("bo"), "lookahead": 8}})
    records = play(config, "bo", 0, tmp_path).episode.records
    rows = explorer_data(records, presenter_for(config.env_id))
    ok = [(r, d) for r, d in zip(records, rows, strict=True) if r.status == "ok"]
    assert len(ok) >= 3
    for record, row in ok:
        expl = record.proposal["explanation"]
        ahead = expl["lookahead"]
        assert record.policy_version == "8+lookahead" and "best next one" in expl["acquisition"]
        assert ahead["next_target_id"] != record.proposal["action"]["target_id"]
        assert ahead["next_cost_s"] > ahead["next_exptime_s"] and ahead["myopic_score"] > 0
        assert f"leaves the telescope ready for ({ahead['next_target_id']}, " in row["reason"]


def test_bo_ranks_its_candidates_by_two_steps_then_the_rest_by_one():
    """Asked for more proposals than it looks ahead for (``steer suggest --n 20``): the
    candidates come first by their two-step score, then the others by one visit's rate,
    each target once per exposure, ranks 0, 1, 2..."""
    from steer.envs.testing import tiny_config
    from steer.loop import start_policy
    from steer.policies import make_policy
    from steer.session import make_env, set_threads

    set_threads(1)
    config = tiny_config()
    env = make_env(config)
    obs, info = env.reset(seed=0)
    policy = make_policy("bo", **config.policy_params("bo"), lookahead=4)
    start_policy(policy, env, 0)
    out = policy.suggest(obs, info, n=20)
    assert [p.explanation["rank"] for p in out] == list(range(len(out))) and len(out) > 4
    assert all("lookahead" in p.explanation for p in out[:4])
    assert not any("lookahead" in p.explanation for p in out[4:])
    pairs = [(p.action.target_index, p.action.exptime_s) for p in out]
    assert len(set(pairs)) == len(pairs)
    assert len({p.action.target_index for p in out[:4]}) == 4
    rest = [p.score for p in out[4:]]
    assert rest == sorted(rest, reverse=True)
    assert max(rest) <= min(p.explanation["lookahead"]["myopic_score"] for p in out[:4])
    env.close()
