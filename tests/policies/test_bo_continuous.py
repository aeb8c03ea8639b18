"""bo-continuous, sobol and vcurve on the continuous envs: quality, batches, determinism."""

import json

import gymnasium
import numpy as np
import pytest
import torch

import steer.envs  # noqa: F401  (registers the ids)
from steer.errors import ConfigError
from steer.policies import make_policy
from steer.policies.bo_continuous import PointAction

torch.set_num_threads(1)


def _run(policy_name, seed, budget, function="branin", **params):
    env = gymnasium.make("steer/BlackBox-v0", function=function, budget=budget).unwrapped
    policy = make_policy(policy_name, **params)
    obs, info = env.reset(seed=seed)
    policy.reset(env, seed)
    done, proposals = False, []
    while not done:
        prop = policy.suggest(obs, info, 1)[0]
        obs, reward, done, _, info = env.step(prop.action.as_array())
        policy.ingest(prop.action, info, reward)
        proposals.append(prop)
    return info["simple_regret"], proposals, policy


def test_bo_beats_sobol_on_branin_with_12_evaluations():
    wins = 0
    for seed in range(3):
        bo, props, _ = _run("bo-continuous", seed, 12)
        sobol, sobol_props, _ = _run("sobol", seed, 12)
        # same seed, same initial design: the comparison is paired
        assert [p.action for p in props[:5]] == [p.action for p in sobol_props[:5]]
        wins += bo < sobol
    assert wins >= 2


def test_explanation_has_model_and_timings_and_is_json():
    _, props, _ = _run("bo-continuous", 0, 7)
    assert props[0].explanation["phase"] == "initial-design"
    e = props[-1].explanation
    assert e["phase"] == "bo" and e["acquisition"] == "LogExpectedImprovement"
    for key in ("acquisition_value", "posterior_mean", "posterior_std", "fit_s", "acqf_opt_s",
                "suggest_s", "noise_std", "runners_up"):
        assert np.isfinite(e[key]) if key != "runners_up" else e[key], key
    assert len(e["lengthscales_unit"]) == 2 and e["posterior_std"] > 0
    assert e["warm_started"] and e["n_observations"] == 6
    json.dumps([p.to_dict() for p in props])


def test_same_seed_same_decisions():
    _, a, _ = _run("bo-continuous", 4, 8)
    _, b, _ = _run("bo-continuous", 4, 8)
    assert [p.action for p in a] == [p.action for p in b]
    assert [p.score for p in a] == [p.score for p in b]


def test_batch_of_two_distinct_points_and_pending_points():
    env = gymnasium.make("steer/BlackBox-v0", function="branin", budget=20).unwrapped
    policy = make_policy("bo-continuous")
    obs, info = env.reset(seed=1)
    policy.reset(env, 1)
    for _ in range(6):
        prop = policy.suggest(obs, info, 1)[0]
        obs, reward, _, _, info = env.step(prop.action.as_array())
        policy.ingest(prop.action, info, reward)
    pair = policy.suggest(obs, info, 2)
    assert len(pair) == 2 and pair[0].explanation["acquisition"] == "qLogNoisyExpectedImprovement"
    x0, x1 = (p.action.as_array() for p in pair)
    assert np.max(np.abs(x0 - x1)) > 1e-3
    assert len(policy.pending) == 2
    # a third point while both are in flight is conditioned on them
    third = policy.suggest(obs, info, 1)[0]
    assert third.explanation["n_pending"] == 2
    assert min(np.max(np.abs(third.action.as_array() - x)) for x in (x0, x1)) > 1e-3
    for p in pair:
        obs, reward, _, _, info = env.step(p.action.as_array())
        policy.ingest(p.action, info, reward)
    policy.ingest(third.action, None, 0.0)  # refused: forgotten, nothing learned
    assert policy.pending == [] and len(policy.Y) == 8


def test_continuous_policies_refuse_a_discrete_env():
    env = gymnasium.make("CartPole-v1")  # Discrete actions
    policy = make_policy("bo-continuous")
    with pytest.raises(ConfigError, match="Box action space"):
        policy.reset(env, 0)


def test_bad_parameters_name_the_value():
    with pytest.raises(ConfigError, match="acquisition = 'ucb'"):
        make_policy("bo-continuous", acquisition="ucb")
    with pytest.raises(ConfigError, match="n_points = 2"):
        make_policy("vcurve", n_points=2)


def test_vcurve_reaches_focus_after_one_sweep():
    env = gymnasium.make("steer/Autofocus-v0", max_exposures=12).unwrapped
    policy = make_policy("vcurve")
    obs, info = env.reset(seed=0)
    policy.reset(env, 0)
    phases, in_focus = [], []
    for _ in range(12):
        prop = policy.suggest(obs, info, 1)[0]
        assert isinstance(prop.action, PointAction)
        obs, reward, _, _, info = env.step(prop.action.as_array())
        policy.ingest(prop.action, info, reward)
        phases.append(prop.explanation["phase"])
        in_focus.append(info["truth_in_focus"])
    assert phases[:7] == ["sweep 1/1"] * 7 and phases[7:] == ["vertex"] * 5
    assert all(in_focus[7:])
    vertex = policy.vertex["x_unit"]
    assert env.steps_of(vertex) == pytest.approx(info["truth_best_position_steps"], abs=64)
