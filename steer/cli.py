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
import warnings
from pathlib import Path

from steer.cli_common import add_common_options, progress_bar, tracking, with_model
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


def cmd_compare(args: argparse.Namespace) -> int:
    """Every policy on the same seeded nights, on Ray."""
    from steer.config import load_experiment
    from steer.ray_setup import check_ray_address
    from steer.runner import compare, format_table
    from steer.session import presenter_for, validate_experiment

    config = load_experiment(args.experiment)
    policies = _parse_policies(args.policies)
    if args.model:
        config = with_model(args, config)
    validate_experiment(config, policies)
    if args.seeds < 1:
        raise ConfigError(f"--seeds {args.seeds} must be at least 1", "e.g. --seeds 5")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers} must be at least 1", "e.g. --workers 2")
    from steer.campaign import check_nights

    nights = check_nights(config, args.nights)
    seeds = list(range(config.seed, config.seed + args.seeds))
    check_ray_address(args.address)
    runs_dir, uri = tracking(args)
    if args.json:
        out = Path(args.json)
        if out.parent and not out.parent.exists():
            raise ConfigError(f"--json {args.json!r}: folder {str(out.parent)!r} does not exist",
                              "create it or choose another path")
    bar = progress_bar(len(policies) * len(seeds) * nights, "nights", "night")
    try:
        summary = compare(config, policies, seeds, runs_dir, uri, address=args.address,
                          progress=lambda out: bar.update(1), workers=args.workers,
                          nights=nights, all_step_metrics=args.all_step_metrics)
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
        runs_dir, uri = tracking(args, existing=True)
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
    _, uri = tracking(args, existing=True)
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

    _, uri = tracking(args, existing=True)
    return ui_command(args.port, uri)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(prog="steer", description="Decide what the telescope observes "
                                "next, and record why.")
    sub = p.add_subparsers(dest="command", required=True)
    from steer.run_cli import add_parser as add_run_parser

    add_run_parser(sub)

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
    c.add_argument("--all-step-metrics", action="store_true",
                   help="log every per-decision metric of each episode to MLflow (default: "
                        "reward, cumulative_reward, decision_ms; the rest is in each run's "
                        "decision table)")
    add_common_options(c)
    c.set_defaults(func=cmd_compare)

    rp = sub.add_parser("replay", help="re-run a logged run; exit 0 if identical")
    rp.add_argument("run_id", help="MLflow run id printed by steer run / shown in the UI, or "
                    "a local journal runs/journals/<run id>.jsonl")
    rp.add_argument("--config", default=None, help="replay against this experiment file instead")
    rp.add_argument("--seed", type=int, default=None, help="replay with this seed instead")
    add_common_options(rp)
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
    add_common_options(ls)
    ls.set_defaults(func=cmd_runs)

    u = sub.add_parser("ui", help="serve the MLflow UI on 127.0.0.1")
    u.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    add_common_options(u)
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
