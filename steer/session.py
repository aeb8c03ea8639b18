"""Run one configured episode: build env and policy, journal it, log it to MLflow.

This is the glue between the small core (:mod:`steer.loop`) and the edges
(MLflow in :mod:`steer.tracking`, Ray in :mod:`steer.runner`). It reads
what it needs about an environment from its class (the presenter, its
constructor's arguments) through the Gymnasium registry, without building it.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steer.config import ExperimentConfig
from steer.errors import ConfigError, RegistryError, SteerError
from steer.loop import EpisodeResult, run_episode
from steer.presenter import Presenter
from steer.records import DecisionRecord, Journal, json_safe

__all__ = ["make_env", "play", "log_to_mlflow", "render_episode", "PlayResult", "run_params", "set_threads",
           "check_policy_fits", "presenter_for", "env_class", "validate_experiment",
           "build_policy"]

log = logging.getLogger(__name__)


def set_threads(n: int = 1) -> None:
    """Pin torch to ``n`` threads (2 cores: oversubscription costs 10x)."""
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:  # torch is only needed by the BoTorch policies
        pass


def _registered(env_id: str) -> Any:
    """The Gymnasium spec of ``env_id`` (``module:Name-v0`` imports ``module`` first).

    Raises:
        RegistryError: unknown environment id.
    """
    import gymnasium

    import steer.envs  # noqa: F401  (registers the built-in ids)

    module, _, name = env_id.rpartition(":")
    if module:
        import importlib

        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise RegistryError(f"cannot import {module!r} for environment {env_id!r}: {exc}",
                                "check the module path in experiment.env") from exc
    spec = gymnasium.registry.get(name)
    if spec is None:
        known = sorted(k for k in gymnasium.registry if k.startswith("steer/"))
        raise RegistryError(f"unknown environment {env_id!r}",
                            f"set experiment.env to one of {', '.join(known)}")
    return spec


def env_class(env_id: str) -> type | None:
    """The class of a registered environment, loaded without building it."""
    from gymnasium.envs.registration import load_env_creator

    spec = _registered(env_id)
    entry = spec.entry_point
    creator = load_env_creator(entry) if isinstance(entry, str) else entry
    return creator if isinstance(creator, type) else None


def presenter_for(env_id: str) -> Presenter:
    """How the environment ``env_id`` describes itself (its class's ``presenter``)."""
    cls = env_class(env_id)
    presenter = getattr(cls, "presenter", None)
    return presenter if isinstance(presenter, Presenter) else Presenter()


def make_env(config: ExperimentConfig) -> Any:
    """Build the experiment's environment by id.

    Raises:
        RegistryError: unknown environment id.
        ConfigError: environment arguments it does not accept.
    """
    import gymnasium

    spec = _registered(config.env_id)
    try:
        return gymnasium.make(spec.id, **config.env_kwargs)
    except TypeError as exc:
        raise ConfigError(f"{config.source_path}: bad [env] setting: {exc}",
                          "check the names in the [env] section") from exc


def _unknown_keys(given: Sequence[str], cls: Any, where: str, path: str) -> None:
    """Refuse keyword arguments that ``cls.__init__`` does not take (none with ``**``)."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
             and n not in ("self", "render_mode")]
    for key in given:
        if key not in valid:
            raise ConfigError(f"{path}: unknown setting {key!r} in {where}",
                              f"valid settings: {', '.join(valid) or 'none'}")


def check_policy_fits(config: ExperimentConfig, policy: str) -> None:
    """Refuse a policy that cannot act on the experiment's environment.

    Raises:
        ConfigError: the policy does not drive the environment's kind of actions.
    """
    from steer.policies import POLICIES, policies_for, policy_class

    if policy not in POLICIES:
        return  # unknown ids are reported by make_policy
    kind = presenter_for(config.env_id).kind
    drives = tuple(getattr(policy_class(policy), "drives", ()))
    if kind not in drives:
        fits = policies_for(kind)
        raise ConfigError(f"policy {policy!r} drives {'/'.join(drives) or 'no'} environments, "
                          f"but {config.env_id} is a {kind} environment",
                          f"use one of {', '.join(fits) or '(none registered)'}")


def validate_experiment(config: ExperimentConfig, policies: Sequence[str]) -> None:
    """Check everything that can be checked before anything is written.

    The environment id, every ``[env]`` key, every ``[policy.NAME]`` section
    and its keys (those of policies not run too: a typo there would surface
    only on the night that runs it), and that each policy to run drives the
    environment.

    Raises:
        RegistryError: unknown environment or policy.
        ConfigError: an unknown key, or a policy that does not fit.
    """
    from steer.policies import POLICIES, policy_class

    path = config.source_path
    cls = env_class(config.env_id)
    if cls is not None:
        _unknown_keys(list(config.env_kwargs), cls, "[env]", path)
    run = [*policies, *([config.fallback_policy] if config.fallback_policy else [])]
    for name in dict.fromkeys([*run, *config.policy_kwargs]):
        if name not in POLICIES:
            what = f"unknown policy {name!r}" if name in run else \
                f"{path}: [policy.{name}] names no policy"
            raise RegistryError(what, f"choose from {', '.join(POLICIES)}")
        _unknown_keys(list(config.policy_params(name)), policy_class(name),
                      f"[policy.{name}]", path)
        if name in run:
            check_policy_fits(config, name)


def build_policy(config: ExperimentConfig, policy_name: str) -> Any:
    """The policy ``policy_name`` with the experiment's ``[policy.NAME]`` settings.

    With ``[loop] suggest_timeout_s`` it is wrapped in a
    :class:`steer.fallback.TimedPolicy` with the ``fallback_policy``.
    """
    from steer.policies import make_policy

    policy = make_policy(policy_name, **config.policy_params(policy_name))
    if config.suggest_timeout_s > 0:
        from steer.fallback import TimedPolicy

        fallback = make_policy(config.fallback_policy,
                               **config.policy_params(config.fallback_policy))
        policy = TimedPolicy(policy, fallback, config.suggest_timeout_s)
    return policy


def run_params(config: ExperimentConfig, policy: str, seed: int) -> dict[str, Any]:
    """The parameters logged with every run (enough to replay it)."""
    return {"experiment": config.name, "env_id": config.env_id, "policy": policy, "seed": seed,
            "env": config.env_kwargs, "policy_params": config.policy_params(policy),
            "max_decisions": config.max_decisions, "max_retries": config.max_retries,
            "config_path": config.source_path}


@dataclass
class PlayResult:
    """One episode's outcome plus where it was journaled.

    Attributes:
        episode: The loop's result (records, metrics).
        journal_path: The decision journal.
        local_id: The id written into the records.
        extras: What the environment adds for reports after the episode
            (its optional ``episode_extras()``: JSON-able, e.g. the hidden
            truth of the most observed targets in simulation); ``{}`` if none.
    """

    episode: EpisodeResult
    journal_path: Path
    local_id: str
    extras: dict[str, Any] = field(default_factory=dict)


def play(config: ExperimentConfig, policy_name: str, seed: int, journal_dir: Path,
         extra_sinks: list[Any] | None = None, run_id: str | None = None,
         progress: Callable[[float], None] | None = None, env: Any = None,
         policy: Any = None, callbacks: Sequence[Any] = (),
         resume: Sequence[DecisionRecord] = (),
         recorded: Sequence[DecisionRecord] = (),
         reset_options: dict[str, Any] | None = None, keep_env: bool = False) -> PlayResult:
    """Run one closed-loop episode, journaling every decision first.

    Args:
        config: The experiment.
        policy_name: Registered policy id.
        seed: Episode seed.
        journal_dir: Folder for the decision journal.
        extra_sinks: Sinks after the journal (e.g. a live MLflow sink).
        run_id: Identifier to write into records (a fresh one if ``None``).
        progress: Called with the fraction of the episode done.
        env: A prebuilt environment for ``config`` (built here if ``None``).
        policy: A prebuilt policy (built here if ``None``).
        callbacks: Loop lifecycle hooks (:class:`steer.callbacks.LoopCallback`).
        resume: Journaled records of this night to replay first (the journal
            file is appended to, not rewritten).
        recorded: A logged run's records whose operator decisions and targets
            of opportunity a replay honours (:func:`steer.loop.run_episode`).
        reset_options: The environment's reset options (a campaign night's).
        keep_env: Leave the environment open (a campaign's next night follows).

    Raises:
        ConfigError: the policy does not fit the environment, or bad settings.
    """
    try:
        check_policy_fits(config, policy_name)
        policy = policy if policy is not None else build_policy(config, policy_name)
    except SteerError:
        if env is not None:
            env.close()
        raise
    env = env if env is not None else make_env(config)
    local_id = run_id or uuid.uuid4().hex
    journal_path = Path(journal_dir) / f"{local_id}.jsonl"
    journal = Journal(journal_path)
    sinks = [journal, *(extra_sinks or [])]
    try:
        episode = run_episode(env, policy, seed, sinks, local_id,
                              max_decisions=config.max_decisions,
                              max_rejections_per_step=config.max_rejections_per_step,
                              max_retries=config.max_retries, progress=progress,
                              callbacks=callbacks, resume=resume, recorded=recorded,
                              failure_budget_s=config.failure_budget_s,
                              reset_options=reset_options)
        extras_of = getattr(env.unwrapped, "episode_extras", None)
        extras = dict(extras_of()) if callable(extras_of) else {}
    finally:
        journal.close()
        if not keep_env:
            env.close()
    return PlayResult(episode, journal_path, local_id, extras)


def render_episode(config: ExperimentConfig, policy: str, seed: int,
                   records: list[DecisionRecord], metrics: dict[str, float],
                   extras: dict[str, Any] | None, run_id: str) -> dict[str, Any]:
    """The episode's report page and figures, rendered (the expensive, parallel part).

    ``steer compare`` calls it in the Ray worker, so that the driver, which
    alone writes the store, only writes.

    Returns:
        ``{"report_html": str | None, "figures_png": {name: PNG bytes}}``.
    """
    import io

    import matplotlib.pyplot as plt

    from steer.plots import episode_figures

    presenter = presenter_for(config.env_id)
    title = f"{config.name}: {policy}, seed {seed}"
    html = None
    try:  # the interactive report (steer.report); a broken figure must not lose the run
        from steer.report import run_report

        html = run_report(records, presenter, extras or {}, title=title, metrics=metrics,
                          params={**run_params(config, policy, seed), "run_id": run_id})
    except Exception as exc:  # noqa: BLE001
        log.warning("no report.html for run %s: %s", run_id, exc)
    pngs = {}
    for name, fig in episode_figures(records, presenter, title=title).items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        plt.close(fig)
        pngs[name] = buf.getvalue()
    return {"report_html": html, "figures_png": pngs}


def log_to_mlflow(tracking_uri: str, config: ExperimentConfig, policy: str, seed: int,
                  records: list[DecisionRecord], metrics: dict[str, float],
                  journal_path: Path, sink: Any = None,
                  extras: dict[str, Any] | None = None,
                  rendered: dict[str, Any] | None = None, table: Any = None) -> str:
    """Log a finished episode to MLflow (summary, config, journal, table, plots, report).

    Args:
        sink: An already-open :class:`steer.tracking.MLflowSink` that saw the
            records live; ``None`` opens one and writes the records now.
        extras: The environment's :attr:`PlayResult.extras`, logged as
            ``extras.json`` when not empty.
        rendered: What :func:`render_episode` made elsewhere (a Ray worker);
            rendered here when ``None``.
        table: The decision table made elsewhere (:func:`steer.table.decision_table`);
            made here from ``records`` when ``None``.

    The interactive HTML report (:func:`steer.report.run_report`) is logged as
    ``report.html`` and the figures as ``plots/<name>.png`` (written beside
    the journal first).

    Returns:
        The MLflow run id.
    """
    from steer.tracking import MLflowSink

    presenter = presenter_for(config.env_id)
    if sink is None:
        sink = MLflowSink(tracking_uri, config.name, f"{policy}-seed{seed}",
                          run_params(config, policy, seed),
                          tags={"steer.policy": policy, "steer.seed": str(seed)},
                          presenter=presenter)
        for rec in records:
            sink.write(rec)
    if rendered is None:
        rendered = render_episode(config, policy, seed, records, metrics, extras, sink.run_id)
    config_file = journal_path.with_suffix(".config.toml")
    config_file.write_text(config.source_text, encoding="utf-8")
    artifacts: dict[str, Path] = {"config.toml": config_file, "decisions.jsonl": journal_path}
    if extras:
        extras_file = journal_path.with_suffix(".extras.json")
        extras_file.write_text(json.dumps(json_safe(extras), allow_nan=False), encoding="utf-8")
        artifacts["extras.json"] = extras_file
    if rendered.get("report_html") is not None:
        from steer.report import write_report

        artifacts["report.html"] = write_report(journal_path.with_suffix(".report.html"),
                                                rendered["report_html"])
    with tempfile.TemporaryDirectory(prefix="steer-plots-") as tmp:
        for name, png in rendered.get("figures_png", {}).items():
            path = Path(tmp) / f"{name}.png"
            path.write_bytes(png)
            artifacts[f"plots/{name}.png"] = path
        try:
            sink.finish(metrics, artifacts=artifacts, records=records, table=table)
        except SteerError:
            sink.close()
            raise
    return sink.run_id
