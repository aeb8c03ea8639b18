"""ASCOM Alpaca against REAL ``alpaca-simulators`` servers on 127.0.0.1 (no mocks).

Round trip (served magnitudes against measured), the hardware contract, the
safety monitor gating slews, a closed loop of 20+ decisions through
``steer.session.play``, and faults: the server killed, hung and restarted.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from steer.errors import InstrumentError, InstrumentTimeoutError, UnsafeActionError
from steer.instruments.telescope import Action

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("alpaca_simulators") is None,
                                 reason="alpaca-simulators not installed (pip install -e .)")]

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "alpaca-sim.toml"


def make_sim(seed: int = 1, n_targets: int = 20):
    """A small seeded simulated night (clear-ish), at its start."""
    from steer.envs.target_selection import TargetSelectionEnv

    env = TargetSelectionEnv(n_targets=n_targets, exptimes_s=[30.0, 60.0], max_night_hours=2.0,
                             cloudiness=0.2)
    env.reset(seed=seed)
    return env.observatory


def set_safe(port: int, safe: bool) -> None:
    """Flip the simulator's safety monitor, as a rain sensor would."""
    from steer.instruments.alpaca.server import set_simulated_safety

    set_simulated_safety(port, safe)


@pytest.fixture(scope="module")
def alpaca(tmp_path_factory: pytest.TempPathFactory):
    from steer.instruments.alpaca.observatory import AlpacaObservatory

    obs = AlpacaObservatory(make_sim(), start_server=True, camera_size_px=384,
                            run_dir=str(tmp_path_factory.mktemp("alpaca")))
    yield obs
    obs.close()


def test_devices_satisfy_the_hardware_protocols(alpaca) -> None:
    from steer.instruments import hardware

    alpaca._ensure_ready()
    assert isinstance(alpaca.mount, hardware.Mount)
    assert isinstance(alpaca.camera, hardware.Camera)
    assert isinstance(alpaca.focuser, hardware.Focuser)
    assert isinstance(alpaca.safety, hardware.SafetyMonitor)
    assert isinstance(alpaca.station, hardware.Weather)
    assert isinstance(alpaca.filterwheel, hardware.FilterWheel)
    assert alpaca.filterwheel.names() == ["u", "g", "r", "i", "z", "y"]
    assert not isinstance(alpaca.camera, hardware.Mount)
    lat, lon, _h = alpaca.mount.site()
    cfg = alpaca.config
    assert abs(lat - cfg.site_lat_deg) < 1e-6 and abs(lon - cfg.site_lon_deg) < 1e-6


def test_server_listens_on_loopback_only(alpaca) -> None:
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    mine = [line.split()[3] for line in out.splitlines() if line.split()[3].endswith(
        f":{alpaca.port}")]
    assert mine == [f"127.0.0.1:{alpaca.port}"], out


def test_round_trip_photometry_against_the_served_sky(alpaca) -> None:
    sim = alpaca._sim
    feasible = np.flatnonzero(sim.feasible_mask())
    assert len(feasible) >= 4
    mjd0, n0 = alpaca.mjd, len(alpaca.photometry_log)
    for i in feasible[:5]:
        m = alpaca.execute(Action(int(i), 60.0, str(sim.catalog.target_id[i])))
        assert m.conditions["n_ref_stars"] >= 3 and m.overheads_s["transfer"] >= 0.0
        assert "station_cloud_cover_frac" in m.conditions
    assert alpaca.mjd > mjd0
    log = alpaca.photometry_log[n0:]
    bands = {str(sim.catalog.band[r["target_index"]]) for r in log}
    assert alpaca.filterwheel.current() == str(sim.catalog.band[log[-1]["target_index"]])
    assert any(what == "filterwheel select" for what, _t in alpaca.link.commands) \
        or bands == {"r"}
    d = np.array([r["value_mag"] - r["served_mag"] for r in log if r["value_mag"] is not None])
    assert len(d) >= 4
    assert abs(np.median(d)) < 0.15, d  # measured against what the simulator drew
    assert all(r["offset_px"] < 4.0 for r in log)  # found where the WCS says
    fwhm = np.median([r["fwhm_arcsec"] for r in log])
    assert 0.5 < fwhm < 3.0, fwhm
    eta = np.array([r["transparency"] - r["sim_transparency"] for r in log])
    assert abs(np.median(eta)) < 0.1, eta


def test_unsafe_refuses_the_action_and_sends_nothing(alpaca) -> None:
    sim = alpaca._sim
    i = int(np.flatnonzero(sim.feasible_mask())[0])
    act = Action(i, 30.0, str(sim.catalog.target_id[i]))
    set_safe(alpaca.port, False)
    try:
        time.sleep(0.6)  # past the cached verdict
        n_cmd, mjd0 = len(alpaca.link.commands), alpaca.mjd
        assert not alpaca.feasible_mask().any()
        with pytest.raises(UnsafeActionError, match="safety monitor"):
            alpaca.execute(act)
        assert len(alpaca.link.commands) == n_cmd and alpaca.mjd == mjd0
        assert alpaca.safety_log[-1]["safe"] is False
    finally:
        set_safe(alpaca.port, True)
    time.sleep(0.6)
    assert alpaca.feasible_mask().any() and alpaca.is_safe()


def test_live_night_with_an_unsafe_period_then_suggest_reads_it(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    """experiments/alpaca-live.toml: 20 decisions on the wall clock (x100). The safety
    monitor says unsafe for ~4 wall seconds mid-night: the night waits, no slew is
    sent meanwhile, then it goes on. Tomorrow's ``steer suggest`` reads the journal."""
    from steer.cli import main
    from steer.config import parse_experiment
    from steer.envs.history import read_history
    from steer.instruments.sim import get_preset
    from steer.instruments.sim.catalog_io import read_catalog
    from steer.session import make_env, play

    live = EXPERIMENT.with_name("alpaca-live.toml")
    text = live.read_text(encoding="utf-8").replace(
        "\nstart_server = true\n",
        f"\nstart_server = true\nrun_dir = {json.dumps(str(tmp_path / 'srv'))}\n")
    catalog_path = str(live.parents[0] / "catalogs" / "live-demo.csv")
    text = text.replace("max_decisions = 25", "max_decisions = 20")
    text = text.replace('"experiments/catalogs/live-demo.csv"', json.dumps(catalog_path))
    config = parse_experiment(text, str(live))
    env = make_env(config)
    journal = tmp_path / "journals"
    from steer.instruments.alpaca.drills import start_unsafe_drill

    th, window = start_unsafe_drill(journal, tmp_path / "srv", 8, 4.0)
    t0 = time.time()
    result = play(config, "feature", seed=0, journal_dir=journal, env=env)
    wall_s = time.time() - t0
    th.join(10)
    obs = env.unwrapped.observatory
    assert obs.describe()["clock"]["time_factor"] == 100.0
    records = [json.loads(x) for x in result.journal_path.read_text().splitlines()]
    ok = [r for r in records if r["status"] == "ok"]
    assert [r["step"] for r in ok] == list(range(20))
    mags = np.array([r["measurement"]["value_mag"] for r in ok], dtype=float)
    assert np.isfinite(mags).sum() >= 16
    # the clock is the wall's: the night advanced ~100x the wall time the loop took
    night_s = (ok[-1]["measurement"]["mjd_mid"] - obs.night_start_mjd) * 86400.0
    assert 0.5 * 100 * wall_s < night_s < 100 * wall_s
    assert "unsafe" in window and "safe" in window
    # the verdict is read at most 0.5 s late: a slew under way when the sensor
    # flipped is the only command allowed in the first 0.6 s
    slews = [t for what, t in obs.link.commands if what == "telescope slew"
             and window["unsafe"] + 0.6 < t < window["safe"]]
    assert slews == []
    unsafe = [e for e in obs.safety_log if not e["safe"]]
    assert unsafe and window["unsafe"] <= unsafe[0]["unix"] <= window["unsafe"] + 2.0
    assert obs.safety_log[-1]["safe"] is True
    assert [t for what, t in obs.link.commands if what == "telescope slew"
            and t > window["safe"]]  # the night went on once safe
    assert not (tmp_path / "srv" / "server.json").exists()  # the private server was stopped

    # tomorrow: the history store (the runs folder's journals) feeds steer suggest
    history, report = read_history(journal, read_catalog(catalog_path))
    assert report.used == int(np.isfinite(mags).sum())
    site = get_preset("small-robotic")
    last = max(r["measurement"]["mjd_mid"] for r in ok)
    from astropy.time import Time

    when = Time(last + 600 / 86400.0, format="mjd", scale="utc").isot[:19]
    args = ["suggest", catalog_path, "--lat", str(site.site_lat_deg), "--lon",
            str(site.site_lon_deg), "--height", str(site.site_height_m), "--time", when,
            "--n", "30", "--policy", "feature", "--format", "json"]
    assert main([*args, "--history", str(journal)]) == 0
    rows = json.loads(capsys.readouterr().out)
    seen = {r["proposal"]["action"]["target_id"] for r in ok
            if r["measurement"]["value_mag"] is not None}
    reasons = {r["target_id"]: r["reason"] for r in rows}
    assert any("last seen" in reasons.get(t, "") for t in seen), reasons


def _fault_setup(tmp_path: Path, exptime_scale: float, timeout_s: float):
    from steer.instruments.alpaca.observatory import AlpacaObservatory

    sim = make_sim()
    obs = AlpacaObservatory(sim, start_server=True, run_dir=str(tmp_path), camera_size_px=256,
                            timeout_s=timeout_s, exptime_scale=exptime_scale, max_retries=1)
    i = int(np.flatnonzero(sim.feasible_mask())[0])
    obs._ensure_ready()
    return obs, Action(i, 30.0, str(sim.catalog.target_id[i]))


def test_server_killed_mid_exposure_is_restarted_and_the_action_retried(tmp_path: Path) -> None:
    obs, act = _fault_setup(tmp_path, exptime_scale=0.1, timeout_s=5.0)  # 3 s exposures
    try:
        mjd0, pid0 = obs.mjd, obs.server.pid
        outcome: dict[str, object] = {}

        def run() -> None:
            try:
                obs.execute(act)
            except InstrumentError as exc:
                outcome["error"] = exc

        th = threading.Thread(target=run)
        th.start()
        time.sleep(1.5)  # inside the exposure
        obs.server.kill(signal.SIGKILL)
        th.join(15.0)
        assert isinstance(outcome.get("error"), InstrumentError)
        assert obs.mjd == mjd0  # the failed attempt left the night untouched
        m = obs.execute(act)  # reconnect fails, the server is restarted, the action retried
        assert obs.server.pid != pid0 and len(obs.restart_log) == 1
        assert obs.mjd > mjd0 and m.conditions["n_ref_stars"] >= 3
    finally:
        obs.close()


def test_hung_server_times_out_then_is_restarted(tmp_path: Path) -> None:
    obs, act = _fault_setup(tmp_path, exptime_scale=0.01, timeout_s=1.0)
    try:
        mjd0 = obs.mjd
        obs.server.kill(signal.SIGSTOP)
        t0 = time.perf_counter()
        with pytest.raises(InstrumentTimeoutError):
            obs.mount.position()  # every call is bounded by the timeout
        assert time.perf_counter() - t0 < 3.0
        time.sleep(0.6)  # past the cached safety verdict
        # the safety read times out: the hung server is stopped, a new one started,
        # and the action goes through on it
        m = obs.execute(act)
        assert len(obs.restart_log) == 1 and obs.mjd > mjd0 and m.value_mag is not None
        assert all(e["safe"] for e in obs.safety_log)  # recovered before any verdict
    finally:
        obs.close()


def test_autofocus_on_alpaca_reaches_best_focus(tmp_path: Path) -> None:
    """bo-continuous on the Alpaca focuser and camera (IndiAutofocusEnv's task): within
    10% of the best FWHM the frames show, in 8 exposures."""
    from steer.envs.indi_autofocus import IndiAutofocusEnv
    from steer.envs.testing import run_focus_episode
    from steer.instruments.alpaca.focus import ALPACA_SIM_BEST_FOCUS_STEPS, AlpacaFocusCamera

    with AlpacaFocusCamera(start_server=True, run_dir=str(tmp_path)) as cam:
        best = cam.measure(ALPACA_SIM_BEST_FOCUS_STEPS)
        far = cam.measure(ALPACA_SIM_BEST_FOCUS_STEPS + 300)
        assert best.n_stars >= 4 and 0.8 < best.fwhm_arcsec < 1.6
        assert far.fwhm_arcsec > 2.5 * best.fwhm_arcsec
        env = IndiAutofocusEnv(camera=cam, best_focus_steps=ALPACA_SIM_BEST_FOCUS_STEPS,
                               window_steps=1500.0, max_exposures=8)
        fwhm, _ = run_focus_episode(env, "bo-continuous", 0)
        assert len(fwhm) == 8 and min(fwhm) <= 1.10 * best.fwhm_arcsec, fwhm


def test_a_band_the_wheel_lacks_is_refused_before_anything_is_sent(alpaca) -> None:
    sim = alpaca._sim
    alpaca._ensure_ready()
    feasible = np.flatnonzero(sim.feasible_mask())
    i = int(feasible[0])
    band = str(sim.catalog.band[i])
    loaded = alpaca.filterwheel._names
    alpaca.filterwheel._names = [b for b in loaded if b != band]  # as if that filter were out
    try:
        n_cmd, mjd0 = len(alpaca.link.commands), alpaca.mjd
        with pytest.raises(UnsafeActionError, match=f"not the target's band '{band}'"):
            alpaca.execute(Action(i, 30.0, str(sim.catalog.target_id[i])))
        assert len(alpaca.link.commands) == n_cmd and alpaca.mjd == mjd0
    finally:
        alpaca.filterwheel._names = loaded


def test_a_night_whose_server_never_answers_says_so_and_exits_3(tmp_path: Path) -> None:
    """A live night pointed at a port where no Alpaca server runs: the unanswered
    safety monitor keeps the night waiting (nothing is observed), and the night ends
    saying how long the instrument did not answer, exit 3 (it ended with exit 0 and
    only 'idle' in the summary)."""
    import os
    import socket
    import sys

    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    live = EXPERIMENT.with_name("alpaca-live.toml")
    text = live.read_text(encoding="utf-8").replace(
        "\nstart_server = true\n", f"\nstart_server = false\nport = {port}\n")
    text = text.replace("max_night_hours = 2.0", "max_night_hours = 0.1")
    text = text.replace('"experiments/catalogs/live-demo.csv"',
                        json.dumps(str(live.parents[0] / "catalogs" / "live-demo.csv")))
    exp = tmp_path / "silent.toml"
    exp.write_text(text, encoding="utf-8")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run([sys.executable, "-m", "steer.cli", "run", str(exp), "--runs-dir",
                          str(tmp_path / "runs")], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 3, out.stdout + out.stderr[-2000:]
    assert "the instrument did not answer for 0.10 h of the night" in out.stderr
    assert "visits                          0" in out.stdout
