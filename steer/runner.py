"""Policy comparison on Ray: every policy on the same seeded nights, in parallel.

An embedded local Ray (one CPU per episode, one torch thread per worker) by
default; ``address`` joins an existing Ray cluster. Episodes journal their
decisions where they run; the driver logs each finished episode to MLflow, so
only one process writes the tracking store.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from steer.config import ExperimentConfig, parse_experiment
from steer.errors import Interrupted, SteerError
from steer.interrupts import interrupt_deferred, lost_episodes
from steer.ray_setup import init_ray, shutdown_ray
from steer.stats import mean_ci95, paired_diff_ci95

__all__ = ["compare", "format_table", "summarise"]

log = logging.getLogger(__name__)

def _payload(config: ExperimentConfig, result: Any,
             step_keys: tuple[str, ...] | None) -> dict[str, Any]:
    """What the driver writes for a played episode (picklable): its journal's bytes,
    metrics, per-decision MLflow metric rows (``step_keys`` only; ``None``: all),
    decision table and extras."""
    from steer.session import presenter_for
    from steer.table import decision_table
    from steer.tracking import StepRows

    records = list(result.episode.records)
    presenter = presenter_for(config.env_id)
    return {"journal": result.journal_path.read_bytes(), "n_records": len(records),
            "step_rows": StepRows(presenter, step_keys).all_rows(records),
            "metrics": result.episode.metrics,
            "table": decision_table(records, presenter) if records else None,
            "extras": result.extras}


def _episode(config_text: str, source_path: str, policy: str, seed: int,
             run_id: str, step_keys: tuple[str, ...] | None) -> dict[str, Any]:
    """Run one episode in a worker; return everything the driver writes (picklable).

    The worker journals into a temporary folder of its own and sends the
    journal's bytes back through Ray: nothing relies on a filesystem shared
    with the driver, and a retried task starts from a clean journal. Whatever
    costs computing is done here, in parallel: the per-decision MLflow metric
    rows, the decision table, the report page and the figures; the driver
    (serial) only writes them.
    """
    t0 = time.perf_counter()
    from steer.session import play, render_episode, set_threads

    set_threads(1)
    config = parse_experiment(config_text, source_path)
    with tempfile.TemporaryDirectory(prefix="steer-episode-") as tmp:
        result = play(config, policy, seed, Path(tmp), run_id=run_id)
        t_played = time.perf_counter()
        out = _payload(config, result, step_keys)
    ep = result.episode
    t_payload = time.perf_counter()
    rendered = render_episode(config, policy, seed, list(ep.records), ep.metrics,
                              result.extras, run_id)
    t_end = time.perf_counter()
    return {"policy": policy, "seed": seed, **out, "rendered": rendered,
            "worker_s": {"play": t_played - t0, "payload": t_payload - t_played,
                         "render": t_end - t_payload, "task": t_end - t0}}


def _campaign(config_text: str, source_path: str, policy: str, seed: int, nights: int,
              run_ids: list[str], step_keys: tuple[str, ...] | None) -> dict[str, Any]:
    """Play one campaign in a worker; return every night's payload and the campaign's."""
    from steer.campaign import play_campaign
    from steer.session import set_threads

    set_threads(1)
    config = parse_experiment(config_text, source_path)
    per_night: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="steer-campaign-") as tmp:
        result = play_campaign(config, policy, seed, nights, Path(tmp),
                               start=lambda k: (run_ids[k], []),
                               finished=lambda k, night: per_night.append(
                                   # no report page: 30 nights of figures cost more
                                   _payload(config, night, step_keys)))  # than the nights
    return {"policy": policy, "seed": seed, "metrics": result.metrics, "nights": per_night,
            "stopped": result.stopped}


def _write_episode(tracking_uri: str, config: ExperimentConfig, policy: str, seed: int,
                   payload: dict[str, Any], sink: Any, journal_dir: Path,
                   rendered: dict[str, Any] | None) -> None:
    """The driver's part of an episode: its journal on disk, its MLflow run finished."""
    from steer.session import log_to_mlflow

    journal_path = journal_dir / f"{sink.run_id}.jsonl"
    _write_journal(journal_path, payload["journal"])
    sink.log_step_rows(payload["step_rows"], payload["n_records"])
    log_to_mlflow(tracking_uri, config, policy, seed, [], payload["metrics"], journal_path,
                  sink=sink, extras=payload.get("extras"), rendered=rendered,
                  table=payload["table"])


def _write_journal(path: Path, data: bytes) -> None:
    """Write a worker's journal bytes to ``path`` and force them to disk."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _open_store(tracking_uri: str) -> None:
    """Import MLflow and open (on first use, create) the store: no run is created."""
    from steer.store import mlflow_client, store_errors

    with store_errors(f"cannot open the MLflow store {tracking_uri!r}"):
        mlflow_client(tracking_uri).search_experiments(max_results=1)


def compare(config: ExperimentConfig, policies: list[str], seeds: list[int], runs_dir: Path,
            tracking_uri: str, address: str | None = None, progress: Any = None,
            max_retries: int = 2, workers: int | None = None,
            nights: int = 1, all_step_metrics: bool = False) -> dict[str, Any]:
    """Run every policy on every seed, log each episode to MLflow, summarise.

    With ``nights`` > 1 each (policy, seed) is a campaign (:mod:`steer.campaign`),
    one Ray task, logged as a campaign run with a child run per night; the
    summary is of the whole campaigns' metrics, and ``progress`` is called per
    night.

    Each episode's run gets the per-decision metrics
    :data:`~steer.tracking.COMPARE_STEP_METRICS` (every one with
    ``all_step_metrics``); its decision table and journal hold every decision whole.

    The driver creates each episode's MLflow run before its task (and submits
    the task at once: the first episodes run while the later runs are
    created), so the id in the records, the journal's file name and the
    MLflow run are one. Each episode
    is a Ray task (one CPU); a worker that dies is retried (the episode is
    seeded, so the retry makes the same decisions). The driver alone writes
    the journals and the MLflow store.

    Returns:
        ``{"policies", "seeds", "metrics": {policy: {metric: {mean, low, high,
        values}}}, "paired": {policy: {metric: {mean, low, high}}},
        "run_ids": {policy: [run ids]}}``. Paired differences are against the
        first policy, seed by seed.
    """
    from steer.campaign import open_run
    from steer.tracking import COMPARE_STEP_METRICS

    step_keys = None if all_step_metrics else COMPARE_STEP_METRICS
    journal_dir = runs_dir / "journals"
    journal_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    # The store is opened (MLflow imported, a new database's tables created: seconds) in a
    # thread while Ray starts; no MLflow run is created before the join succeeded.
    with ThreadPoolExecutor(1, thread_name_prefix="steer-store") as pool:
        store = pool.submit(_open_store, tracking_uri)
        try:
            ray = init_ray(address, workers)
        finally:
            store_error = store.exception()
    if store_error is not None:
        shutdown_ray(ray)
        raise store_error
    t_ray = time.perf_counter()
    driver_s = 0.0  # the serial part: the driver's journaling and MLflow logging
    worker_s: dict[str, float] = {}  # summed over episodes: where a task's time went
    sinks: dict[tuple[str, int], Any] = {}
    children: dict[tuple[str, int], list[Any]] = {}
    results: dict[tuple[str, int], dict[str, Any]] = {}
    try:
        task = ray.remote(num_cpus=1, max_retries=max_retries)(
            _campaign if nights > 1 else _episode)
        pending: list[Any] = []
        for p in policies:
            for s in seeds:  # each task starts as soon as its runs exist
                sinks[(p, s)] = open_run(tracking_uri, config, p, s, nights)
                if nights > 1:
                    children[(p, s)] = [open_run(tracking_uri, config, p, s, nights, k,
                                                 sinks[(p, s)].run_id) for k in range(nights)]
                    pending.append(task.remote(
                        config.source_text, config.source_path, p, s, nights,
                        [c.run_id for c in children[(p, s)]], step_keys))
                else:
                    pending.append(task.remote(config.source_text, config.source_path, p, s,
                                               sinks[(p, s)].run_id, step_keys))
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                out = ray.get(done[0])
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if isinstance(getattr(exc, "cause", None), SteerError) else None
                if cause is not None:
                    raise cause from None
                raise
            t_got = time.perf_counter()
            key = (out["policy"], out["seed"])
            with interrupt_deferred():  # an episode in hand is written whole, then Ctrl-C
                if nights > 1:
                    _log_campaign(tracking_uri, config, out, sinks[key], children[key],
                                  journal_dir, progress)
                else:
                    _write_episode(tracking_uri, config, out["policy"], out["seed"], out,
                                   sinks[key], journal_dir, out.get("rendered"))
                results[key] = out["metrics"]
                for part, seconds in (out.get("worker_s") or {}).items():
                    worker_s[part] = worker_s.get(part, 0.0) + seconds
                driver_s += time.perf_counter() - t_got
                if progress is not None and nights == 1:
                    progress(out)
    except KeyboardInterrupt as exc:
        shutdown_ray(ray)
        raise Interrupted(lost_episodes(policies, seeds, results, nights)) from exc
    except BaseException:
        shutdown_ray(ray)
        raise
    finally:
        for sink in [*sinks.values(), *(c for cs in children.values() for c in cs)]:
            sink.close()  # FAILED if it never finished (a no-op for finished runs)
    # every result is in: Ray stops (1-2 s) while the comparison is logged
    stopping = threading.Thread(target=shutdown_ray, args=(ray,), name="steer-ray-stop")
    stopping.start()
    t_episodes = time.perf_counter()
    try:
        run_ids = {p: [sinks[(p, s)].run_id for s in seeds] for p in policies}
        summary = summarise(results, policies, seeds, run_ids)
        summary["nights"] = nights
        if nights > 1:
            summary["night_run_ids"] = {p: [[c.run_id for c in children[(p, s)]] for s in seeds]
                                        for p in policies}
        summary["comparison_run_id"] = log_comparison(tracking_uri, config, summary)
    finally:
        stopping.join()
    t_end = time.perf_counter()
    summary["timing"] = {"wall_s": t_end - t_start, "ray_start_s": t_ray - t_start,
                         "episodes_s": t_episodes - t_ray, "driver_logging_s": driver_s,
                         "comparison_logging_s": t_end - t_episodes,
                         "episode_compute_s": float(sum(
                             results[k].get("wall_s", 0.0) for k in results)),
                         **{f"episode_{part}_s": v for part, v in worker_s.items()}}
    return summary


def _log_campaign(tracking_uri: str, config: ExperimentConfig, out: dict[str, Any],
                  parent: Any, children: list[Any], journal_dir: Path, progress: Any) -> None:
    """Write a finished campaign: every night's journal and child run, then the parent."""
    from steer.campaign import write_campaign_json

    for k, night in enumerate(out["nights"]):
        sink = children[k]
        _write_episode(tracking_uri, config, out["policy"], out["seed"], night, sink,
                       journal_dir, {"report_html": None, "figures_png": {}})
        parent.log_step_metrics({f"night.{m}": v for m, v in night["metrics"].items()}, step=k)
        if progress is not None:
            progress(out)
    for sink in children[len(out["nights"]):]:  # nights a stopped campaign never played
        sink.finish({}, status="KILLED")
    with tempfile.TemporaryDirectory(prefix="steer-campaign-") as tmp:
        played = out["nights"]
        path = write_campaign_json(Path(tmp) / "campaign.json", config, out["policy"],
                                   out["seed"], out["metrics"], [n["metrics"] for n in played],
                                   [c.run_id for c in children[:len(played)]], out["stopped"])
        parent.finish(out["metrics"], artifacts={"campaign.json": path},
                      status="KILLED" if out["stopped"] else "FINISHED")


def comparison_figure(summary: dict[str, Any], metrics: Sequence[str]) -> Any:
    """The comparison figure (:func:`steer.plots.compare_figure`) of a summary's metrics."""
    from steer.plots import compare_figure

    shown = [k for k in metrics if k in summary["metrics"][summary["policies"][0]]]
    per_policy = {p: {k: summary["metrics"][p][k]["values"] for k in shown}
                  for p in summary["policies"]}
    return compare_figure(per_policy, shown)


def log_comparison(tracking_uri: str, config: ExperimentConfig, summary: dict[str, Any]) -> str:
    """Log a comparison as its own MLflow run: the summary JSON, the comparison figure
    and the interactive report (``report.html``, :mod:`steer.report_compare`).

    The run is tagged ``steer.kind = comparison`` and lists the episodes' run
    ids; its metrics are each policy's mean (``<policy>.<metric>``).

    Returns:
        The comparison's MLflow run id.
    """
    from steer.report import write_report
    from steer.report_compare import comparison_report
    from steer.session import presenter_for
    from steer.tracking import MLflowSink

    presenter = presenter_for(config.env_id)
    policies = summary["policies"]
    nights = int(summary.get("nights", 1))
    rows = presenter.comparison_metrics(campaign=nights > 1)
    sink = MLflowSink(tracking_uri, config.name, f"compare-{'-'.join(policies)}",
                      {"experiment": config.name, "env_id": config.env_id,
                       "policies": ",".join(policies), "seeds": summary["seeds"],
                       "nights": nights},
                      tags={"steer.kind": "comparison", "steer.policy": ",".join(policies)},
                      presenter=presenter)
    means = {f"{p}.{k}": v["mean"] for p in policies for k, v in summary["metrics"][p].items()}
    with tempfile.TemporaryDirectory(prefix="steer-compare-") as tmp:
        path = Path(tmp) / "comparison.json"
        path.write_text(json.dumps(summary, indent=2, allow_nan=True), encoding="utf-8")
        report = Path(tmp) / "report.html"
        write_report(report, comparison_report(
            {**summary, "experiment": config.name, "comparison_run_id": sink.run_id}, rows))
        sink.finish(means, artifacts={"comparison.json": path, "report.html": report},
                    figures={"compare": comparison_figure(summary, rows)})
    return sink.run_id


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


def format_table(summary: dict[str, Any], metrics: tuple[str, ...]) -> str:
    """Plain-text table: mean [95% interval] per policy and metric, then paired differences.

    Args:
        summary: What :func:`compare` returns.
        metrics: The rows, in order (the environment presenter's
            :meth:`~steer.presenter.Presenter.comparison_metrics`); rows the
            episodes did not report are left out.
    """
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
