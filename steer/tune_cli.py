"""``steer tune``: a policy's settings searched by BO over nights on Ray, judged on held-out nights."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from steer.errors import ConfigError, Interrupted

__all__ = ["add_parser", "cmd_tune"]


def cmd_tune(args: argparse.Namespace) -> int:
    """Tune, print the held-out comparison, write the TOML snippet, log it all to MLflow."""
    from steer.config import load_experiment
    from steer.ray_setup import check_ray_address
    from steer.runner import format_table, summarise
    from steer.session import presenter_for, validate_experiment
    from steer.store import resolve_tracking_uri
    from steer.tune import snippet, tunable_settings, tune

    for name in ("trials", "seeds", "holdout", "q"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} {getattr(args, name)} must be at least 1")
    config = load_experiment(args.experiment)
    validate_experiment(config, [args.policy])
    if args.metric is None:  # the environment says what its headline metric is
        args.metric = presenter_for(config.env_id).comparison_metrics()[0]
    space = tunable_settings(args.policy)
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.exists():
        raise ConfigError(f"--out {args.out!r}: folder {str(out.parent)!r} does not exist",
                          "create it first")
    tune_seeds = list(range(config.seed, config.seed + args.seeds))
    first = max(args.holdout_from, config.seed + args.seeds)
    holdout = list(range(first, first + args.holdout))
    check_ray_address(args.address)
    runs_dir = Path(args.runs_dir).resolve()
    uri = resolve_tracking_uri(args.tracking_uri, runs_dir)
    from tqdm import tqdm

    from steer.tracking import MLflowSink

    sink = MLflowSink(uri, config.name, f"tune {args.policy}",
                      {"experiment": config.name, "policy": args.policy, "metric": args.metric,
                       "trials": args.trials, "q": args.q, "tune_seeds": tune_seeds,
                       "holdout_seeds": holdout, "space": {k: list(v) for k, v in space.items()}},
                      tags={"steer.kind": "tune", "steer.policy": args.policy})
    print(f"MLflow run id: {sink.run_id}", flush=True)
    bar = tqdm(total=args.trials + 1, desc=f"tune {args.policy}", unit="trial", leave=False,
               file=sys.stderr, disable=None)
    best = [float("-inf")]
    scored: list[dict] = []

    def on_trial(t: dict) -> None:
        scored.append(t)
        best[0] = max(best[0], t["objective"])
        sink.log_step_metrics({f"trial_{args.metric}": t["objective"],
                               f"best_{args.metric}": best[0],
                               **{f"param_{k}": v for k, v in t["params"].items()}},
                              t["trial"])
        bar.update(1)
        bar.set_postfix({"best": f"{best[0]:.4g}"})

    try:
        result = tune(config, args.policy, args.trials, tune_seeds, holdout, args.metric,
                      q=args.q, address=args.address, on_trial=on_trial, seed=args.seed)
    except KeyboardInterrupt as exc:
        bar.close()
        sink.close()
        top = max(scored, key=lambda t: t["objective"], default=None)
        so_far = ("" if top is None else
                  f"; the best so far, trial {top['trial']}: " + ", ".join(
                      f"{k} = {v:.6g}" for k, v in top["params"].items())
                  + f" ({args.metric} {top['objective']:.4g})")
        raise Interrupted(
            f"tuning run {sink.run_id} stopped with {len(scored)} of {args.trials + 1} "
            f"settings scored (logged to MLflow){so_far}; the nights in flight were lost and "
            "the held-out comparison was not made; a tuning does not resume: rerun it") from exc
    except BaseException:
        bar.close()
        sink.close()
        raise
    bar.close()
    best_t = result["best"]
    results = {("default", s): m for s, m in result["holdout"]["default"].items()}
    results |= {("tuned", s): m for s, m in result["holdout"]["tuned"].items()}
    summary = summarise(results, ["default", "tuned"], holdout, {"default": [], "tuned": []})
    text = snippet(args.policy, best_t["params"],
                   f"steer tune {args.policy}: trial {best_t['trial']} of {args.trials}, "
                   f"{args.metric} {best_t['objective']:.4g} on seeds {tune_seeds} (defaults "
                   f"{result['trials'][0]['objective']:.4g})")
    print(f"best of {args.trials + 1} settings on the tuning nights {tune_seeds}: trial "
          f"{best_t['trial']}, {args.metric} {best_t['objective']:.4g} (defaults "
          f"{result['trials'][0]['objective']:.4g})")
    print(f"held-out nights {holdout}, defaults against the tuned settings:")
    print(format_table(summary, presenter_for(config.env_id).comparison_metrics()))
    print(text, end="")
    with tempfile.TemporaryDirectory() as tmp:
        snip = Path(tmp) / f"{args.policy}.toml"
        snip.write_text(text, encoding="utf-8")
        trials = Path(tmp) / "tune.json"
        trials.write_text(json.dumps({**result, "summary": summary}, indent=1, default=str),
                          encoding="utf-8")
        d = summary["paired"]["tuned"].get(args.metric, {})
        sink.finish({f"holdout_default_{args.metric}":
                     summary["metrics"]["default"][args.metric]["mean"],
                     f"holdout_tuned_{args.metric}":
                     summary["metrics"]["tuned"][args.metric]["mean"],
                     f"holdout_default_minus_tuned_{args.metric}": d.get("mean", float("nan"))},
                    artifacts={f"{args.policy}.toml": snip, "tune.json": trials})
    if out is not None:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``steer tune``."""
    t = subparsers.add_parser("tune", help="tune a policy's settings with BO over nights, on Ray")
    t.add_argument("experiment", help="experiment file")
    t.add_argument("--policy", required=True, help="a policy with tunable settings, e.g. feature")
    t.add_argument("--trials", type=int, default=20, help="settings tried after the defaults")
    t.add_argument("--seeds", type=int, default=4,
                   help="tuning nights: the experiment's seed and the next ones (default 4)")
    t.add_argument("--holdout", type=int, default=8, help="held-out nights (default 8)")
    t.add_argument("--holdout-from", type=int, default=1000,
                   help="first held-out seed (default 1000; never below the tuning seeds')")
    t.add_argument("--metric", default=None,
                   help="episode metric to maximise (default: the environment's first "
                        "comparison metric, the night's science score)")
    t.add_argument("--q", type=int, default=2, help="settings run side by side (default 2)")
    t.add_argument("--seed", type=int, default=0, help="seeds the optimiser's design")
    t.add_argument("--address", default=None, help="join an existing Ray cluster")
    t.add_argument("--out", default=None, help="also write the TOML snippet here")
    t.add_argument("--tracking-uri", default=None, help="MLflow tracking URI")
    t.add_argument("--runs-dir", default="runs", help="run folder (default: runs)")
    t.set_defaults(func=cmd_tune)
