"""Policy search: a policy's numeric settings tuned by ``bo-continuous`` over nights, on Ray.

A policy that can be tuned says so itself: a class attribute ``tunable``
mapping each setting to its ``(low, high)`` range. :func:`tune` asks steer's
own BoTorch optimiser (:class:`steer.policies.bo_continuous.BOContinuousPolicy`,
the same ask/tell policy that drives ``steer/BlackBox-v0``) for ``q``
settings at a time, runs each of them on the tuning nights as Ray tasks (one
CPU, one torch thread each), and tells it the mean of the chosen metric. The
policy's defaults are measured first and given to the optimiser as data.

The best settings found and the defaults are then run on held-out nights the
search never saw, seed by seed: that comparison, not the tuning score, says
whether tuning helped.
"""

from __future__ import annotations

import dataclasses
import inspect
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from steer.config import ExperimentConfig, parse_experiment
from steer.errors import ConfigError, SteerError

__all__ = ["tunable_settings", "tune", "snippet"]


def tunable_settings(policy: str) -> dict[str, tuple[float, float]]:
    """The settings a policy declares tunable, with their ranges.

    Raises:
        ConfigError: the policy declares none.
    """
    from steer.policies import policy_class, policy_names

    space = dict(getattr(policy_class(policy), "tunable", {}) or {})
    if not space:
        tunable = [p for p in policy_names() if getattr(policy_class(p), "tunable", None)]
        raise ConfigError(f"policy {policy!r} declares no tunable settings",
                          f"tune one of {', '.join(tunable) or '(none)'}")
    return {k: (float(lo), float(hi)) for k, (lo, hi) in space.items()}


def _night(config_text: str, source_path: str, policy: str, params: dict[str, float],
           seed: int) -> dict[str, float]:
    """One night of ``policy`` with ``params`` (a Ray task): its metrics."""
    from steer.session import play, set_threads

    set_threads(1)
    config = parse_experiment(config_text, source_path)
    kwargs = {**config.policy_kwargs, policy: {**config.policy_params(policy), **params}}
    config = dataclasses.replace(config, policy_kwargs=kwargs)
    with tempfile.TemporaryDirectory(prefix="steer-tune-") as tmp:
        result = play(config, policy, seed, Path(tmp))
    return {k: float(v) for k, v in result.episode.metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def snippet(policy: str, params: dict[str, float], note: str) -> str:
    """The TOML section that sets ``params`` for ``policy``."""
    lines = [f"# {note}", f"[policy.{policy}]"]
    lines += [f"{k} = {float(v):.6g}" for k, v in params.items()]
    return "\n".join(lines) + "\n"


def tune(config: ExperimentConfig, policy: str, trials: int, tune_seeds: list[int],
         holdout_seeds: list[int], metric: str, q: int = 2, address: str | None = None,
         on_trial: Callable[[dict[str, Any]], None] | None = None, seed: int = 0
         ) -> dict[str, Any]:
    """Tune ``policy``'s declared settings for ``metric`` (higher is better).

    Args:
        config: The experiment.
        policy: A policy with ``tunable`` settings.
        trials: Settings to try after the defaults.
        tune_seeds: Nights each trial is scored on (the mean of ``metric``).
        holdout_seeds: Nights the best settings and the defaults are compared on.
        metric: An episode metric to maximise (e.g. ``science_score``).
        q: Settings asked for at a time (run side by side).
        address: An existing Ray cluster (default: the embedded local Ray).
        on_trial: Called with each finished trial.
        seed: Seeds the optimiser's Sobol design.

    Returns:
        ``{"space", "trials": [{"trial", "params", "objective", "per_seed"}], "best",
        "defaults", "holdout": {"default": {seed: metrics}, "tuned": {...}}}``.
    """
    from gymnasium import spaces

    from steer.envs.context import BoxContext
    from steer.policies import policy_class
    from steer.policies.bo_continuous import BOContinuousPolicy
    from steer.ray_setup import init_ray, shutdown_ray

    space = tunable_settings(policy)
    names = list(space)
    low = np.array([space[k][0] for k in names])
    high = np.array([space[k][1] for k in names])
    sig = inspect.signature(policy_class(policy)).parameters
    defaults = {k: float(config.policy_params(policy).get(k, sig[k].default)) for k in names}
    box = spaces.Box(low, high, dtype=np.float64)
    opt = BOContinuousPolicy()
    opt.reset(BoxContext(kind="point", action_space=box, observation_space=None, low=low,
                         high=high, observation_names=(), objective_name=metric), seed)
    ray = init_ray(address)
    night = ray.remote(num_cpus=1, max_retries=2)(_night)
    text, path = config.source_text, config.source_path

    def run(params_list: list[dict[str, float]], seeds: list[int]) -> list[dict[int, dict]]:
        refs = [[night.remote(text, path, policy, p, s) for s in seeds] for p in params_list]
        try:
            return [dict(zip(seeds, ray.get(r), strict=True)) for r in refs]
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            raise (cause if isinstance(cause, SteerError) else exc) from None

    def score(per_seed: dict[int, dict]) -> float:
        vals = [m.get(metric, np.nan) for m in per_seed.values()]
        if not all(np.isfinite(vals)):
            raise ConfigError(f"metric {metric!r} is not reported by these nights",
                              f"use one of {', '.join(sorted(next(iter(per_seed.values()))))}")
        return float(np.mean(vals))

    history: list[dict[str, Any]] = []
    try:
        first = run([defaults], tune_seeds)[0]
        history.append({"trial": 0, "params": defaults, "objective": score(first),
                        "per_seed": first, "source": "defaults"})
        opt.ingest(np.array([defaults[k] for k in names]), {}, history[0]["objective"])
        if on_trial:
            on_trial(history[0])
        while len(history) <= trials:
            k = min(q, trials + 1 - len(history))
            props = opt.suggest({}, {}, k)
            params = [{n: float(v) for n, v in zip(names, p.action.x, strict=True)}
                      for p in props]
            for p, prop, per_seed in zip(params, props, run(params, tune_seeds), strict=True):
                trial = {"trial": len(history), "params": p, "objective": score(per_seed),
                         "per_seed": per_seed, "source": prop.explanation.get("phase", "bo")}
                opt.ingest(prop.action, {}, trial["objective"])
                history.append(trial)
                if on_trial:
                    on_trial(trial)
        best = max(history, key=lambda t: t["objective"])
        default_h, tuned_h = run([defaults, best["params"]], holdout_seeds)
    finally:
        shutdown_ray(ray)
    return {"space": space, "metric": metric, "tune_seeds": tune_seeds,
            "holdout_seeds": holdout_seeds, "trials": history, "best": best,
            "defaults": defaults, "holdout": {"default": default_h, "tuned": tuned_h}}
