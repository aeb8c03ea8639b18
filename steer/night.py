"""One logged night from the command line: start it, or resume it after a crash.

A night started by ``steer run`` saves, before its first decision, what it
needs to be continued: the experiment file and the run's metadata (policy,
seed) beside the journal (``runs/journals/<run id>.config.toml`` and
``.meta.json``), and the config in MLflow. The journal and the MLflow run
share one id. ``steer run EXPERIMENT --resume RUN_ID`` reads them back, marks
the run resumed, replays the journal through the loop (decisions checked,
measurements taken from the journal, nothing observed again) and goes on
under the same id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steer.config import ExperimentConfig, parse_experiment
from steer.errors import ConfigError, TrackingError
from steer.operator import night_process
from steer.records import DecisionRecord, read_journal
from steer.runs import local_run_files, mark_dead_runs
from steer.session import (
    PlayResult,
    build_policy,
    log_to_mlflow,
    make_env,
    play,
    presenter_for,
    run_params,
)

__all__ = ["NightOutcome", "start_night", "resume_state", "ResumeState"]


@dataclass
class ResumeState:
    """What an interrupted night left behind.

    Attributes:
        run_id: The run (journal and MLflow) id.
        config: The experiment as it was when the night started.
        policy: Policy id.
        seed: Night seed.
        records: The journaled decisions.
    """

    run_id: str
    config: ExperimentConfig
    policy: str
    seed: int
    records: list[DecisionRecord]


@dataclass
class NightOutcome:
    """A finished (or stopped) night: the play result and its MLflow run id."""

    result: PlayResult
    run_id: str
    resumed_from: int = 0


def resume_state(runs_dir: Path, run_id: str, experiment_text: str | None = None) -> ResumeState:
    """Read an interrupted night back from the run folder.

    Args:
        runs_dir: The run folder the night wrote to.
        run_id: The run id ``steer run`` printed.
        experiment_text: The experiment file named on the command line; it must
            be the one the night started with.

    Raises:
        TrackingError: no such run in the run folder.
        ConfigError: the experiment file differs from the night's.
    """
    files = local_run_files(runs_dir, run_id)
    missing = [p for p in files.values() if not p.is_file()]
    if missing:
        raise TrackingError(f"run {run_id!r} cannot be resumed from {str(runs_dir)!r}: no "
                            f"{missing[0].name}",
                            "pass the --runs-dir the night ran with; list runs with steer runs")
    saved = files["config"].read_text(encoding="utf-8")
    if experiment_text is not None and experiment_text != saved:
        raise ConfigError(f"the experiment file differs from the one run {run_id} started with",
                          f"resume with the original file (saved as {files['config']})")
    meta = json.loads(files["meta"].read_text(encoding="utf-8"))
    config = parse_experiment(saved, str(meta.get("config_path", files["config"])))
    return ResumeState(run_id, config, str(meta["policy"]), int(meta["seed"]),
                       list(read_journal(files["journal"])))


def _save_start(runs_dir: Path, run_id: str, config: ExperimentConfig, policy: str,
                seed: int) -> dict[str, Path]:
    """Write the config and metadata beside the journal, before the first decision."""
    files = local_run_files(runs_dir, run_id)
    files["config"].parent.mkdir(parents=True, exist_ok=True)
    files["config"].write_text(config.source_text, encoding="utf-8")
    files["meta"].write_text(json.dumps({
        "run_id": run_id, "policy": policy, "seed": seed, "experiment": config.name,
        "env_id": config.env_id, "config_path": config.source_path,
        "started_unix": time.time()}, indent=1), encoding="utf-8")
    return files


def start_night(config: ExperimentConfig, policy_name: str, seed: int, runs_dir: Path,
                tracking_uri: str, env: Any, policy: Any,
                progress: Callable[[float], None] | None = None,
                callbacks: Sequence[Any] = (), resume: ResumeState | None = None,
                announce: Callable[[str, Path], None] | None = None) -> NightOutcome:
    """Run (or resume) one night, journaled first and logged live to MLflow.

    Args:
        config: The experiment.
        policy_name: Policy id.
        seed: Night seed.
        runs_dir: The run folder (journals, the default store).
        tracking_uri: The MLflow store.
        env: The environment, built (bad settings already refused).
        policy: The policy, built.
        progress: Called with the fraction of the night done.
        callbacks: Loop lifecycle hooks.
        resume: An interrupted night to continue (:func:`resume_state`).
        announce: Called with the run id and the journal path before the
            first decision.

    Returns:
        The :class:`NightOutcome`.
    """
    from steer.tracking import MLflowSink

    presenter = presenter_for(config.env_id)
    if resume is not None:
        mark_dead_runs(tracking_uri)
        sink = MLflowSink(tracking_uri, config.name, f"{policy_name}-seed{seed}", {},
                          presenter=presenter, resume_run_id=resume.run_id)
        for rec in resume.records:  # idempotent: MLflow keeps one point per (key, step, time)
            sink.write(rec)
        files = local_run_files(runs_dir, resume.run_id)
    else:
        sink = MLflowSink(tracking_uri, config.name, f"{policy_name}-seed{seed}",
                          run_params(config, policy_name, seed),
                          tags={"steer.policy": policy_name, "steer.seed": str(seed)},
                          presenter=presenter)
        files = _save_start(runs_dir, sink.run_id, config, policy_name, seed)
    try:
        sink.log_artifact("config.toml", files["config"])
        with night_process(runs_dir, sink.run_id):  # operator commands reach it meanwhile
            if announce is not None:
                announce(sink.run_id, files["journal"])
            result = play(config, policy_name, seed, runs_dir / "journals", extra_sinks=[sink],
                          run_id=sink.run_id, progress=progress, env=env, policy=policy,
                          callbacks=callbacks, resume=resume.records if resume else ())
    except BaseException:
        sink.close()
        raise
    run_id = log_to_mlflow(tracking_uri, config, policy_name, seed, result.episode.records,
                           result.episode.metrics, result.journal_path, sink=sink,
                           extras=result.extras)
    return NightOutcome(result, run_id, len(resume.records) if resume else 0)


def build(config: ExperimentConfig, policy_name: str) -> tuple[Any, Any]:
    """Build the environment and the policy (bad settings fail here, nothing written)."""
    env = make_env(config)
    try:
        return env, build_policy(config, policy_name)
    except BaseException:
        env.close()
        raise
