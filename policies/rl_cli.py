"""``steer train``: train the ``rl`` policy on an experiment, logged to MLflow.

Also :func:`resolve_model`: ``--model runs:/<id>/model`` for ``steer run`` and
``steer compare``, downloaded once into the run folder and written into the
experiment's ``[policy.rl]`` so the logged configuration replays.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from steer.errors import ConfigError, Interrupted

__all__ = ["add_parser", "cmd_train", "resolve_model"]

ALGOS = ("maskable-ppo",)


def _tracking(args: argparse.Namespace) -> tuple[Path, str]:
    from steer.store import resolve_tracking_uri

    runs_dir = Path(args.runs_dir).resolve()
    return runs_dir, resolve_tracking_uri(args.tracking_uri, runs_dir)


def _check(args: argparse.Namespace) -> None:
    if args.algo not in ALGOS:
        raise ConfigError(f"--algo {args.algo!r} is not available", f"use {', '.join(ALGOS)}")
    if args.address and not args.workers:
        args.workers = args.envs  # joining a cluster means rollouts on it
    from steer.ray_setup import check_ray_address

    check_ray_address(args.address)
    if args.workers < 0 or args.workers > args.envs:
        raise ConfigError(f"--workers {args.workers} must be between 0 and --envs {args.envs}",
                          "each worker steps at least one environment; 0 steps them here")
    for name in ("timesteps", "envs", "eval_every", "eval_nights"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} {getattr(args, name)} must be at "
                              "least 1")
    if args.seed < 0:
        raise ConfigError(f"--seed {args.seed} is negative", "use a seed >= 0")


def cmd_train(args: argparse.Namespace) -> int:
    """Train MaskablePPO on the experiment's nights; log curves and the model to MLflow."""
    from steer.config import load_experiment
    from steer.session import make_env, presenter_for, set_threads

    _check(args)
    config = load_experiment(args.experiment)
    if presenter_for(config.env_id).kind != "catalog":
        raise ConfigError(f"steer train drives catalog environments; {config.env_id} is not one",
                          "use an experiment on steer/TargetSelection-v0")
    make_env(config).close()  # bad [env] settings fail here, before anything is written
    set_threads(1)
    from steer.policies.rl_train import TRAIN_SEED_OFFSET

    runs_dir, uri = _tracking(args)
    eval_seeds = list(range(config.seed, config.seed + args.eval_nights))
    params = {"experiment": config.name, "env_id": config.env_id, "algo": args.algo,
              "timesteps": args.timesteps, "seed": args.seed, "envs": args.envs,
              "workers": args.workers, "ray_address": args.address or "",
              "eval_every": args.eval_every, "eval_seeds": eval_seeds,
              "train_seeds_from": TRAIN_SEED_OFFSET + args.seed * 1000, "env": config.env_kwargs}
    resume_ckpt = None
    if args.resume:
        resume_ckpt = runs_dir / "train" / args.resume / "checkpoint.zip"
        if not resume_ckpt.is_file():
            raise ConfigError(f"--resume {args.resume}: no checkpoint at {str(resume_ckpt)!r}",
                              "pass the run id `steer train` printed, with the same --runs-dir")
    ray, make_vec = None, None
    if args.workers:  # before the MLflow run: a cluster that cannot be joined leaves none
        from steer.policies.rl_ray import RayVecEnv
        from steer.ray_setup import init_ray

        ray = init_ray(args.address, args.workers)

        def make_vec(n: int) -> Any:
            return RayVecEnv(config.source_text, config.source_path, n, args.workers, ray)

    try:
        return _train_logged(args, config, make_vec, params, resume_ckpt, eval_seeds,
                             runs_dir, uri)
    finally:
        if ray is not None:
            from steer.ray_setup import shutdown_ray

            shutdown_ray(ray)


def _train_logged(args: argparse.Namespace, config: Any, make_vec: Any,
                  params: dict[str, Any], resume_ckpt: Path | None, eval_seeds: list[int],
                  runs_dir: Path, uri: str) -> int:
    """Train inside one MLflow run; log the curves, the model and its config."""
    from tqdm import tqdm

    from steer.policies.rl_train import train
    from steer.session import make_env
    from steer.store import mlflow_client
    from steer.tracking import MLflowSink

    sink = MLflowSink(uri, config.name, f"train {args.algo} seed {args.seed}", params,
                      tags={"steer.kind": "train", "steer.policy": "rl"},
                      resume_run_id=args.resume)
    run_id = sink.run_id
    print(f"MLflow run id: {run_id}", flush=True)
    log = sink.log_step_metrics

    bar = tqdm(total=args.timesteps, desc="train rl", unit="step", leave=False,
               dynamic_ncols=True, file=sys.stderr, disable=None)
    score_key = "frac_characterised"

    def on_progress(step: int, evaluation: dict[str, float] | None) -> None:
        bar.n = min(step, args.timesteps)
        if evaluation is not None:
            bar.set_postfix({"eval reward": f"{evaluation.get('reward', float('nan')):.3f}",
                             score_key: f"{evaluation.get(score_key, float('nan')):.3f}"})
        bar.refresh() if step % 64 == 0 or evaluation is not None else None

    out_dir = runs_dir / "train" / run_id
    try:
        result = train(lambda: make_env(config), timesteps=args.timesteps, seed=args.seed,
                       envs=args.envs, eval_seeds=eval_seeds, eval_every=args.eval_every,
                       out_dir=out_dir, log=log, on_progress=on_progress,
                       resume_from=resume_ckpt, make_vec=make_vec,
                       extra={"experiment": config.name, "algo": args.algo,
                              "seed": args.seed, "run_id": run_id})
    except KeyboardInterrupt as exc:
        bar.close()
        sink.close()
        ckpt = out_dir / "checkpoint.zip"
        then = (f"its last checkpoint (saved at each evaluation, every {args.eval_every} steps) "
                f"is {ckpt}; continue with: steer train {args.experiment} --resume {run_id} "
                "(same options)" if ckpt.is_file() else
                "no checkpoint was saved yet (the first evaluation saves one): rerun the command")
        raise Interrupted(f"training run {run_id} stopped at step {bar.n} of {args.timesteps}; "
                          f"{then}") from exc
    except BaseException:
        bar.close()
        sink.close()
        raise
    bar.close()
    final = result.evaluations[-1]
    with tempfile.TemporaryDirectory() as tmp:
        cfg_file = Path(tmp) / "config.toml"
        cfg_file.write_text(config.source_text, encoding="utf-8")
        curve = Path(tmp) / "evaluations.json"
        curve.write_text(json.dumps(result.evaluations, indent=1), encoding="utf-8")
        mlflow_client(uri).log_artifacts(run_id, str(result.model_dir), "model")
        sink.finish({"env_steps_per_s": result.steps_per_s, "timesteps": result.timesteps,
                     **{f"final_eval_{k}": v for k, v in final.items() if k != "step"}},
                    artifacts={"config.toml": cfg_file, "evaluations.json": curve,
                               "checkpoint/checkpoint.zip": result.checkpoint})
    print(f"trained {result.timesteps} steps at {result.steps_per_s:.0f} env steps/s; "
          f"evaluation nights {eval_seeds}: reward {final.get('reward', float('nan')):.3f}, "
          f"{score_key} {final.get(score_key, float('nan')):.3f}")
    print(f"model: runs:/{run_id}/model")
    print(f"use it: steer run {args.experiment} --policy rl --model runs:/{run_id}/model")
    return 0


def _with_model(text: str, path: str) -> str:
    """The experiment's TOML with ``model = PATH`` in ``[policy.rl]`` (added or replaced)."""
    line = f"model = {json.dumps(path)}"
    lines = text.splitlines()
    head = next((i for i, s in enumerate(lines) if re.match(r"\s*\[policy\.rl\]\s*(#.*)?$", s)),
                None)
    if head is None:
        return text.rstrip("\n") + f"\n\n[policy.rl]\n{line}\n"
    end = next((i for i in range(head + 1, len(lines)) if re.match(r"\s*\[", lines[i])),
               len(lines))
    body = [s for s in lines[head + 1:end] if not re.match(r"\s*model\s*=", s)]
    return "\n".join([*lines[:head + 1], line, *body, *lines[end:]]) + "\n"


def resolve_model(config: Any, model: str, runs_dir: Path, uri: str) -> Any:
    """``config`` with ``[policy.rl] model`` set to a local copy of ``model``.

    Args:
        config: The experiment.
        model: ``runs:/<run id>/model`` or a local folder holding ``model.pt``.
        runs_dir: The run folder (MLflow models are downloaded under ``models/``).
        uri: The tracking URI the run id belongs to.

    Raises:
        ConfigError: no such run or artifact, or not a steer RL model.
    """
    from steer.config import parse_experiment

    text = _with_model(config.source_text, fetch_model(model, runs_dir, uri))
    new = parse_experiment(text, config.source_path)
    return dataclasses.replace(new, source_text=text)


def fetch_model(model: str, runs_dir: Path, uri: str) -> str:
    """The local folder of ``model`` (``runs:/<id>/model`` downloaded once), checked.

    Raises:
        ConfigError: no such run or artifact, or not a steer RL model.
    """
    from steer.policies.rl_net import load_model

    m = re.fullmatch(r"runs:/([0-9a-f]{32})/(.+)", model.strip())
    if m:
        dest = runs_dir / "models" / m.group(1) / m.group(2)
        if not (dest / "model.pt").is_file():
            import shutil

            import mlflow

            runs_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".model-", dir=runs_dir))
            try:
                got = Path(mlflow.artifacts.download_artifacts(
                    artifact_uri=model, dst_path=str(tmp), tracking_uri=uri))
                load_model(got)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.rmtree(dest, ignore_errors=True)
                got.rename(dest)
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure is "not there"
                raise ConfigError(f"--model {model}: cannot read it from {uri} "
                                  f"({type(exc).__name__})",
                                  "pass the runs:/<id>/model that `steer train` printed, "
                                  "with the same --runs-dir or --tracking-uri") from None
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        local = str(dest.resolve())
    elif model.startswith(("runs:/", "models:/", "http://", "https://")):
        raise ConfigError(f"--model {model!r} is not a run's model",
                          "use runs:/<32-hex run id>/model or a local folder")
    else:
        local = str(Path(model).resolve())
    load_model(local)  # a missing or foreign model fails now, before anything is written
    return local


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``steer train``."""
    t = subparsers.add_parser("train", help="train the rl policy (MaskablePPO) in simulation")
    t.add_argument("experiment", help="experiment file on steer/TargetSelection-v0")
    t.add_argument("--algo", default="maskable-ppo", help="algorithm (default maskable-ppo)")
    t.add_argument("--timesteps", type=int, default=20_000, help="env steps (default 20000)")
    t.add_argument("--envs", type=int, default=2, help="environments stepped side by side")
    t.add_argument("--workers", type=int, default=0,
                   help="Ray workers stepping the environments (default 0: in this process)")
    t.add_argument("--address", default=None,
                   help="join this Ray cluster (HOST:PORT or ray://HOST:10001) for the "
                        "rollouts; default: an embedded local Ray when --workers > 0")
    t.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    t.add_argument("--eval-every", type=int, default=5_000, help="steps between evaluations")
    t.add_argument("--eval-nights", type=int, default=2,
                   help="evaluation nights: the experiment's seeds, never trained on (default 2)")
    t.add_argument("--resume", default=None, metavar="RUN_ID",
                   help="continue an interrupted training from its checkpoint")
    t.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite under "
                        "--runs-dir)")
    t.add_argument("--runs-dir", default="runs", help="run folder (default: runs)")
    t.set_defaults(func=cmd_train)
