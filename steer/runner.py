"""Policy comparison on Ray: every policy on the same seeded nights, in parallel.

An embedded local Ray (one CPU per episode, one torch thread per worker) by
default; ``address`` joins an existing Ray cluster. Episodes journal their
decisions where they run; the driver logs each finished episode to MLflow, so
only one process writes the tracking store.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from steer.config import ExperimentConfig, parse_experiment
from steer.errors import SteerError
from steer.records import DecisionRecord
from steer.stats import mean_ci95, paired_diff_ci95

__all__ = ["compare", "TABLE_METRICS", "format_table"]

log = logging.getLogger(__name__)

#: Rows of the comparison table, each shown when the episodes report it: target
#: selection, then autofocus, then black-box metrics, then compute.
TABLE_METRICS = (
    "science_score", "lc_rmse_mag", "frac_characterised", "open_shutter_fraction", "visits",
    "slew_median_s", "slew_p95_s", "airmass_median",
    "best_fwhm_arcsec", "final_true_fwhm_arcsec", "exposures_to_focus",
    "in_focus_after_fraction", "final_focus_error_steps",
    "best_value", "simple_regret", "incumbent_regret", "elapsed_s",
    "decision_ms_p50", "decision_ms_p95", "wall_s",
)


def _episode(config_text: str, source_path: str, policy: str, seed: int,
             journal_dir: str) -> dict[str, Any]:
    """Run one episode in a worker; return metrics and records (JSON-able)."""
    from steer.session import play, set_threads

    set_threads(1)
    config = parse_experiment(config_text, source_path)
    result = play(config, policy, seed, Path(journal_dir))
    return {"policy": policy, "seed": seed, "metrics": result.episode.metrics,
            "records": [r.to_dict() for r in result.episode.records],
            "journal": str(result.journal_path)}


def _init_ray(address: str | None) -> Any:
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    env_vars = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0",
                "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    kwargs: dict[str, Any] = {"runtime_env": {"env_vars": env_vars}, "log_to_driver": False,
                              "configure_logging": False}
    if address:
        kwargs["address"] = address
    else:
        kwargs.update(num_cpus=os.cpu_count() or 2, include_dashboard=False,
                      _temp_dir=tempfile.mkdtemp(prefix="steer-ray-"))
    try:
        ray.init(**kwargs)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise SteerError(f"cannot start or join Ray (address={address!r}): {exc}",
                         "omit --address for a local Ray, or pass a running cluster's "
                         "address such as ray://HOST:10001") from exc
    return ray


def compare(config: ExperimentConfig, policies: list[str], seeds: list[int], runs_dir: Path,
            tracking_uri: str, address: str | None = None, progress: Any = None
            ) -> dict[str, Any]:
    """Run every policy on every seed, log each episode to MLflow, summarise.

    Returns:
        ``{"policies", "seeds", "metrics": {policy: {metric: {mean, low, high,
        values}}}, "paired": {policy: {metric: {mean, low, high}}},
        "run_ids": {policy: [run ids]}}``. Paired differences are against the
        first policy, seed by seed.
    """
    from steer.session import log_to_mlflow

    journal_dir = runs_dir / "journals"
    journal_dir.mkdir(parents=True, exist_ok=True)
    ray = _init_ray(address)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(_episode)
        pending = [task.remote(config.source_text, config.source_path, p, s, str(journal_dir))
                   for p in policies for s in seeds]
        results: dict[tuple[str, int], dict[str, Any]] = {}
        run_ids: dict[str, list[str]] = {p: [] for p in policies}
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                out = ray.get(done[0])
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if isinstance(getattr(exc, "cause", None), SteerError) else None
                if cause is not None:
                    raise cause from None
                raise
            records = [DecisionRecord.from_dict(r) for r in out["records"]]
            run_id = log_to_mlflow(tracking_uri, config, out["policy"], out["seed"], records,
                                   out["metrics"], Path(out["journal"]))
            run_ids[out["policy"]].append(run_id)
            results[(out["policy"], out["seed"])] = out["metrics"]
            if progress is not None:
                progress(out)
    finally:
        ray.shutdown()
    return summarise(results, policies, seeds, run_ids)


def summarise(results: dict[tuple[str, int], dict[str, float]], policies: list[str],
              seeds: list[int], run_ids: dict[str, list[str]]) -> dict[str, Any]:
    """Means, 95% intervals and paired differences against the first policy."""
    metrics = sorted({k for m in results.values() for k in m})
    table: dict[str, dict[str, Any]] = {}
    paired: dict[str, dict[str, Any]] = {}
    for p in policies:
        table[p] = {}
        for k in metrics:
            vals = [results[(p, s)].get(k, np.nan) for s in seeds]
            m, lo, hi = mean_ci95(vals)
            table[p][k] = {"mean": m, "low": lo, "high": hi, "values": vals}
        if p != policies[0]:
            paired[p] = {}
            for k in metrics:
                m, lo, hi = paired_diff_ci95(table[policies[0]][k]["values"], table[p][k]["values"])
                paired[p][k] = {"mean": m, "low": lo, "high": hi}
    return {"policies": policies, "seeds": seeds, "reference": policies[0], "metrics": table,
            "paired": paired, "run_ids": run_ids}


def format_table(summary: dict[str, Any], metrics: tuple[str, ...] = TABLE_METRICS) -> str:
    """Plain-text table: mean [95% interval] per policy and metric, then paired differences."""
    pols = summary["policies"]
    ref = summary["reference"]
    metrics = tuple(k for k in metrics if k in summary["metrics"][pols[0]])
    w = max(len(k) for k in metrics) + 2

    def cell(d: dict[str, float]) -> str:
        if np.isnan(d["low"]):
            return f"{d['mean']:.4g}"
        return f"{d['mean']:.4g} [{d['low']:.3g}, {d['high']:.3g}]"

    cw = 30
    lines = [f"{'metric':<{w}}" + "".join(f"{p:>{cw}}" for p in pols)]
    for k in metrics:
        lines.append(f"{k:<{w}}" + "".join(f"{cell(summary['metrics'][p][k]):>{cw}}"
                                           for p in pols))
    if summary["paired"]:
        lines.append("")
        lines.append(f"paired difference {ref} - other, mean [95% interval] over "
                     f"{len(summary['seeds'])} seeds:")
        others = [p for p in pols if p != ref]
        lines.append(f"{'metric':<{w}}" + "".join(f"{ref + '-' + p:>{cw}}" for p in others))
        for k in metrics:
            lines.append(f"{k:<{w}}" + "".join(f"{cell(summary['paired'][p][k]):>{cw}}"
                                               for p in others))
    return "\n".join(lines)
