"""steer/CandidatePool-v0 and the bo-pool policy (the catalog-scale engine in a real loop)."""

import warnings

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import steer.envs  # noqa: F401  (registers the ids)
from steer.envs.pool import CandidatePoolEnv
from steer.errors import ConfigError, UnsafeActionError
from steer.loop import run_episode, start_policy
from steer.policies import make_policy
from steer.policies.engine import CachedExactGP, NystromGP
from steer.testing import ListSink

torch.set_num_threads(1)



def test_pool_env_passes_gymnasium_and_sb3_check_env():
    from stable_baselines3.common.env_checker import check_env as sb3_check

    env = gymnasium.make("steer/CandidatePool-v0", function="branin", pool_size=500,
                         budget=5).unwrapped
    check_env(env, skip_render_check=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sb3_check(env, warn=True)


def test_pool_env_values_costs_mask_and_regret():
    env = CandidatePoolEnv("branin", pool_size=2000, budget=3, cost_spread=1.0,
                           infeasible_fraction=0.25)
    _, info = env.reset(seed=0)
    assert 0.15 < 1 - info["action_mask"].mean() < 0.35
    assert np.all(info["candidate_cost_s"] >= 0.5) and np.all(info["candidate_cost_s"] <= 1.5)
    i = int(np.flatnonzero(info["action_mask"])[0])
    x = -5 + 15 * env.pool_unit[i, 0], 15 * env.pool_unit[i, 1]
    b, c, t = 5.1 / (4 * np.pi**2), 5 / np.pi, 1 / (8 * np.pi)
    branin = (x[1] - b * x[0] ** 2 + c * x[0] - 6) ** 2 + 10 * (1 - t) * np.cos(x[0]) + 10
    _, reward, done, _, info = env.step(i)
    assert reward == pytest.approx(-branin) and not done
    assert info["simple_regret"] == pytest.approx(branin - env.optimal_value)
    assert info["elapsed_s"] == pytest.approx(env.candidate_cost_s[i])
    bad = int(np.flatnonzero(~info["action_mask"])[0])
    with pytest.raises(UnsafeActionError, match=f"candidate {bad} is not feasible"):
        env.check_action(bad)
    with pytest.raises(UnsafeActionError, match="outside the pool"):
        env.check_action(2000)


@pytest.mark.parametrize("kwargs,match", [({"pool_size": 1}, "pool_size = 1"),
                                          ({"function": "rosen"}, "rosen"),
                                          ({"cost_spread": 3.0}, "cost_spread = 3.0")])
def test_pool_env_bad_settings_are_named(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        CandidatePoolEnv(**kwargs)


def _run(policy, seed, **env_kwargs):
    env = CandidatePoolEnv(**{"function": "hartmann6", "pool_size": 5000, "budget": 40,
                              **env_kwargs})
    sink = ListSink()
    res = run_episode(env, policy, seed, [sink], "t")
    return res, sink.records, env


def test_bo_pool_beats_random_and_is_deterministic():
    regrets, rand = [], []
    for seed in (0, 1, 2):
        res, records, env = _run(make_policy("bo-pool"), seed)
        regrets.append(res.metrics["simple_regret"])
        rng = np.random.default_rng(seed)
        idx = rng.choice(5000, 40, replace=False)
        rand.append(float(env.f_pool[idx].min() - env.optimal_value))
        if seed == 0:
            _, again, _ = _run(make_policy("bo-pool"), seed)
            assert [r.decision_key for r in records] == [r.decision_key for r in again]
            bo = [r for r in records if r.proposal["explanation"]["phase"] == "bo"]
            why = bo[-1].proposal["explanation"]
            assert why["model"] == "CachedExactGP" and why["n_candidates"] == 5000
            assert why["runners_up"] and why["acquisition"].startswith("LogExpectedImprovement")
    assert np.median(regrets) < np.median(rand)
    assert np.mean(regrets) < 0.5 * np.mean(rand)


def test_bo_pool_respects_the_mask_and_uses_costs():
    res, records, env = _run(make_policy("bo-pool"), 0, infeasible_fraction=0.5,
                             cost_spread=1.5, budget=20)
    chosen = [r.proposal["action"]["index"] for r in records if r.status == "ok"]
    assert len(chosen) == 20 and all(env.feasible[i] for i in chosen)
    bo = [r for r in records if r.proposal["explanation"]["phase"] == "bo"]
    assert bo[0].proposal["explanation"]["acquisition"] == "LogExpectedImprovement per second"


def test_bo_pool_switches_to_nystrom_and_follows_the_exact_posterior():
    """Past exact_max_obs the approximate GP takes over; its incremental posterior
    stays close to the exact one on the same data."""
    pol = make_policy("bo-pool", exact_max_obs=15, refit_every=5, inducing=256)
    _, records, _ = _run(pol, 3, budget=30, function="branin", pool_size=3000)
    assert isinstance(pol.source, NystromGP)
    models = [r.proposal["explanation"].get("model") for r in records]
    assert "CachedExactGP" in models and "NystromGP" in models
    exact = CachedExactGP(pol.pool, pol.hyper)
    exact.x = pol.pool[np.asarray(pol.idx)]
    exact.y = torch.tensor(pol._standardized(np.asarray(pol.y)))
    exact.rebuild()
    m_a, v_a = pol.source.mean_var()
    m_e, v_e = exact.mean_var()
    assert float(torch.corrcoef(torch.stack([m_a, m_e]))[0, 1]) > 0.95
    assert float((v_a - v_e).abs().max()) < 0.2


def test_bo_pool_needs_a_pool_and_names_bad_settings():
    with pytest.raises(ConfigError, match="'ei'"):
        make_policy("bo-pool", acquisition="ei")
    with pytest.raises(ConfigError, match="refit_every = 0"):
        make_policy("bo-pool", refit_every=0)
    env = gymnasium.make("steer/BlackBox-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ConfigError, match="candidate pool"):
        start_policy(make_policy("bo-pool"), env, 0)


POOL_TOML = """
[experiment]
name = "pool-tiny"
env = "steer/CandidatePool-v0"
policy = "bo-pool"

[env]
function = "branin"
pool_size = 20000
noise_std = 0.05
budget = 15
cost_spread = 1.0
infeasible_fraction = 0.2
"""


@pytest.mark.slow
def test_cli_run_on_a_pool_logs_and_replays(tmp_path):
    """`steer run` and `steer replay` on the pool env, with a real sqlite MLflow store."""
    import os
    import subprocess
    import sys

    from mlflow.tracking import MlflowClient

    path = tmp_path / "pool.toml"
    path.write_text(POOL_TOML)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)

    def steer(*args):
        return subprocess.run([sys.executable, "-m", "steer.cli", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)

    out = steer("run", str(path), "--seed", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "simple regret" in out.stdout
    run_id = out.stdout.split("MLflow run id: ")[1].split()[0]
    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    run = client.get_run(run_id)
    assert run.data.params["policy"] == "bo-pool"
    assert len(client.get_metric_history(run_id, "reward")) == 15
    rep = steer("replay", run_id)
    assert rep.returncode == 0, rep.stdout + rep.stderr
    assert "identical" in rep.stdout
    bad = steer("run", str(path), "--policy", "sobol")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "'sobol' drives point environments" in bad.stderr and "bo-pool" in bad.stderr


def test_bo_pool_never_proposes_a_measured_candidate_unless_allowed():
    _, records, _ = _run(make_policy("bo-pool"), 1, budget=30, noise_std=0.5,
                         function="branin", pool_size=400)
    chosen = [r.proposal["action"]["index"] for r in records if r.status == "ok"]
    assert len(set(chosen)) == len(chosen) == 30
    _, records, _ = _run(make_policy("bo-pool", allow_repeats=True), 1, budget=30,
                         noise_std=0.5, function="branin", pool_size=400)
    again = [r.proposal["action"]["index"] for r in records if r.status == "ok"]
    assert len(set(again)) < len(again)  # with repeats allowed, this night has some


def test_bo_pool_skips_needless_rebuilds_and_its_posterior_stays_exact():
    """Refits that barely move the hyperparameters keep the incrementally updated
    posterior, which equals a fresh exact build on the same data and hyperparameters."""
    pol = make_policy("bo-pool")
    _, records, _ = _run(pol, 2, budget=60, pool_size=3000)
    why = [r.proposal["explanation"] for r in records if r.status == "ok"]
    refits = sum(1 for w in why if w.get("refitted"))
    assert 0 < pol.rebuilds < refits
    assert isinstance(pol.source, CachedExactGP)
    fresh = CachedExactGP(pol.pool, pol.hyper)
    fresh.x = pol.pool[np.asarray(pol.idx)]
    fresh.y = torch.tensor(pol._standardized(np.asarray(pol.y)))
    fresh.rebuild()
    for a, b in zip(pol.source.mean_var(), fresh.mean_var(), strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def _pool_after(n_measured, seed=0, **policy_kwargs):
    env = CandidatePoolEnv("branin", pool_size=3000, budget=60, noise_std=0.05)
    obs, info = env.reset(seed=seed)
    policy = make_policy("bo-pool", **policy_kwargs)
    start_policy(policy, env, seed)
    for _ in range(n_measured):
        prop = policy.suggest(obs, info, 1)[0]
        obs, reward, _, _, info = env.step(prop.action.index)
        policy.ingest(prop.action, info, reward)
    return env, policy, obs, info


def test_bo_pool_batch_is_conditioned_on_its_pending_points():
    env, policy, obs, info = _pool_after(12)
    batch = policy.suggest_batch(obs, info, 4)
    picks = [p.action.index for p in batch]
    assert len(set(picks)) == 4 and policy.pending == picks
    assert [p.explanation["batch_index"] for p in batch] == [0, 1, 2, 3]
    assert [p.explanation["n_pending"] for p in batch] == [0, 1, 2, 3]
    assert all(info["action_mask"][i] and i not in policy.idx for i in picks)
    later = [p.action.index for p in policy.suggest(obs, info, 4)]
    assert not set(later) & set(picks)  # pending candidates are not proposed again
    # the first pick is the plain best; the believer spreads the rest out
    dist = lambda ids: min(np.linalg.norm(env.pool_unit[a] - env.pool_unit[b])  # noqa: E731
                           for k, a in enumerate(ids) for b in ids[k + 1:])
    policy.clear_pending()
    naive = [p.action.index for p in policy.suggest(obs, info, 4)]
    assert naive[0] == picks[0] and dist(picks) > dist(naive)
    # the same seed gives the same batch; measuring or refusing clears pending points
    env2, again, obs2, info2 = _pool_after(12)
    assert [p.action.index for p in again.suggest_batch(obs2, info2, 4)] == picks
    for p in batch[:3]:
        obs2, reward, _, _, info2 = env2.step(p.action.index)
        again.ingest(p.action, info2, reward)
    again.ingest(batch[3].action, None, 0.0)
    assert again.pending == [] and len(again.idx) == 15


def test_bo_pool_pending_from_another_instrument_and_bad_index():
    env, policy, obs, info = _pool_after(10)
    first = policy.suggest(obs, info, 1)[0].action.index
    policy.add_pending(first)  # another telescope is measuring it
    prop = policy.suggest(obs, info, 1)[0]
    assert prop.action.index != first and prop.explanation["n_pending"] == 1
    with pytest.raises(ConfigError, match="pending candidate 3000 is outside the pool"):
        policy.add_pending(3000)
