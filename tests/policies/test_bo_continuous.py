"""bo-continuous, sobol and vcurve on the continuous envs: quality, batches, determinism."""

import json

import gymnasium
import numpy as np
import pytest
import torch

import steer.envs  # noqa: F401  (registers the ids)
from steer.envs.hooks import PointAction
from steer.errors import ConfigError
from steer.loop import start_policy
from steer.policies import make_policy

torch.set_num_threads(1)


def _run(policy_name, seed, budget, function="branin", **params):
    env = gymnasium.make("steer/BlackBox-v0", function=function, budget=budget).unwrapped
    policy = make_policy(policy_name, **params)
    obs, info = env.reset(seed=seed)
    start_policy(policy, env, seed)
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
    start_policy(policy, env, 1)
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
        start_policy(policy, env, 0)


def test_bad_parameters_name_the_value():
    with pytest.raises(ConfigError, match="acquisition = 'thompson'"):
        make_policy("bo-continuous", acquisition="thompson")
    with pytest.raises(ConfigError, match="n_points = 2"):
        make_policy("vcurve", n_points=2)


def test_vcurve_reaches_focus_after_one_sweep():
    env = gymnasium.make("steer/Autofocus-v0", max_exposures=12).unwrapped
    policy = make_policy("vcurve")
    obs, info = env.reset(seed=0)
    start_policy(policy, env, 0)
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


# ------------------------------------------------------------ acquisitions
_CHEAP = {"num_restarts": 2, "raw_samples": 64, "acqf_maxiter": 30}


def _drive(policy, env, obs, info, n):
    props = policy.suggest(obs, info, n)
    for p in props:
        obs, reward, _, _, info = env.step(p.action.as_array())
        policy.ingest(p.action, info, reward)
    return props, obs, info


def _episode(seed, steps, constraint=None, **params):
    env = gymnasium.make("steer/BlackBox-v0", function="branin", budget=20,
                         constraint=constraint).unwrapped
    policy = make_policy("bo-continuous", **params)
    obs, info = env.reset(seed=seed)
    start_policy(policy, env, seed)
    props = []
    for _ in range(steps):
        p, obs, info = _drive(policy, env, obs, info, 1)
        props += p
    return env, policy, obs, info, props


@pytest.mark.parametrize("acquisition, single, batch, parameter", [
    ("ucb", "UpperConfidenceBound", "qUpperConfidenceBound", "beta"),
    ("mes", "qMaxValueEntropy", "qMaxValueEntropy", "candidate_set_size"),
    ("nipv", "qNegIntegratedPosteriorVariance", "qNegIntegratedPosteriorVariance", "mc_points"),
])
def test_each_acquisition_names_itself_and_its_value_and_takes_batches(acquisition, single,
                                                                       batch, parameter):
    # noise-free and told so: GIBBON may repeat a point when it believes the noise is large
    env, policy, obs, info, props = _episode(0, 6, acquisition=acquisition, mc_points=64,
                                             candidate_set_size=256, noise_std=0.0, **_CHEAP)
    e = props[-1].explanation
    assert e["phase"] == "bo" and e["acquisition"] == single
    assert e["acquisition_option"] == acquisition and not e["acquisition_is_log"]
    assert np.isfinite(e["acquisition_value"]) and e["acquisition_value"] == props[-1].score
    assert e[parameter] == getattr(policy.settings, parameter)
    pair, obs, info = _drive(policy, env, obs, info, 2)
    assert pair[0].explanation["acquisition"] == batch
    x0, x1 = (p.action.as_array() for p in pair)
    assert np.max(np.abs(x0 - x1)) > 1e-3
    json.dumps([p.to_dict() for p in props + pair])


@pytest.mark.parametrize("acquisition", ["ucb", "mes", "nipv"])
def test_each_acquisition_same_seed_same_decisions(acquisition):
    runs = [_episode(3, 7, acquisition=acquisition, mc_points=64, candidate_set_size=256,
                     **_CHEAP)[-1] for _ in range(2)]
    assert [p.action for p in runs[0]] == [p.action for p in runs[1]]
    assert [p.score for p in runs[0]] == [p.score for p in runs[1]]


def test_ucb_beta_trades_exploitation_for_exploration():
    *_, low = _episode(1, 6, acquisition="ucb", beta=0.01, **_CHEAP)
    *_, high = _episode(1, 6, acquisition="ucb", beta=100.0, **_CHEAP)
    lo, hi = low[-1].explanation, high[-1].explanation
    assert lo["beta"] == 0.01 and hi["beta"] == 100.0
    assert hi["posterior_std"] > lo["posterior_std"]  # a large beta goes where it knows least


@pytest.mark.parametrize("params, match", [
    ({"acquisition": "ei"}, "acquisition = 'ei'"),
    ({"acquisition": "ucb", "beta": 0.0}, "beta = 0.0"),
    ({"acquisition": "ucb", "beta": "big"}, "beta = 'big'"),
    ({"acquisition": "mes", "candidate_set_size": 0}, "candidate_set_size = 0"),
    ({"acquisition": "nipv", "mc_points": -5}, "mc_points = -5"),
    ({"noise_std": -0.1}, "noise_std = -0.1"),
    ({"noise_std": float("nan")}, "noise_std = nan"),
])
def test_bad_acquisition_settings_name_the_value(params, match):
    with pytest.raises(ConfigError, match=match) as err:
        make_policy("bo-continuous", **params)
    assert err.value.hint


def test_known_noise_is_used_and_explained():
    *_, props = _episode(0, 7, noise_std=0.0)
    e = props[-1].explanation
    assert e["noise"] == "known" and e["noise_std"] < 1e-2 * e["outcome_std"]
    *_, props = _episode(0, 7)
    assert props[-1].explanation["noise"] == "inferred"


# ------------------------------------------------------ outcome constraints
def test_constraint_is_modelled_by_a_second_gp_and_weighs_the_acquisition():
    env, policy, obs, info, props = _episode(0, 8, constraint="disk")
    model = policy.constraint_model  # fitted for the 8th decision, on the first 7 points
    assert model is not None and model.train_inputs[0].shape[0] == len(policy.C) - 1 == 7
    with torch.no_grad():  # it interpolates the measured constraint values
        mean = model.posterior(model.train_inputs[0]).mean.reshape(-1).numpy()
    c = np.asarray(policy.C)
    assert np.allclose(c, env.c_true(info["history"]["x"]))
    c = c[:7]
    assert np.max(np.abs(mean - c)) < 0.1 * np.ptp(c)
    e = props[-1].explanation
    assert e["acquisition"] == "LogConstrainedExpectedImprovement"
    assert 0.0 <= e["probability_feasible"] <= 1.0 and "constraint_mean" in e
    assert e["constraint_model"]["lengthscales_unit"] and e["n_feasible_observed"] >= 1
    pair, *_ = _drive(policy, env, obs, info, 2)
    assert pair[0].explanation["acquisition"] == "qLogNoisyExpectedImprovement (constrained)"
    unconstrained = _episode(0, 8)[1]
    assert unconstrained.constraint_model is None and np.isnan(unconstrained.C).all()


def test_ucb_refuses_an_outcome_constraint():
    with pytest.raises(ConfigError, match="acquisition = 'ucb' does not handle"):
        _episode(0, 6, constraint="disk", acquisition="ucb", **_CHEAP)


def test_constraint_is_read_from_a_measurement_record_too():
    from steer.envs.blackbox import Evaluation
    from steer.policies.box import constraint_of

    assert constraint_of(Evaluation(1.0, -2.0, 1.0)) == -2.0
    assert constraint_of({"value": 1.0, "measurement": Evaluation(1.0, 3.0, 1.0)}) == 3.0
    assert np.isnan(constraint_of({"value": 1.0})) and np.isnan(constraint_of(object()))


@pytest.mark.slow
def test_constrained_bo_beats_sobol_on_constrained_branin():
    # seeds 0-7 checked: bo-continuous wins on 7 (loses seed 2, stuck at the disk's edge)
    wins = 0
    for seed in range(5):
        regrets = {}
        for name in ("bo-continuous", "sobol"):
            env = gymnasium.make("steer/BlackBox-v0", function="branin", budget=15,
                                 constraint="disk").unwrapped
            policy = make_policy(name)
            obs, info = env.reset(seed=seed)
            start_policy(policy, env, seed)
            done = False
            while not done:
                prop = policy.suggest(obs, info, 1)[0]
                obs, reward, done, _, info = env.step(prop.action.as_array())
                policy.ingest(prop.action, info, reward)
            regrets[name] = info["simple_regret"]  # best *feasible* value - constrained optimum
        assert np.isfinite(regrets["bo-continuous"])  # found a feasible point
        wins += regrets["bo-continuous"] < regrets["sobol"]
    assert wins >= 3


# ------------------------------------------------------------ active learning
def _gp_rmse(env, x_unit, grid):
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    y = env.f_true(env.bounds[0] + x_unit * (env.bounds[1] - env.bounds[0]))
    model = SingleTaskGP(torch.tensor(x_unit), torch.tensor(y).unsqueeze(-1),
                         outcome_transform=Standardize(m=1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    with torch.no_grad():
        mean = model.posterior(torch.tensor(grid)).mean.reshape(-1).numpy()
    truth = env.f_true(env.bounds[0] + grid * (env.bounds[1] - env.bounds[0]))
    return float(np.sqrt(np.mean((mean - truth) ** 2)))


@pytest.mark.slow
def test_nipv_learns_branin_better_than_uniformly_random_points():
    # checked on seeds 0-17 in groups of three: every group holds (15 of 18 seeds singly)
    n = 12
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 41), np.linspace(0, 1, 41)), -1).reshape(-1, 2)
    nipv, uniform = [], []
    for seed in range(3):
        env, policy, *_ = _episode(seed, n, acquisition="nipv", mc_points=128, **_CHEAP)
        assert len(policy.X) == n
        nipv.append(_gp_rmse(env, np.asarray(policy.X), grid))
        uniform.append(_gp_rmse(env, np.random.default_rng(seed).random((n, 2)), grid))
    assert np.mean(nipv) < np.mean(uniform)


def test_warped_model_reports_in_reward_units():
    env, policy, obs, info, props = _episode(0, 8, noise_std=0.0, warping="yeo-johnson")
    e = props[-1].explanation
    assert e["warping"]["method"] == "yeo-johnson" and 0.0 <= e["warping"]["lambda"] <= 2.0
    assert policy.warp is not None
    # at an observed point the posterior (mapped back) is the observed reward
    x = torch.tensor(np.asarray(policy.X[:7]))
    row = policy._posterior_at(x)
    assert np.allclose([r["posterior_mean"] for r in row], policy.Y[:7], rtol=1e-3, atol=1e-2)
    assert all(r["posterior_std"] >= 0 for r in row)
    assert _episode(0, 8)[1].warp is None  # off by default


def test_sample_around_best_starts_the_optimiser_next_to_the_incumbent(monkeypatch):
    import botorch.optim.initializers as initializers

    drawn = []
    real = initializers.sample_points_around_best

    def spy(**kwargs):
        out = real(**kwargs)
        drawn.append(out)
        return out

    monkeypatch.setattr(initializers, "sample_points_around_best", spy)
    _, props, _ = _run("bo-continuous", 0, 7)
    assert drawn == [] and not props[-1].explanation["acqf_optimizer"]["sample_around_best"]
    _, props, policy = _run("bo-continuous", 0, 7, sample_around_best=True, raw_samples=64)
    assert props[-1].explanation["acqf_optimizer"] == {
        "num_restarts": 8, "raw_samples": 64, "maxiter": 100, "sample_around_best": True}
    assert len(drawn) == 2 and all(d is not None and d.shape == (64, 2) for d in drawn)
    # each extra raw sample perturbs one of the best observed points (BoTorch: sigma 0.1 at most)
    train = torch.tensor(np.asarray(policy.X[:6]))
    assert torch.cdist(drawn[-1], train).min(dim=1).values.max() < 0.5


def test_matern_kernel_by_default_rbf_on_request_and_a_bad_kernel_is_named():
    from gpytorch.kernels import MaternKernel, RBFKernel

    _, props, policy = _run("bo-continuous", 0, 7)
    assert isinstance(policy.model.covar_module, MaternKernel)
    assert policy.model.covar_module.nu == 2.5 and props[-1].explanation["kernel"] == "matern52"
    _, props, rbf = _run("bo-continuous", 0, 7, kernel="rbf")
    assert isinstance(rbf.model.covar_module, RBFKernel)
    assert props[-1].explanation["kernel"] == "rbf"
    with pytest.raises(ConfigError, match="kernel = 'matern32' is not known"):
        make_policy("bo-continuous", kernel="matern32")

