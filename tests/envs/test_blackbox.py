"""steer/BlackBox-v0: contract checks, seeding, regret accounting, argument errors."""

import json
import warnings

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import steer.envs  # noqa: F401  (registers the ids)
from steer.envs import ENV_IDS
from steer.envs.blackbox import BlackBoxEnv
from steer.errors import ConfigError, UnsafeActionError

torch.set_num_threads(1)

BRANIN_OPTIMA = [(-np.pi, 12.275), (np.pi, 2.275), (9.42478, 2.475)]


def _unit(env, x):
    return (np.asarray(x, float) - env.bounds[0]) / (env.bounds[1] - env.bounds[0])


def _branin(x1, x2):
    """Branin by its textbook formula, independent of BoTorch."""
    b, c, r, s, t = 5.1 / (4 * np.pi**2), 5 / np.pi, 6.0, 10.0, 1 / (8 * np.pi)
    return (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * np.cos(x1) + s


def test_registered():
    assert ENV_IDS["steer/BlackBox-v0"] == "steer.envs.blackbox:BlackBoxEnv"
    env = gymnasium.make("steer/BlackBox-v0", function="hartmann6", budget=3)
    assert env.unwrapped.dim == 6


@pytest.mark.parametrize("kwargs", [{}, {"function": "hartmann6", "noise_std": 0.1},
                                    {"function": "ackley", "dim": 3, "cost_per_eval_s": 2.5},
                                    {"constraint": "disk", "noise_std": 0.5},
                                    {"function": "hartmann6", "constraint": "ball"}])
def test_passes_gymnasium_and_sb3_check_env(kwargs):
    from stable_baselines3.common.env_checker import check_env as sb3_check

    env = gymnasium.make("steer/BlackBox-v0", **kwargs).unwrapped
    check_env(env, skip_render_check=True)
    with warnings.catch_warnings():  # a [0, 1] box is by design (SB3 prefers [-1, 1])
        warnings.filterwarnings("ignore", message="We recommend you to use a symmetric")
        sb3_check(env, warn=True)


def test_same_seed_same_noise_different_seed_different():
    def values(seed):
        env = BlackBoxEnv("branin", noise_std=0.5, budget=5)
        env.reset(seed=seed)
        out = []
        for x in np.linspace(0.1, 0.9, 5):
            _, reward, *_ = env.step(np.array([x, 1 - x]))
            out.append(reward)
        return out

    assert values(3) == values(3)
    assert values(3) != values(4)


def test_regret_is_zero_at_every_known_optimum_and_right_elsewhere():
    env = BlackBoxEnv("branin", budget=5)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([0.0, 0.0]))  # x = (-5, 0)
    f = _branin(-5.0, 0.0)
    assert -reward == pytest.approx(f, rel=1e-12)
    assert info["simple_regret"] == pytest.approx(f - _branin(np.pi, 2.275), rel=1e-9)
    for x in BRANIN_OPTIMA:
        _, _, _, _, info = env.step(_unit(env, x))
        assert info["simple_regret"] == pytest.approx(0.0, abs=1e-9)
    assert env.optimal_value == pytest.approx(0.397887, abs=1e-6)


def test_hartmann6_optimum_and_evaluations_in_info():
    env = BlackBoxEnv("hartmann6", budget=2, cost_per_eval_s=3.0)
    _, info0 = env.reset(seed=0)
    assert info0["simple_regret"] == float("inf") and info0["history"]["x_unit"].shape == (0, 6)
    env.step(np.full(6, 0.5))
    obs, _, terminated, truncated, info = env.step(env.optimizers[0])  # bounds are [0, 1]^6
    assert info["simple_regret"] == pytest.approx(0.0, abs=1e-9)
    assert env.optimal_value == pytest.approx(-3.32237, abs=1e-5)
    assert terminated and not truncated
    assert info["evaluations"] == 2 and info["elapsed_s"] == 6.0 and info["cost_s"] == 3.0
    assert info["history"]["x_unit"].shape == (2, 6)
    assert obs[0] == pytest.approx(env.optimal_value, abs=1e-5) and obs[2] == 2
    with pytest.raises(UnsafeActionError, match="budget of 2"):
        env.step(np.full(6, 0.5))


def test_incumbent_regret_uses_the_best_measured_point():
    env = BlackBoxEnv("branin", noise_std=50.0, budget=10)
    env.reset(seed=1)
    for x in np.linspace(0, 1, 10):
        *_, info = env.step(np.array([x, x]))
    best_measured = int(np.argmin(info["history"]["value"]))
    true = env.regret_of(info["history"]["x_unit"])
    assert info["incumbent_regret"] == pytest.approx(true[best_measured])
    assert info["simple_regret"] == pytest.approx(true.min())
    json.dumps({k: v for k, v in info.items() if k not in ("history", "measurement")})
    json.dumps(info["measurement"].to_dict())


@pytest.mark.parametrize("kwargs, match", [
    ({"function": "rosenbrock"}, "rosenbrock"),
    ({"function": "branin", "dim": 3}, "dim = 3"),
    ({"noise_std": -1.0}, "noise_std = -1.0"),
    ({"budget": 0}, "budget = 0"),
    ({"function": "ackley", "dim": 0}, "dim = 0"),
    ({"function": "branin", "constraint": "ball"}, "constraint = 'ball'"),
    ({"function": "ackley", "constraint": "disk"}, "constraint = 'disk'"),
])
def test_bad_arguments_name_the_value(kwargs, match):
    with pytest.raises(ConfigError, match=match) as err:
        BlackBoxEnv(**kwargs)
    assert err.value.hint


@pytest.mark.parametrize("action", [[1.5, 0.5], [0.5], [np.nan, 0.5]])
def test_bad_actions_are_refused_before_evaluating(action):
    env = BlackBoxEnv("branin")
    env.reset(seed=0)
    with pytest.raises(UnsafeActionError):
        env.step(np.array(action))
    assert env._info()["evaluations"] == 0


def test_disk_constraint_is_gelbarts_and_regret_counts_feasible_points_only():
    env = BlackBoxEnv("branin", constraint="disk", budget=4)
    _, info = env.reset(seed=0)
    assert info["n_feasible"] == 0 and info["simple_regret"] == float("inf")
    # (-pi, 12.275) is a global minimiser of Branin but outside the disk
    _, reward, _, _, info = env.step(_unit(env, BRANIN_OPTIMA[0]))
    c = (-np.pi - 2.5) ** 2 + (12.275 - 7.5) ** 2 - 50.0
    assert info["constraint_value"] == pytest.approx(c) and c > 0 and not info["feasible"]
    assert -reward == pytest.approx(_branin(-np.pi, 12.275), rel=1e-9)  # reward stays -f
    assert info["simple_regret"] == float("inf") and info["incumbent_regret"] == float("inf")
    assert info["measurement"].constraint_value == pytest.approx(c)
    _, _, _, _, info = env.step(_unit(env, (2.5, 7.5)))  # the centre: feasible, f = 24.1
    assert info["feasible"] and info["constraint_value"] == pytest.approx(-50.0)
    assert info["simple_regret"] == pytest.approx(_branin(2.5, 7.5) - _branin(np.pi, 2.275))
    _, _, _, _, info = env.step(_unit(env, BRANIN_OPTIMA[1]))  # (pi, 2.275): inside
    assert info["feasible"] and info["simple_regret"] == pytest.approx(0.0, abs=1e-9)
    assert info["n_feasible"] == 2
    assert info["history"]["constraint_value"].shape == (3,)
    json.dumps(info["measurement"].to_dict())


def test_ball_constraint_keeps_hartmann6_optimum_and_no_constraint_reports_none():
    env = BlackBoxEnv("hartmann6", constraint="ball")
    assert env.optimal_value == pytest.approx(-3.32237, abs=1e-5)
    env.reset(seed=0)
    *_, info = env.step(np.full(6, 0.5))
    assert info["constraint_value"] == pytest.approx(np.sqrt(6 * 0.25) - 1.0)
    plain = BlackBoxEnv("branin")
    plain.reset(seed=0)
    *_, info = plain.step(np.array([0.5, 0.5]))
    assert "constraint_value" not in info and info["measurement"].constraint_value is None
