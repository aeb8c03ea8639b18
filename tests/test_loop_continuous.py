"""The closed loop on the continuous envs (Autofocus-v0, BlackBox-v0), end to end.

Real loop, real journal, real MLflow sqlite store and real policies, with tiny
budgets; replays identical; the CLI on ``experiments/autofocus.toml``; clear
errors for a policy that does not fit the env.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from steer.config import ExperimentConfig, parse_experiment
from steer.errors import ConfigError, InstrumentError
from steer.loop import run_episode
from steer.policies.base import BasePolicy
from steer.records import read_journal
from steer.session import (
    check_policy_fits,
    log_to_mlflow,
    make_env,
    play,
    presenter_for,
    run_params,
)
from steer.testing import ListSink
from steer.types import Proposal

ROOT = Path(__file__).resolve().parents[1]
_FAST_BO = """
[policy.bo-continuous]
n_init = 3
num_restarts = 2
raw_samples = 32
"""
AUTOFOCUS = """
[experiment]
name = "autofocus-tiny"
env = "steer/Autofocus-v0"
policy = "bo-continuous"
seed = 3

[env]
max_exposures = 8

[policy.vcurve]
n_points = 5
""" + _FAST_BO
BRANIN = """
[experiment]
name = "branin-tiny"
env = "steer/BlackBox-v0"
policy = "bo-continuous"
seed = 3

[env]
function = "branin"
noise_std = 0.1
budget = 8
""" + _FAST_BO
CASES = [("autofocus", "bo-continuous"), ("autofocus", "vcurve"), ("autofocus", "sobol"),
         ("branin", "bo-continuous"), ("branin", "sobol")]
TEXTS = {"autofocus": AUTOFOCUS, "branin": BRANIN}


def _config(kind: str, extra: str = "") -> ExperimentConfig:
    return parse_experiment(TEXTS[kind] + extra, f"<{kind}>")



@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from mlflow.tracking import MlflowClient

    from steer.store import resolve_tracking_uri

    tmp = tmp_path_factory.mktemp("continuous")
    uri = resolve_tracking_uri(f"sqlite:///{tmp / 'runs' / 'mlflow.db'}", tmp / "runs")
    return {"tmp": tmp, "uri": uri, "client": MlflowClient(tracking_uri=uri)}


def _logged_run(store: dict[str, Any], config: ExperimentConfig, policy: str,
                seed: int) -> tuple[Any, str]:
    """What ``steer run`` does: live MLflow sink, journal first, then the summary."""
    from steer.tracking import MLflowSink

    sink = MLflowSink(store["uri"], config.name, f"{policy}-seed{seed}",
                      run_params(config, policy, seed),
                      presenter=presenter_for(config.env_id))
    result = play(config, policy, seed, store["tmp"] / "journals", extra_sinks=[sink],
                  run_id=sink.run_id)
    run_id = log_to_mlflow(store["uri"], config, policy, seed, result.episode.records,
                           result.episode.metrics, result.journal_path, sink=sink)
    return result, run_id


@pytest.mark.parametrize("kind,policy", CASES)
def test_episode_is_journaled_and_logged_to_mlflow(store: dict[str, Any], kind: str,
                                                   policy: str) -> None:
    config = _config(kind)
    result, run_id = _logged_run(store, config, policy, seed=3)
    records = result.episode.records
    assert [(r.step, r.status) for r in records] == [(k, "ok") for k in range(8)]
    assert [r.to_dict() for r in read_journal(result.journal_path)] == [
        r.to_dict() for r in records]
    for r in records:  # no clock: sim_mjd NaN, the time is elapsed_s in the observation
        assert math.isnan(r.sim_mjd) and r.observation["elapsed_s"] >= 0.0
        assert "x_unit" in r.proposal["action"] and r.measurement is not None
    assert [r.observation["elapsed_s"] for r in records] == sorted(
        r.observation["elapsed_s"] for r in records)
    objective = "fwhm_arcsec" if kind == "autofocus" else "value"
    assert [r.measurement[objective] for r in records] == pytest.approx(
        [-r.reward for r in records])

    client = store["client"]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params["policy"] == policy
    metrics = run.data.metrics
    assert metrics["decisions"] == 8
    history = client.get_metric_history(run_id, objective)
    assert len(history) == 8
    best = client.get_metric_history(run_id, f"best_{objective}")
    assert sorted(m.value for m in best)[0] == pytest.approx(min(m.value for m in history))
    plot = "focus" if kind == "autofocus" else "regret"
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert {f"plots/{plot}.png", "plots/decision_time.png"} <= plots
    if kind == "autofocus":
        assert metrics["exposures"] == 8
        assert metrics["best_fwhm_arcsec"] >= 0.8 * metrics["seeing_floor_arcsec"]
        assert 1 <= metrics["exposures_to_focus"] <= 9
        assert {"final_true_fwhm_arcsec", "final_focus_error_steps",
                "elapsed_s"} <= set(metrics)
    else:
        assert metrics["evaluations"] == 8
        assert 0.0 <= metrics["simple_regret"] <= metrics["incumbent_regret"]
        regret = client.get_metric_history(run_id, "simple_regret")
        values = [m.value for m in sorted(regret, key=lambda m: (m.step, m.timestamp))]
        assert values[-1] == pytest.approx(metrics["simple_regret"])
        assert values == sorted(values, reverse=True)  # best so far: never increases


def test_bo_continuous_replays_identically_from_the_logged_run(store: dict[str, Any]) -> None:
    from steer.runs import load_logged_run

    config = _config("autofocus")
    _, run_id = _logged_run(store, config, "bo-continuous", seed=5)
    logged = load_logged_run(run_id, store["uri"])
    assert logged.config_text == config.source_text
    replay = play(parse_experiment(logged.config_text, "<logged>"), logged.policy, logged.seed,
                  store["tmp"] / "replay")
    keys = [r.decision_key for r in replay.episode.records]
    assert keys == [r.decision_key for r in logged.records]
    assert len({k[3] for k in keys}) == len(keys)  # the points themselves are in the key
    other = play(config, "bo-continuous", 6, store["tmp"] / "replay")
    assert [r.decision_key for r in other.episode.records] != keys


@pytest.mark.parametrize("kind,policy,needle", [
    ("autofocus", "bo", "policy 'bo' drives catalog environments"),
    ("branin", "feature", "policy 'feature' drives catalog environments"),
])
def test_catalog_policy_on_a_continuous_env_is_a_config_error(kind: str, policy: str,
                                                              needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as err:
        check_policy_fits(_config(kind), policy)
    assert "bo-continuous" in (err.value.hint or "")


def test_continuous_policy_on_target_selection_is_a_config_error() -> None:
    from steer.envs.testing import tiny_config

    with pytest.raises(ConfigError, match="'sobol' drives point environments") as err:
        play(tiny_config(), "sobol", 0, Path("unused"))
    assert "feature" in (err.value.hint or "")
    check_policy_fits(tiny_config(), "feature")  # fits: no error


class OutOfBoxPolicy(BasePolicy):
    """Always proposes a point outside the unit box (refused by the env's check)."""

    name = "out-of-box"

    def _suggest(self, observation: Any, info: dict[str, Any], n: int) -> list[Proposal]:
        from steer.envs.hooks import PointAction

        self.asked = getattr(self, "asked", 0) + 1
        return [Proposal(PointAction((1.5, 0.5), (1.5, 0.5)), 0.0, {})]


def test_refused_points_are_asked_again_then_the_episode_ends() -> None:
    """A black box cannot wait: when every proposal is refused the episode ends."""
    env = make_env(_config("branin"))
    sink, policy = ListSink(), OutOfBoxPolicy()
    result = run_episode(env, policy, 0, [sink], "t", max_rejections_per_step=3)
    assert [(r.step, r.attempt, r.status) for r in sink.records] == [
        (0, 0, "rejected"), (0, 1, "rejected"), (0, 2, "rejected")]
    assert policy.asked == 3  # one point per suggest for a point env
    assert "outside the unit box" in sink.records[0].safety["reason"]
    assert result.metrics["evaluations"] == 0 and env.unwrapped.values == []


def test_failed_exposures_are_retried_then_forgotten_by_the_policy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from steer.envs.autofocus import AutofocusEnv
    from steer.policies import make_policy

    calls = {"n": 0}
    real_step = AutofocusEnv.step

    def flaky(self: AutofocusEnv, action: Any) -> Any:
        calls["n"] += 1
        if calls["n"] in (2, 4, 5, 6):  # exposure 2 fails once, exposure 3 for good
            raise InstrumentError("camera timed out")
        return real_step(self, action)

    monkeypatch.setattr(AutofocusEnv, "step", flaky)
    config = _config("autofocus", "\n[loop]\nmax_retries = 2\n")
    policy = make_policy("sobol")
    sink = ListSink()
    run_episode(make_env(config), policy, 0, [sink], "t", max_retries=config.max_retries)
    assert [(r.step, r.attempt, r.status) for r in sink.records] == [
        (0, 0, "ok"), (1, 0, "retried"), (1, 1, "ok"), (2, 0, "retried"), (2, 1, "retried"),
        (2, 2, "failed")]  # the focuser cannot wait for the camera: episode over
    assert policy.pending == []  # the failed point is no longer pending
    assert len(policy.X) == 2


def test_target_selection_retry_does_not_count_towards_max_steps(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An attempt that failed in the instrument is no step: max_steps counts real steps."""
    from steer.envs.testing import tiny_config
    from steer.instruments.sim import SimulatedObservatory

    calls = {"n": 0}
    real_execute = SimulatedObservatory.execute

    def flaky(self: SimulatedObservatory, action: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise InstrumentError("dome controller timed out")
        return real_execute(self, action)

    monkeypatch.setattr(SimulatedObservatory, "execute", flaky)
    config = tiny_config("max_steps = 5\n\n[loop]\nmax_retries = 1\n")
    assert config.max_retries == 1
    result = play(config, "feature", 1, tmp_path)
    statuses = [(r.step, r.attempt, r.status) for r in result.episode.records]
    assert statuses == [(0, 0, "ok"), (1, 0, "retried"), (1, 1, "ok"), (2, 0, "ok"),
                        (3, 0, "ok"), (4, 0, "ok")]
    assert result.episode.metrics["visits"] == 5


def test_max_retries_comes_from_the_experiment(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    from steer.envs.testing import tiny_config
    from steer.instruments.sim import SimulatedObservatory

    def broken(self: SimulatedObservatory, action: Any) -> Any:
        raise InstrumentError("mount offline")

    monkeypatch.setattr(SimulatedObservatory, "execute", broken)
    config = tiny_config("\n[loop]\nmax_retries = 0\nmax_decisions = 2\n")
    result = play(config, "feature", 1, tmp_path)
    assert [(r.step, r.attempt, r.status) for r in result.episode.records] == [
        (0, 0, "failed"), (1, 0, "failed")]


@pytest.mark.parametrize("loop,needle", [
    ("max_retries = -1", "loop.max_retries = -1 is below 0"),
    ("max_retries = 'two'", "loop.max_retries = 'two' is not a int"),
    ("max_rejections_per_step = 0", "loop.max_rejections_per_step = 0 is below 1"),
    ("max_retry = 3", "unknown [loop] setting(s) ['max_retry']"),
])
def test_loop_settings_are_validated(loop: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_experiment(AUTOFOCUS + f"\n[loop]\n{loop}\n", "bad.toml")
    assert needle in str(err.value) and "bad.toml" in str(err.value)


def test_shipped_experiments_fit_their_default_policies() -> None:
    from steer.config import load_experiment

    for name in ("autofocus", "branin"):
        config = load_experiment(ROOT / "experiments" / f"{name}.toml")
        check_policy_fits(config, config.policy)
        assert (config.max_retries, config.max_rejections_per_step) == (2, 3)
        env = make_env(config)
        base = env.unwrapped
        assert base.presenter.kind == "point" and base.presenter.idle_s is None
        env.reset(seed=0)
        assert base.progress_fraction() == 0.0 and not base.is_over()
        env.close()


def _steer(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
           "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, "-m", "steer.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_cli_run_autofocus_and_replay(tmp_path: Path) -> None:
    experiment = str(ROOT / "experiments" / "autofocus.toml")
    out = _steer("run", experiment, "--policy", "vcurve", "--seed", "2", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    for needle in ("autofocus: policy vcurve, seed 2", "best FWHM measured (arcsec)",
                   "exposures to focus (truth)", "ms per decision p50 / p95"):
        assert needle in out.stdout, out.stdout
    assert "science score" not in out.stdout
    run_id = out.stdout.split("MLflow run id: ")[1].split()[0]
    same = _steer("replay", run_id, cwd=tmp_path)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "all 20 decisions identical (policy vcurve, seed 2)" in same.stdout
    diff = _steer("replay", run_id, "--seed", "3", cwd=tmp_path)
    assert diff.returncode == 1 and "differs at decision" in diff.stdout
    assert "x = [" in diff.stdout


@pytest.mark.parametrize("args,needle", [
    (["run", "experiments/autofocus.toml", "--policy", "bo"],
     "policy 'bo' drives catalog environments, but steer/Autofocus-v0 is a point environment"),
    (["compare", "experiments/demo.toml", "--policies", "feature,sobol"],
     "policy 'sobol' drives point environments, but steer/TargetSelection-v0"),
])
def test_cli_policy_that_does_not_fit_is_one_clear_line(args: list[str], needle: str) -> None:
    proc = _steer(*args, "--runs-dir", "/nonexistent/never-created", cwd=ROOT)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("steer: error:") and needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not Path("/nonexistent/never-created").exists()


def test_point_env_measurement_and_summary_hooks() -> None:
    env = make_env(_config("autofocus"))
    base = env.unwrapped
    obs, info = env.reset(seed=1)
    summary = base.record_summary(obs, info)
    assert summary["elapsed_s"] == 0.0 and "mjd" not in summary
    assert set(summary) >= {"position_unit", "best_measured_fwhm_arcsec", "exposures_used"}
    action = base.env_action(np.array([0.5]))
    base.check_action(action)
    obs, reward, _, _, info = env.step(action)
    m = base.measurement_of(info)
    assert m["fwhm_arcsec"] == -reward and m["best_fwhm_arcsec"] == -reward
    assert m["objective_name"] == "fwhm_arcsec" and "history" not in m
    assert base.progress_fraction() == pytest.approx(1 / 8)
    assert base.measurement_of({"elapsed_s": 0.0}) is None


def test_point_figures_without_executed_evaluations() -> None:
    from steer.plots import episode_figures
    from steer.session import presenter_for

    env = make_env(_config("branin"))
    sink = ListSink()
    run_episode(env, OutOfBoxPolicy(), 0, [sink], "t", max_rejections_per_step=2)
    presenter = presenter_for("steer/BlackBox-v0")
    figs = episode_figures(sink.records, presenter, title="refused")
    assert set(figs) == {"objective", "decision_time"}
    texts = [t.get_text() for ax in figs["objective"].axes for t in ax.texts]
    assert "no executed evaluations" in texts
    # no decision at all: still the environment's own figures (with notes), never a night's
    assert set(episode_figures([], presenter)) == {"objective", "decision_time"}
    assert set(episode_figures([], presenter_for("steer/CandidatePool-v0"))) == {
        "objective", "decision_time"}


@pytest.mark.slow
@pytest.mark.skipif(__import__("shutil").which("indiserver") is None,
                    reason="indiserver not installed (apt-get install -y indi-bin)")
def test_vcurve_closed_loop_on_the_indi_focuser(tmp_path: Path) -> None:
    """The same loop drives the INDI focuser + CCD simulators (real frames, real FWHM)."""
    from steer.envs.indi_autofocus import IndiAutofocusEnv
    from steer.instruments.indi.focus import IndiFocusCamera
    from steer.policies import make_policy

    cam = IndiFocusCamera(start_server=True, run_dir=str(tmp_path / "srv"), timeout_s=8.0)
    env = IndiAutofocusEnv(camera=cam, max_exposures=5)
    sink = ListSink()
    try:
        result = run_episode(env, make_policy("vcurve", n_points=4), 1, [sink], "indi")
    finally:
        cam.close()
    assert [(r.step, r.status) for r in sink.records] == [(k, "ok") for k in range(5)]
    fwhm = [r.measurement["fwhm_arcsec"] for r in sink.records]
    assert result.metrics["best_fwhm_arcsec"] == min(fwhm) and result.metrics["exposures"] == 5
    assert "exposures_to_focus" not in result.metrics  # no truth on hardware
    assert all(r.measurement["n_stars"] >= 1 for r in sink.records)
