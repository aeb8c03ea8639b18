"""The ``steer`` command line: run, compare, replay, runs, ui.

User mistakes (bad files, unknown names, unwritable stores) print one line
``steer: error: ...`` with a hint and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from steer.errors import ConfigError, Interrupted, ReplayMismatchError, SteerError

__all__ = ["main"]

log = logging.getLogger("steer")


def _quiet() -> None:
    """Silence third-party chatter on the terminal (MLflow, Ray, astropy)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # not "astropy": creating its logger early breaks astropy's own logger class
    for name in ("mlflow", "alembic", "alembic.runtime.migration", "ray", "botorch", "gpytorch",
                 "indipyclient",
                 "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _parse_policies(text: str) -> list[str]:
    from steer.policies import POLICIES

    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise ConfigError(f"--policies {text!r} names no policy", "e.g. --policies bo,feature")
    for p in names:
        if p not in POLICIES:
            raise ConfigError(f"unknown policy {p!r}", f"choose from {', '.join(POLICIES)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"--policies {text!r} repeats a policy", "name each policy once")
    return names


def _check_server(uri: str, timeout_s: float = 5.0) -> None:
    """Fail fast if an http(s) tracking server does not answer (MLflow would retry for minutes)."""
    import urllib.error
    import urllib.request

    from steer.errors import TrackingError

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s):
            pass
    except urllib.error.HTTPError:
        return  # it answered: a server without /health is still a server
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(f"tracking server {uri!r} does not answer ({reason})",
                            "start it, fix --tracking-uri / MLFLOW_TRACKING_URI, or omit both "
                            "to use the local store under --runs-dir") from exc


def _tracking(args: argparse.Namespace) -> tuple[Path, str]:
    from steer.store import resolve_tracking_uri

    runs_dir = Path(args.runs_dir).resolve()
    uri = resolve_tracking_uri(args.tracking_uri, runs_dir)
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
    return runs_dir, uri


def _with_model(args: argparse.Namespace, config: Any) -> Any:
    """The experiment with ``--model`` as its ``[policy.rl] model`` (a local copy)."""
    from steer.policies.rl_cli import resolve_model

    runs_dir, uri = _tracking(args)
    return resolve_model(config, args.model, runs_dir, uri)


def _progress_bar(total: float, desc: str, unit: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True,
                file=sys.stderr, disable=None)


def cmd_run(args: argparse.Namespace) -> int:
    """One closed-loop night with live MLflow logging (or the rest of an interrupted one)."""
    from steer.config import load_experiment
    from steer.night import build, resume_state, start_night
    from steer.session import presenter_for, set_threads, validate_experiment

    config = load_experiment(args.experiment)
    resume = None
    if args.resume:
        if args.policy or args.seed is not None or args.nights is not None:
            raise ConfigError("--resume continues one night with its own policy and seed",
                              "drop --policy, --seed and --nights")
        runs_dir, uri = _tracking(args)
        resume = resume_state(runs_dir, args.resume, config.source_text)
        config, policy_name, seed = resume.config, resume.policy, resume.seed
        from steer.runs import as_logged_version

        config, note = as_logged_version(config, policy_name, resume.records)
        if note:
            print(note, flush=True)
    else:
        policy_name = args.policy or config.policy
        seed = config.seed if args.seed is None else args.seed
    if args.model:
        if resume is not None:
            raise ConfigError("--resume continues the night's own model", "drop --model")
        config = _with_model(args, config)
    if not policy_name:
        raise ConfigError(f"{config.source_path} names no policy",
                          "pass --policy NAME or set policy in [experiment]")
    validate_experiment(config, [policy_name])
    if seed < 0:
        raise ConfigError(f"--seed {seed} is negative", "use a seed >= 0")
    from steer.campaign import check_nights

    nights = 1 if resume is not None else check_nights(config, args.nights)
    if nights > 1 and args.approve:
        raise ConfigError("--approve is for a night at the telescope, not a simulated campaign",
                          "drop --approve or --nights")
    set_threads(1)
    env, policy = build(config, policy_name)  # bad settings fail here, nothing written yet
    if nights > 1:
        return _run_campaign(args, config, policy_name, seed, nights, env, policy)
    try:
        if resume is None:
            runs_dir, uri = _tracking(args)
    except BaseException:
        env.close()
        raise
    bar = _progress_bar(100, f"{policy_name} seed {seed}", "% done")

    def progress(frac: float) -> None:
        bar.n = round(100 * frac, 1)
        bar.refresh()

    def announce(run_id: str, journal: Path) -> None:
        verb = f"resuming run {run_id} after {len(resume.records)} journaled decisions" \
            if resume is not None else f"run {run_id} started"
        print(f"{verb}; journal: {journal}", flush=True)

    from steer.live import LiveReport
    from steer.operator import ApprovalGate, ControlChannel, control_path

    live = LiveReport(runs_dir / "live", presenter_for(config.env_id),
                      f"{config.name}: {policy_name}, seed {seed}",
                      announce=lambda path: print(f"live report: {path}", flush=True))
    callbacks: list[Any] = [live]
    if args.approve:
        callbacks.insert(0, ApprovalGate(args.approve_timeout, args.on_timeout,
                                         describe=presenter_for(config.env_id).action_text))

    class _Control(ControlChannel):  # the run id is known once the night has started
        def on_episode_start(self, env: Any, policy: Any, seed: int, run_id: str) -> None:
            self.path = control_path(runs_dir, run_id)
            self._seen = time.time()  # commands written before this start are old

    from steer.too import TooInbox

    control = _Control(Path(os.devnull))
    callbacks.extend([control, TooInbox(runs_dir=runs_dir)])
    try:
        night = start_night(config, policy_name, seed, runs_dir, uri, env, policy,
                            progress=progress, resume=resume, announce=announce,
                            callbacks=callbacks)
    finally:
        bar.close()
    m = night.result.episode.metrics
    presenter = presenter_for(config.env_id)
    print(f"{config.name}: policy {policy_name}, seed {seed}"
          + (f" (resumed after {night.resumed_from} decisions)" if night.resumed_from else ""))
    for label, text in presenter.summary_lines(m):
        print(f"  {label:<32}{text}")
    events = [e for r in night.result.episode.records for e in (r.events or [])]
    if events:
        refused = [e for e in events if "refused" in e]
        print(f"  {'targets of opportunity':<32}{len(events) - len(refused)} taken"
              + (f", {len(refused)} refused ({refused[0]['refused']})" if refused else ""))
    print(f"MLflow run id: {night.run_id}")
    print(f"journal: {night.result.journal_path}")
    print("browse it: steer ui")
    if night.result.episode.stop_reason:
        print(f"steer: {night.result.episode.stop_reason}", file=sys.stderr)
    if night.result.episode.stopped:
        print(f"steer: the night was stopped before its end; continue it with "
              f"steer run {args.experiment} --resume {night.run_id}", file=sys.stderr)
    return _lost_decisions_status(night.result.episode.records, night.run_id)


def _run_campaign(args: argparse.Namespace, config: Any, policy_name: str, seed: int,
                  nights: int, env: Any, policy: Any) -> int:
    """``steer run --nights N``: the nights in order, each a child of the campaign's run
    (``env`` and ``policy`` already built; ``env`` is closed at the end)."""
    from steer.campaign import run_campaign
    from steer.session import presenter_for

    try:
        runs_dir, uri = _tracking(args)
    except BaseException:
        env.close()
        raise
    bar = _progress_bar(100, f"{policy_name} seed {seed}, {nights} nights", "% done")

    def progress(frac: float) -> None:
        bar.n = round(100 * frac, 1)
        bar.refresh()

    def announce(k: int, run_id: str, journal: Path) -> None:
        if k == 0:
            print(f"campaign of {nights} nights started; night 0: run {run_id}, journal "
                  f"{journal}", flush=True)

    try:
        result, parent_id, run_ids = run_campaign(config, policy_name, seed, nights, runs_dir,
                                                  uri, progress=progress, announce=announce,
                                                  env=env, policy=policy)
    except BaseException:
        env.close()  # closed by the campaign unless it failed before the first night
        raise
    finally:
        bar.close()
    presenter = presenter_for(config.env_id)
    print(f"{config.name}: policy {policy_name}, seed {seed}, {len(result.nights)} of "
          f"{nights} nights")
    m = result.metrics
    for key in presenter.comparison_metrics(campaign=True):
        if key in m:
            print(f"  {key:<34}{m[key]:.4g}")
    print(f"MLflow campaign run id: {parent_id} (a child run per night)")
    print(f"journals: {runs_dir / 'journals'} ({len(run_ids)} nights)")
    print("browse it: steer ui")
    status = 0
    for k, night in enumerate(result.nights):
        if night.episode.stop_reason:
            print(f"steer: night {k}: {night.episode.stop_reason}", file=sys.stderr)
        status = max(status, _lost_decisions_status(night.episode.records, run_ids[k]))
    if result.stopped:
        print(f"steer: the campaign stopped at night {len(result.nights) - 1} of {nights}; "
              "campaigns cannot be resumed yet", file=sys.stderr)
        status = max(status, 3)
    return status


def _lost_decisions_status(records: list[Any], run_id: str) -> int:
    """0 when every decision was carried out; else say what was lost and return 3."""
    failed = [r for r in records if r.status == "failed"]
    if not failed:
        return 0
    steps = sorted({r.step for r in failed})
    print(f"steer: {len(steps)} decision(s) lost: the instrument failed every attempt at "
          f"step(s) {', '.join(map(str, steps[:10]))}{' ...' if len(steps) > 10 else ''}; "
          f"last failure: {failed[-1].failure}", file=sys.stderr)
    return 3


def cmd_compare(args: argparse.Namespace) -> int:
    """Every policy on the same seeded nights, on Ray."""
    from steer.config import load_experiment
    from steer.runner import compare, format_table
    from steer.session import presenter_for, validate_experiment

    config = load_experiment(args.experiment)
    policies = _parse_policies(args.policies)
    if args.model:
        config = _with_model(args, config)
    validate_experiment(config, policies)
    if args.seeds < 1:
        raise ConfigError(f"--seeds {args.seeds} must be at least 1", "e.g. --seeds 5")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers} must be at least 1", "e.g. --workers 2")
    from steer.campaign import check_nights

    nights = check_nights(config, args.nights)
    seeds = list(range(config.seed, config.seed + args.seeds))
    runs_dir, uri = _tracking(args)
    if args.json:
        out = Path(args.json)
        if out.parent and not out.parent.exists():
            raise ConfigError(f"--json {args.json!r}: folder {str(out.parent)!r} does not exist",
                              "create it or choose another path")
    bar = _progress_bar(len(policies) * len(seeds) * nights, "nights", "night")
    try:
        summary = compare(config, policies, seeds, runs_dir, uri, address=args.address,
                          progress=lambda out: bar.update(1), workers=args.workers,
                          nights=nights)
    finally:
        bar.close()
    summary["experiment"] = config.name
    summary["tracking_uri"] = uri
    rows = presenter_for(config.env_id).comparison_metrics(campaign=nights > 1)
    if nights > 1:
        print(f"{nights}-night campaigns, whole-campaign metrics:")
    print(format_table(summary, rows))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, allow_nan=True), encoding="utf-8")
        print(f"wrote {args.json}")
    if args.report:
        from steer.report import write_report
        from steer.report_compare import comparison_report

        write_report(Path(args.report), comparison_report(summary, rows))
        print(f"wrote {args.report}")
    n_runs = sum(len(v) for v in summary["run_ids"].values())
    print(f"logged {n_runs} runs to MLflow experiment {config.name!r} ({uri})")
    print("browse them: steer ui")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Re-run a logged run and check that every decision is identical."""
    from steer.config import load_experiment, parse_experiment
    from steer.runs import as_logged_version, load_local_run, load_logged_run
    from steer.session import play, presenter_for, set_threads

    set_threads(1)
    if args.run_id.endswith(".jsonl"):  # a local journal (a night that never finished)
        logged = load_local_run(args.run_id)
    else:
        runs_dir, uri = _tracking(args)
        logged = load_logged_run(args.run_id, uri)
    if args.config:
        config = load_experiment(args.config)
        seed = config.seed
    else:
        if not logged.config_text:
            raise SteerError(f"run {args.run_id} has no logged config.toml", "pass --config PATH")
        config = parse_experiment(logged.config_text, f"<run {args.run_id}>/config.toml")
        seed = logged.seed
    if args.seed is not None:
        seed = args.seed
    if not args.config:  # the logged experiment, as the policy version that ran it
        config, note = as_logged_version(config, logged.policy, logged.records)
        if note:
            print(note)
    nights, night = int(logged.params.get("nights", 1)), int(logged.params.get("night", 0))
    with tempfile.TemporaryDirectory() as tmp:
        honour = logged.records if seed == logged.seed else ()  # its operator, its ToOs
        if nights > 1:  # a campaign's night: the nights before it make its history
            from steer.campaign import check_nights, replay_night

            check_nights(config, nights)
            result = replay_night(config, logged.policy, seed, night, nights, Path(tmp), honour)
        else:
            result = play(config, logged.policy, seed, Path(tmp), recorded=honour)
    old = [r.decision_key for r in logged.records]
    new = [r.decision_key for r in result.episode.records]
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        if a != b:
            text = presenter_for(config.env_id).action_text
            was, now = (text(r[i].proposal.get("action") or {})
                        for r in (logged.records, result.episode.records))
            print(f"replay of {args.run_id} differs at decision {i} (step {a[0]}): "
                  f"logged {was} status {a[2]}, replayed {now} status {b[2]}")
            return 1
    if len(old) != len(new):
        print(f"replay of {args.run_id} differs in length: logged {len(old)} decisions, "
              f"replayed {len(new)} (first extra at decision {min(len(old), len(new))})")
        return 1
    where = f", night {night} of {nights}" if nights > 1 else ""
    print(f"replay of {args.run_id}: all {len(old)} decisions identical "
          f"(policy {logged.policy}, seed {seed}{where})")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    """List the runs in the tracking store, newest first."""
    from steer.runs import list_runs

    if args.limit < 1:
        raise ConfigError(f"--limit {args.limit} must be at least 1", "e.g. --limit 20")
    _, uri = _tracking(args)
    runs = list_runs(uri, args.experiment, max_results=args.limit)
    if not runs:
        print(f"no runs in {uri}" + (f" for experiment {args.experiment!r}"
                                     if args.experiment else ""))
        return 0
    header = ("run id", "experiment", "policy", "seed", "night", "status", "started (UTC)",
              "key metric")
    rows = []
    for r in runs:
        key = "" if r["key_metric"] is None or r["key_value"] is None else \
            f"{r['key_metric']} = {r['key_value']:.4g}"
        rows.append((r["run_id"], r["experiment"], str(r["policy"] or ""),
                     "" if r["seed"] is None else str(r["seed"]), r["night"], r["status"],
                     (r["start_time"] or "").replace("T", " ").rstrip("Z"),
                     key if r["kind"] in ("episode", "campaign") else f"({r['kind']})"))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    for row in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_control(args: argparse.Namespace) -> int:
    """Pause, continue or stop a running night at its next decision boundary."""
    from steer.operator import write_control

    path = write_control(Path(args.runs_dir).resolve(), args.run, args.command)
    print(f"asked run {args.run} to {args.command} (at its next decision): {path}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """Serve the MLflow UI on 127.0.0.1 over the default store."""
    from steer.ui import ui_command

    _, uri = _tracking(args)
    return ui_command(args.port, uri)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(prog="steer", description="Decide what the telescope observes "
                                "next, and record why.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--tracking-uri", default=None,
                        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else "
                             "sqlite under --runs-dir)")
        sp.add_argument("--runs-dir", default="runs",
                        help="run folder for the journal and the default store (default: runs)")

    r = sub.add_parser("run", help="one closed-loop night")
    r.add_argument("experiment", help="experiment file, e.g. experiments/demo.toml")
    r.add_argument("--policy", default=None, help="policy id (default: the file's)")
    r.add_argument("--seed", type=int, default=None, help="night seed (default: the file's)")
    r.add_argument("--model", default=None, metavar="MODEL_URI",
                   help="the rl policy's model: runs:/<id>/model printed by steer train")
    r.add_argument("--nights", type=int, default=None,
                   help="consecutive nights, one campaign (default: [campaign] nights, else 1)")
    r.add_argument("--resume", default=None, metavar="RUN_ID",
                   help="continue an interrupted night from its journal (same run id)")
    r.add_argument("--approve", action="store_true",
                   help="show each proposal and ask the operator to accept, pick a runner-up, "
                        "skip or stop")
    r.add_argument("--approve-timeout", type=float, default=60.0,
                   help="seconds to wait for the operator (default 60)")
    r.add_argument("--on-timeout", choices=("accept", "skip"), default="accept",
                   help="what an unanswered proposal does (default accept)")
    common(r)
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("compare", help="policies on the same seeded nights, on Ray")
    c.add_argument("experiment")
    c.add_argument("--policies", required=True, help="comma-separated ids, reference first")
    c.add_argument("--seeds", type=int, default=3, help="number of seeded nights (default 3)")
    c.add_argument("--nights", type=int, default=None,
                   help="consecutive nights per seed (default: [campaign] nights, else 1)")
    c.add_argument("--json", default=None, help="write the numbers to this JSON file")
    c.add_argument("--report", default=None, help="write the comparison's HTML report here")
    c.add_argument("--address", default=None, help="join an existing Ray cluster")
    c.add_argument("--workers", type=int, default=None,
                   help="CPUs of the embedded local Ray (default: all); ignored with --address")
    c.add_argument("--model", default=None, metavar="MODEL_URI",
                   help="the rl policy's model: runs:/<id>/model printed by steer train")
    common(c)
    c.set_defaults(func=cmd_compare)

    rp = sub.add_parser("replay", help="re-run a logged run; exit 0 if identical")
    rp.add_argument("run_id", help="MLflow run id printed by steer run / shown in the UI, or "
                    "a local journal runs/journals/<run id>.jsonl")
    rp.add_argument("--config", default=None, help="replay against this experiment file instead")
    rp.add_argument("--seed", type=int, default=None, help="replay with this seed instead")
    common(rp)
    rp.set_defaults(func=cmd_replay)

    for command, text in (("pause", "pause a running night at its next decision"),
                          ("continue", "let a paused night go on"),
                          ("stop", "stop a running night at its next decision (resumable)")):
        cp = sub.add_parser(command, help=text)
        cp.add_argument("--run", required=True, help="the run id steer run printed")
        cp.add_argument("--runs-dir", default="runs", help="the night's run folder")
        cp.set_defaults(func=cmd_control, command=command)

    ls = sub.add_parser("runs", help="list the runs in the tracking store, newest first")
    ls.add_argument("--experiment", default=None, help="only this experiment")
    ls.add_argument("--limit", type=int, default=20, help="at most this many runs (default 20)")
    common(ls)
    ls.set_defaults(func=cmd_runs)

    u = sub.add_parser("ui", help="serve the MLflow UI on 127.0.0.1")
    u.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    common(u)
    u.set_defaults(func=cmd_ui)

    from steer.server_cli import add_parsers as add_server_parsers

    add_server_parsers(sub)

    from steer.envs.plan_cli import add_parser as add_plan_parser

    add_plan_parser(sub)

    from steer.report_cli import add_parser as add_report_parser

    add_report_parser(sub)

    from steer.envs.too_cli import add_parser as add_too_parser

    add_too_parser(sub)

    from steer.policies.rl_cli import add_parser as add_train_parser

    add_train_parser(sub)

    from steer.tune_cli import add_parser as add_tune_parser

    add_tune_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``steer`` console script."""
    _quiet()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ReplayMismatchError as exc:
        print(f"steer: {exc}", file=sys.stderr)
        return 1
    except SteerError as exc:
        print(f"steer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"steer: interrupted: {exc}" if isinstance(exc, Interrupted) and str(exc) else
              "steer: interrupted; every decision so far is in the journal", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
