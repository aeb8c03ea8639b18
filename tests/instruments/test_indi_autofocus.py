"""Autofocus against a REAL indiserver: focuser + CCD simulators, FWHM measured in FITS frames."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("indiserver") is None,
                                 reason="indiserver not installed (apt-get install -y indi-bin)")]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from steer.envs.indi_autofocus import IndiAutofocusEnv
    from steer.instruments.indi.focus import IndiFocusCamera

    cam = IndiFocusCamera(start_server=True, run_dir=str(tmp_path_factory.mktemp("indi-focus")),
                          timeout_s=8.0)
    e = IndiAutofocusEnv(camera=cam, max_exposures=8)
    try:
        yield e
    finally:
        cam.close()


def test_fwhm_at_best_focus_is_clearly_smaller_than_far_out(env) -> None:
    cam = env.camera
    best = cam.measure(36700)
    far = cam.measure(52000)
    assert best.n_stars >= 3 and far.n_stars >= 3
    assert best.position_steps == 36700 and far.position_steps == 52000
    assert 2.5 < best.fwhm_arcsec < 4.5  # the simulator's 3.5" seeing
    assert far.fwhm_arcsec > 1.8 * best.fwhm_arcsec
    assert set(best.wall_s) == {"move", "expose", "measure"}


def test_unsafe_action_is_refused_before_anything_is_sent(env) -> None:
    from steer.errors import UnsafeActionError

    env.reset(seed=3)
    pos = env.camera.position_steps
    with pytest.raises(UnsafeActionError):
        env.step(np.array([1.5]))
    assert env.camera.position_steps == pos


def test_bo_continuous_reaches_near_best_focus_in_8_exposures(env) -> None:
    from steer.envs.testing import run_focus_episode

    best = env.camera.measure(36700).fwhm_arcsec  # the simulator's best focus
    window, _start = env.window_for_seed(1, env.best_focus_steps, env.window_steps,
                                         env.focus_margin_frac)
    assert window[0] < 36700 < window[1]
    fwhm, info = run_focus_episode(env, "bo-continuous", 1)
    assert len(fwhm) == 8 and info["exposures"] == 8
    assert min(fwhm) <= 1.10 * best
    assert fwhm[-1] <= 1.10 * best  # it ends in focus, not just passes through it
