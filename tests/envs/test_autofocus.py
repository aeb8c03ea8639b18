"""steer/Autofocus-v0: contract checks, seeding, V-curve physics, costs, argument errors."""

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import steer.envs  # noqa: F401  (registers the ids)
from steer.envs import ENV_IDS
from steer.envs.autofocus import AutofocusEnv, vcurve_fwhm_arcsec
from steer.errors import ConfigError, UnsafeActionError


def test_registered_and_passes_gymnasium_and_sb3_check_env():
    from stable_baselines3.common.env_checker import check_env as sb3_check

    assert ENV_IDS["steer/Autofocus-v0"] == "steer.envs.autofocus:AutofocusEnv"
    env = gymnasium.make("steer/Autofocus-v0").unwrapped
    check_env(env, skip_render_check=True)
    with warnings.catch_warnings():  # a [0, 1] box is by design (SB3 prefers [-1, 1])
        warnings.filterwarnings("ignore", message="We recommend you to use a symmetric")
        sb3_check(env, warn=True)


def _trajectory(seed):
    env = AutofocusEnv(max_exposures=6)
    _, info = env.reset(seed=seed)
    out = [info["truth_best_position_steps"], info["position_steps"]]
    for x in np.linspace(0.2, 0.8, 6):
        _, reward, _, _, info = env.step(np.array([x]))
        out += [reward, info["temperature_degc"]]
    return out


def test_same_seed_same_run_different_seed_different():
    assert _trajectory(5) == _trajectory(5)
    assert _trajectory(5) != _trajectory(6)


def test_best_focus_reaches_the_seeing_floor_exactly_without_noise():
    env = AutofocusEnv(noise_frac=0.0, temp_std_degc=0.0, cooling_degc_per_h=0.0)
    _, info = env.reset(seed=2)
    best = info["truth_best_position_steps"]
    _, reward, _, _, info = env.step(env.unit_of([best]))
    assert -reward == pytest.approx(env.fwhm_min_arcsec, rel=1e-9)
    assert info["truth_in_focus"] and info["truth_fwhm_arcsec"] == pytest.approx(2.0)
    off = best + 500.0 if best + 500.0 <= 4000.0 else best - 500.0
    _, reward, _, _, info = env.step(env.unit_of([off]))
    assert -reward == pytest.approx(np.hypot(2.0, 0.01 * 500.0), rel=1e-9)
    assert not info["truth_in_focus"]


def test_cost_is_exposure_readout_and_move():
    env = AutofocusEnv(exposure_s=4.0, readout_s=1.5, focuser_speed_steps_per_s=200.0)
    _, info = env.reset(seed=0)
    start = info["position_steps"]
    _, _, _, _, info = env.step(np.array([0.5]))
    move_s = abs(2000.0 - start) / 200.0
    assert info["overheads_s"] == pytest.approx({"move": move_s, "exposure": 4.0,
                                                 "readout": 1.5})
    assert info["cost_s"] == pytest.approx(move_s + 5.5)
    assert info["elapsed_s"] == pytest.approx(move_s + 5.5)


def test_best_focus_follows_the_temperature():
    env = AutofocusEnv(temp_coeff_steps_per_degc=-40.0, cooling_degc_per_h=-3.0,
                       temp_std_degc=0.0, exposure_s=600.0, max_exposures=4)
    _, info = env.reset(seed=1)
    b0, t0 = info["truth_best_position_steps"], info["temperature_degc"]
    for _ in range(4):
        *_, info = env.step(np.array([0.5]))
    dt = info["temperature_degc"] - t0
    assert dt < -1.5  # 40 minutes at -3 degC/h
    assert info["truth_best_position_steps"] - b0 == pytest.approx(-40.0 * dt)


def test_noise_is_about_five_percent():
    env = AutofocusEnv(max_exposures=400, temp_std_degc=0.0, cooling_degc_per_h=0.0)
    env.reset(seed=3)
    ratios = []
    for _ in range(400):
        *_, info = env.step(np.array([0.3]))
        ratios.append(info["fwhm_arcsec"] / info["truth_fwhm_arcsec"])
    assert np.std(np.log(ratios)) == pytest.approx(0.05, rel=0.15)


def test_vcurve_formula():
    assert vcurve_fwhm_arcsec(100.0, 100.0, 1.5, 0.02) == pytest.approx(1.5)
    assert vcurve_fwhm_arcsec(400.0, 100.0, 1.5, 0.02) == pytest.approx(np.hypot(1.5, 6.0))


@pytest.mark.parametrize("kwargs, match", [
    ({"travel_min_steps": 10.0, "travel_max_steps": 5.0}, "travel"),
    ({"fwhm_min_arcsec": 0.0}, "fwhm_min_arcsec = 0.0"),
    ({"noise_frac": -0.1}, "noise_frac = -0.1"),
    ({"max_exposures": 0}, "max_exposures = 0"),
    ({"focus_margin_frac": 0.7}, "focus_margin_frac = 0.7"),
])
def test_bad_arguments_name_the_value(kwargs, match):
    with pytest.raises(ConfigError, match=match) as err:
        AutofocusEnv(**kwargs)
    assert err.value.hint


def test_positions_outside_the_travel_are_refused():
    env = AutofocusEnv()
    env.reset(seed=0)
    with pytest.raises(UnsafeActionError, match="outside the travel"):
        env.step(np.array([1.2]))
    assert env._info()["exposures"] == 0
