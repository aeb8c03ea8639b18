"""Every policy on the tiny night: valid, feasible, deterministic decisions."""

from pathlib import Path

import numpy as np
import pytest

from steer.envs.testing import UnsafeFirstPolicy, tiny_config
from steer.errors import RegistryError
from steer.loop import run_episode, start_policy
from steer.policies import make_policy, policies_for
from steer.session import make_env
from steer.testing import ListSink


def _episode(policy_name, seed=1, max_decisions=0, **params):
    cfg = tiny_config()
    env = make_env(cfg)
    sink = ListSink()
    res = run_episode(env, make_policy(policy_name, **cfg.policy_params(policy_name), **params),
                      seed, [sink], "t", max_decisions=max_decisions)
    return res, sink.records


def _params(name, request):
    """A policy's settings beyond the experiment's: ``rl`` needs its trained model."""
    return {"model": str(request.getfixturevalue("rl_model"))} if name == "rl" else {}


@pytest.mark.parametrize("name", policies_for("catalog"))
def test_policy_runs_a_night_with_feasible_decisions(name, request):
    res, records = _episode(name, max_decisions=25 if name == "bo" else 0,
                            **_params(name, request))
    assert len(records) == len(res.records) > 5
    ok = [r for r in records if r.status == "ok"]
    assert ok, "no executed decision"
    assert all(r.safety["allowed"] for r in ok)
    assert all(r.measurement is not None for r in ok)
    assert res.metrics["visits"] == len(ok)
    assert res.metrics["science_score"] == pytest.approx(sum(r.reward for r in ok))
    assert all(len(r.proposal["explanation"]["runners_up"]) > 0 for r in ok[:3])


@pytest.mark.parametrize("name", policies_for("catalog"))
def test_policy_is_deterministic_for_a_seed(name, request):
    n = 12 if name == "bo" else 0
    _, a = _episode(name, seed=3, max_decisions=n, **_params(name, request))
    _, b = _episode(name, seed=3, max_decisions=n, **_params(name, request))
    assert [r.decision_key for r in a] == [r.decision_key for r in b]


def test_unknown_policy_names_the_choices():
    with pytest.raises(RegistryError, match="'nope'.*round-robin"):
        make_policy("nope")


def test_refused_action_is_logged_and_never_executed():
    cfg = tiny_config()
    env = make_env(cfg)
    sink = ListSink()
    res = run_episode(env, UnsafeFirstPolicy(), 1, [sink], "t", max_decisions=10)
    rejected = [r for r in sink.records if r.status == "rejected"]
    assert rejected, "the unsafe proposal was not refused"
    for r in rejected:
        assert r.measurement is None and r.reward == 0.0
        assert r.safety["allowed"] is False and r.safety["reason"]
    executed = {(r.step, r.proposal["action"]["target_index"]) for r in sink.records
                if r.status == "ok"}
    for r in rejected:
        assert (r.step, r.proposal["action"]["target_index"]) not in executed
    assert res.metrics["rejected"] == 0  # nothing unsafe reached the environment


def test_bo_beats_random_on_the_demo_nights(tmp_path):
    """Three demo nights (150 targets, 4 hours; the tiny night is too small to tell
    policies apart): `bo` beats `random` on the reward and on the science judged against
    the hidden truth (light-curve error, priority targets characterised tonight)."""
    from steer.config import load_experiment
    from steer.session import play

    config = load_experiment(Path(__file__).resolve().parents[2] / "experiments" / "demo.toml")
    totals = {}
    for name in ("bo", "random"):
        runs = [play(config, name, seed, tmp_path / f"{name}{seed}").episode.metrics
                for seed in (0, 1, 2)]
        totals[name] = {k: sum(m[k] for m in runs)
                        for k in ("science_score", "lc_rmse_mag", "characterised_tonight")}
    assert totals["bo"]["science_score"] > totals["random"]["science_score"]
    assert totals["bo"]["lc_rmse_mag"] < totals["random"]["lc_rmse_mag"]
    assert totals["bo"]["characterised_tonight"] > totals["random"]["characterised_tonight"]


def test_bo_cached_posterior_matches_the_botorch_posterior():
    """The cached per-target factors give the same decisions as BoTorch's batched posterior."""
    cfg = tiny_config()
    keys, gains = {}, {}
    for mode in ("cached", "botorch"):  # one time scale (v2): BoTorch's path supports it
        sink = ListSink()
        run_episode(make_env(cfg), make_policy("bo", posterior=mode, lengthscales_d=[]), 3,
                    [sink], "t", max_decisions=30)
        keys[mode] = [r.decision_key for r in sink.records]
        gains[mode] = [r.proposal["explanation"]["expected_ipv_reduction_mag2"]
                       for r in sink.records]
    assert keys["cached"] == keys["botorch"]
    # GPyTorch adds a small Cholesky jitter: agreement to ~1e-4, decisions identical
    assert np.allclose(gains["cached"], gains["botorch"], rtol=1e-3, atol=1e-9)


def _bo_after_reset(seed=4, **params):
    env = make_env(tiny_config())
    env.reset(seed=seed)
    policy = make_policy("bo", **params)
    start_policy(policy, env, seed)
    return env, policy


def test_bo_time_scale_weights_follow_the_data():
    """A target sampled densely from a fast variable gets weight on the short time scale."""
    _, policy = _bo_after_reset()
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 1.0, 40)
    fast = 0.3 * np.sin(2 * np.pi * t / 0.2)  # 0.2 d period: time scale ~0.05 d
    slow = 0.3 * (t - 0.5)  # a slow trend over the day
    for i, y in ((0, fast), (1, slow)):
        policy.bank.obs[i] = [(float(a), float(b + rng.normal(0, 0.01)), 1e-4)
                              for a, b in zip(t, y, strict=True)]
    policy._fit(refit=True)
    assert np.allclose(policy.bank.weights.numpy().sum(1), 1.0)
    w = [policy.bank.scale_weights(i).numpy() for i in (0, 1)]  # per time scale
    ells = np.asarray(policy.lengthscales_d)
    assert ells[np.argmax(w[0])] <= 0.08
    assert ells[np.argmax(w[1])] >= 1.0
    assert np.isclose(float(policy.bank.ell_prior.sum()), 1.0)


def test_bo_incremental_cache_equals_a_fresh_factorisation():
    """After observations arrive, per-row updates equal refactoring every component."""
    env, policy = _bo_after_reset()
    sink = ListSink()
    run_episode(env, policy, 4, [sink], "t", max_decisions=8)
    bank = policy.bank
    import torch

    t_star = torch.linspace(0.01, 0.15, bank.n * 2, dtype=torch.float64).reshape(bank.n, 2)
    cap, moved = bank._cap, bank._factors.size_of.clone()
    incremental = bank.posterior(t_star)
    bank.refactor_all()
    assert bank._cap == cap
    assert not torch.equal(moved, torch.full_like(moved, int(moved[0])))  # several buckets
    for a, b in zip(incremental, bank.posterior(t_star), strict=True):
        assert a.shape == b.shape
        assert np.allclose(a.numpy(), b.numpy(), atol=1e-9)


def test_bo_rejects_a_bad_time_scale():
    from steer.errors import ConfigError

    with pytest.raises(ConfigError, match="-1"):
        make_policy("bo", lengthscales_d=[0.1, -1])
    with pytest.raises(ConfigError, match="one time scale"):
        make_policy("bo", posterior="botorch")


def test_bo_horizon_reaches_into_the_coming_nights():
    """With ``horizon_d`` the grid reaches into the next nights: a visit to a slowly
    evolving target then also shrinks the variance of the nights ahead."""
    from steer.errors import ConfigError

    with pytest.raises(ConfigError, match="horizon_d = -1"):
        make_policy("bo", horizon_d=-1)
    _, tonight = _bo_after_reset()
    env, ahead = _bo_after_reset(horizon_d=3)
    g = len(tonight.grid_d)
    assert len(ahead.grid_d) == g + 24
    np.testing.assert_array_equal(ahead.grid_d[:g].numpy(), tonight.grid_d.numpy())
    assert float(ahead.grid_d[-1]) == pytest.approx(float(tonight.grid_d[-1]) + 3.0)


def test_bo_amplitude_bins_are_checked_and_explained_per_time_scale():
    from steer.errors import ConfigError

    for bad in (0, 26, 2.5, True):
        with pytest.raises(ConfigError, match="amplitude_bins"):
            make_policy("bo", amplitude_bins=bad)
    with pytest.raises(ConfigError, match="needs lengthscales_d"):
        make_policy("bo", amplitude_bins=3, lengthscales_d=[])
    env, policy = _bo_after_reset(amplitude_bins=3)
    assert policy.bank.n_l == 3 * len(policy.lengthscales_d)
    obs, info = env.reset(seed=4)
    best = policy.suggest(obs, info, n=1)[0]
    weights = best.explanation["lengthscale_weights"]  # summed over the amplitude ranges
    assert len(weights) == len(policy.lengthscales_d)
    assert sum(weights) == pytest.approx(1.0, abs=1e-3)


def test_bo_learns_from_a_saturated_frame_and_its_saturation_limit_grows_with_exposure():
    """A frame that came back saturated makes that exposure and longer ones worthless to bo."""
    from steer.envs.testing import tiny_config
    from steer.instruments.telescope import Measurement
    from steer.loop import start_policy
    from steer.session import build_policy, make_env, set_threads

    set_threads(1)
    config = tiny_config()
    env = make_env(config)
    obs, info = env.reset(seed=0)
    policy = build_policy(config, "bo")
    start_policy(policy, env, 0)
    best = policy.suggest(obs, info, n=1)[0]
    i = best.action.target_index
    shortest = float(min(info["exptimes_s"]))
    policy.ingest(best.action, Measurement(float("nan"), float("nan"), float(info["mjd"]),
                                           shortest, saturated=True), 0.0)
    again = policy.suggest(obs, info, n=200)
    assert all(p.score == 0.0 for p in again if p.action.target_index == i)
    assert again[0].action.target_index != i
    assert again[0].explanation["targets_seen_saturated"] == 1
    env.close()


def _bo_after_a_faint_frame(**params):
    """bo on the tiny night after its first choice came back faint (SNR ~0.2, no magnitude)."""
    from steer.envs.testing import tiny_config
    from steer.instruments.telescope import Measurement
    from steer.loop import start_policy
    from steer.session import make_env, set_threads

    set_threads(1)
    config = tiny_config()
    env = make_env(config)
    obs, info = env.reset(seed=0)
    policy = make_policy("bo", **config.policy_params("bo"), **params)
    start_policy(policy, env, 0)
    best = policy.suggest(obs, info, n=1)[0]
    m5 = best.explanation["predicted_m5_mag"]
    policy.ingest(best.action, Measurement(float("nan"), 5.0, float(info["mjd"]),
                                           best.action.exptime_s, {"m5_mag": m5}), 0.0)
    return env, policy, obs, info, best


def test_bo_learns_from_a_faint_frame_instead_of_asking_again():
    """A frame that came back at SNR ~0.2 (a faded transient) says the target is ~3.7 mag
    fainter than the depth: bo predicts that, not its light-curve model's brightness, and
    asks for someone else; a good frame later ends it. Version 4 (off) asks again."""
    from steer.instruments.telescope import Measurement

    env, policy, obs, info, best = _bo_after_a_faint_frame()
    i = best.action.target_index
    again = policy.suggest(obs, info, n=200)
    assert again[0].action.target_index != i
    assert again[0].explanation["targets_seen_faint"] == 1
    mine = [p for p in again if p.action.target_index == i]
    assert mine and all(p.explanation["faint_frame_mag"] > best.explanation["predicted_m5_mag"] + 3
                        for p in mine)
    assert max(p.score for p in mine) < 0.1 * best.score
    assert policy.version == "8"
    policy.ingest(best.action, Measurement(18.0, 0.05, float(info["mjd"]) + 0.01,
                                           best.action.exptime_s, {"m5_mag": 21.0}), 0.0)
    assert policy.suggest(obs, info, n=1)[0].explanation["targets_seen_faint"] == 0
    env.close()

    env, policy, obs, info, best = _bo_after_a_faint_frame(faint_memory_d=0)
    assert policy.version == "4+precision+overhead+amortise+period"
    assert policy.suggest(obs, info, n=1)[0].action.target_index == best.action.target_index
    env.close()


def test_bo_decides_the_same_whatever_the_chunk_sizes(monkeypatch):
    """Posterior and refactoring run in chunks of targets to bound memory at catalog scale:
    tiny chunks (many of them, on the tiny night) give the same decisions, and the same
    scores to rounding (a batch's size can change the last bits of torch's results)."""
    import steer.policies.bo as bo_module
    import steer.policies.gp_bank as bank_module

    def decisions():
        _, records = _episode("bo", seed=2, max_decisions=30)
        return ([r.decision_key for r in records],
                [[r.proposal["score"], *(u["score"] for u in
                                         r.proposal["explanation"]["runners_up"])]
                 for r in records])

    keys, scores = decisions()
    monkeypatch.setattr(bo_module, "_POSTERIOR_CHUNK", 4)
    monkeypatch.setattr(bank_module, "_FACTOR_CHUNK", 50)
    chunked_keys, chunked_scores = decisions()
    assert chunked_keys == keys
    assert len(chunked_scores) == len(scores) > 20
    for a, b in zip(chunked_scores, scores, strict=True):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-15)
