"""``steer run``: one closed-loop night (or a campaign, or the rest of an interrupted night).

Wire into :func:`steer.cli.build_parser` with ``add_parser(sub)``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from steer.cli_common import add_common_options, percent_bar, tracking, with_model
from steer.errors import ConfigError

__all__ = ["add_parser", "cmd_run"]


def add_parser(sub: Any) -> None:
    """Add ``steer run`` to the ``steer`` subcommands."""
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
    add_common_options(r)
    r.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """One closed-loop night with live MLflow logging (or the rest of an interrupted one)."""
    from steer.config import load_experiment
    from steer.night import build, resume_state, start_night
    from steer.session import presenter_for, set_threads, validate_experiment

    config = load_experiment(args.experiment)
    if args.approve and not sys.stdin.isatty():
        # at the end of its input the gate could only accept every proposal unseen
        raise ConfigError("--approve needs an operator at a terminal, and standard input is "
                          "not one", "run it in a terminal, or drop --approve (steer pause, "
                          "continue and stop act on a running night)")
    resume = None
    if args.resume:
        if args.policy or args.seed is not None or args.nights is not None:
            raise ConfigError("--resume continues one night with its own policy and seed",
                              "drop --policy, --seed and --nights")
        runs_dir, uri = tracking(args)
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
        config = with_model(args, config)
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
            runs_dir, uri = tracking(args)
    except BaseException:
        env.close()
        raise
    bar, progress = percent_bar(f"{policy_name} seed {seed}")

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
    return max(_lost_decisions_status(night.result.episode.records, night.run_id),
               _lost_time_status(night.result.episode.metrics))


def _run_campaign(args: argparse.Namespace, config: Any, policy_name: str, seed: int,
                  nights: int, env: Any, policy: Any) -> int:
    """``steer run --nights N``: the nights in order, each a child of the campaign's run
    (``env`` and ``policy`` already built; ``env`` is closed at the end)."""
    from steer.campaign import run_campaign
    from steer.session import presenter_for

    try:
        runs_dir, uri = tracking(args)
    except BaseException:
        env.close()
        raise
    bar, progress = percent_bar(f"{policy_name} seed {seed}, {nights} nights")

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


def _lost_time_status(metrics: dict[str, float]) -> int:
    """0 unless the instrument stopped answering for part of the night; then say how
    long (no observation could be made then) and return 3."""
    lost_s = float(metrics.get("instrument_unanswered_s", 0.0) or 0.0)
    if lost_s <= 0.0:
        return 0
    print(f"steer: the instrument did not answer for {lost_s / 3600.0:.2f} h of the night "
          f"({lost_s:.0f} s): the night waited, observing nothing then; its idle time "
          "above includes it (check the server and its address)", file=sys.stderr)
    return 3


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
