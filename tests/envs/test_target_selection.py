import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import steer.envs  # noqa: F401
from steer.envs import ENV_IDS
from steer.envs.night_features import GLOBAL_FEATURES, TARGET_FEATURES
from steer.errors import CatalogError, ConfigError

SMALL = dict(n_targets=30, max_night_hours=0.5, cloudiness=0.1)


TINY_KWARGS = {"steer/TargetSelection-v0": SMALL}  # others: their defaults


@pytest.mark.parametrize("env_id", list(ENV_IDS))
def test_every_registered_env_passes_gymnasium_check_env(env_id):
    env = gymnasium.make(env_id, **TINY_KWARGS.get(env_id, {}))
    check_env(env.unwrapped, skip_render_check=True)


def test_passes_sb3_check_env():
    from stable_baselines3.common.env_checker import check_env as sb3_check

    env = gymnasium.make("steer/TargetSelection-v0", **SMALL)
    sb3_check(env.unwrapped, warn=True)


def test_observation_layout_and_mask():
    env = gymnasium.make("steer/TargetSelection-v0", **SMALL).unwrapped
    obs, info = env.reset(seed=4)
    assert obs["targets"].shape == (30, len(TARGET_FEATURES))
    assert obs["globals"].shape == (len(GLOBAL_FEATURES),)
    feas = obs["targets"][:, TARGET_FEATURES.index("feasible")].astype(bool)
    assert np.array_equal(feas, info["action_mask"])
    assert info["action_mask"].any()
    alt = obs["targets"][:, TARGET_FEATURES.index("alt_deg")]
    assert np.all(alt[info["action_mask"]] >= env.config.alt_min_deg)


def test_same_seed_same_night_different_seed_different():
    env = gymnasium.make("steer/TargetSelection-v0", **SMALL).unwrapped
    a, _ = env.reset(seed=11)
    b, _ = env.reset(seed=11)
    c, _ = env.reset(seed=12)
    assert np.array_equal(a["targets"], b["targets"])
    assert not np.array_equal(a["targets"], c["targets"])


def test_infeasible_action_is_refused_and_costs_time():
    env = gymnasium.make("steer/TargetSelection-v0", **SMALL).unwrapped
    _, info = env.reset(seed=2)
    bad = np.flatnonzero(~info["action_mask"])
    if len(bad) == 0:
        pytest.skip("every target feasible on this seed")
    t0 = env.observatory.mjd
    _, reward, *_ , info2 = env.step(np.array([bad[0], 0]))
    assert reward == 0.0
    assert "rejected" in info2 and "measurement" not in info2
    assert env.observatory.mjd > t0


def test_reward_is_information_and_decreases_on_immediate_repeat():
    env = gymnasium.make("steer/TargetSelection-v0", **SMALL).unwrapped
    _, info = env.reset(seed=5)
    i = int(np.flatnonzero(info["action_mask"])[0])
    _, r1, *_ = env.step(np.array([i, 0]))
    _, r2, *_ = env.step(np.array([i, 0]))
    assert r1 > 0
    assert r2 < r1


def test_bad_settings_raise_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cloudiness = 2"):
        gymnasium.make("steer/TargetSelection-v0", cloudiness=2.0)
    with pytest.raises(ConfigError, match="default_exptime_s = 45"):
        gymnasium.make("steer/TargetSelection-v0", default_exptime_s=45.0)
    cat = tmp_path / "polar.csv"
    cat.write_text("target_id,ra_deg,dec_deg,mag,band,priority\nA,10,85,18,r,1\nB,20,80,18,r,1\n")
    with pytest.raises(CatalogError, match="no target"):
        gymnasium.make("steer/TargetSelection-v0", catalog_path=str(cat))
    missing = tmp_path / "missing.csv"
    missing.write_text("target_id,ra_deg,mag\nA,10,18\n")
    with pytest.raises(CatalogError, match="dec_deg"):
        gymnasium.make("steer/TargetSelection-v0", catalog_path=str(missing))
