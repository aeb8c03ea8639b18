"""Reading logged runs back from MLflow: their parameters, config and decisions."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from steer.errors import SteerError, TrackingError
from steer.records import DecisionRecord, read_journal
from steer.store import mlflow_client, store_errors

__all__ = ["LoggedRun", "as_logged_version", "load_logged_run", "list_runs", "mark_dead_runs",
           "load_local_run", "local_run_files", "pid_alive"]


@dataclass
class LoggedRun:
    """A run read back from MLflow, enough to replay it.

    Attributes:
        run_id: The MLflow run id.
        params: The run's parameters (strings, as MLflow stores them).
        config_text: The experiment file logged as ``config.toml`` (``None``
            if the run has none).
        seed: Episode seed (param ``seed``).
        policy: Policy id (param ``policy``).
        records: The decisions, from the ``decisions.jsonl`` artifact.
    """

    run_id: str
    params: dict[str, str]
    config_text: str | None
    seed: int
    policy: str
    records: list[DecisionRecord] = field(default_factory=list)


def load_logged_run(run_id: str, tracking_uri: str) -> LoggedRun:
    """Read a logged run back: parameters, experiment file and decisions.

    Args:
        run_id: The MLflow run id.
        tracking_uri: Where the run is stored.

    Returns:
        The run as a :class:`LoggedRun`.

    Raises:
        TrackingError: Unknown run id, a run without ``decisions.jsonl``
            (never finished), or an unreadable store.
    """
    from mlflow.exceptions import MlflowException

    with store_errors(f"cannot read run {run_id!r} from {tracking_uri!r}"):
        client = mlflow_client(tracking_uri)
        try:
            run = client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise
            raise TrackingError(f"no MLflow run with id {run_id!r} in {tracking_uri!r}",
                                "list runs with `steer runs` or browse them with `steer ui`"
                                ) from exc
        names = {f.path for f in client.list_artifacts(run_id)}
        if "decisions.jsonl" not in names:
            raise TrackingError(
                f"run {run_id!r} has no decisions.jsonl artifact (status {run.info.status})",
                "it did not finish: `steer replay runs/journals/<run id>.jsonl` replays it "
                "from its local journal, `steer run EXPERIMENT --resume <run id>` continues it")
        config_name = "config.toml" if "config.toml" in names else next(
            (n for n in sorted(names) if n.endswith((".toml", ".yaml", ".yml"))), None)
        with tempfile.TemporaryDirectory(prefix="steer-run-") as tmp:
            records = list(read_journal(client.download_artifacts(run_id, "decisions.jsonl", tmp)))
            config_text = None if config_name is None else Path(
                client.download_artifacts(run_id, config_name, tmp)).read_text(encoding="utf-8")
    params = dict(run.data.params)
    seed_text = params.get("seed", str(records[0].seed) if records else "")
    try:
        seed = int(seed_text)
    except ValueError as exc:
        raise TrackingError(f"run {run_id!r} has no usable seed parameter ({seed_text!r})",
                            "was it logged by steer?") from exc
    policy = params.get("policy", records[0].policy if records else "")
    return LoggedRun(run_id=run_id, params=params, config_text=config_text, seed=seed,
                     policy=policy, records=records)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True
    return True


def mark_dead_runs(tracking_uri: str) -> list[str]:
    """Mark ``KILLED`` every ``RUNNING`` run whose writing process on this host is gone.

    A night killed with ``kill -9`` cannot end its own MLflow run; the next
    ``steer runs``, ``steer run --resume`` or ``steer ui`` sees it and says
    so (tag ``steer.died``). Runs written from other hosts are left alone.

    Returns:
        The ids of the runs marked.
    """
    host = socket.gethostname()
    marked = []
    with store_errors(f"cannot read the MLflow store {tracking_uri!r}"):
        client = mlflow_client(tracking_uri)
        ids = [e.experiment_id for e in client.search_experiments()]
        running = client.search_runs(ids, filter_string="attributes.status = 'RUNNING'",
                                     max_results=1000) if ids else []
        for run in running:
            tags = run.data.tags
            pid = tags.get("steer.pid", "")
            if tags.get("steer.host") != host or not pid.isdigit() or pid_alive(int(pid)):
                continue
            when = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            client.set_tag(run.info.run_id, "steer.died",
                           f"process {pid} on {host} was gone when seen at {when}")
            client.set_terminated(run.info.run_id, status="KILLED")
            marked.append(run.info.run_id)
    return marked


def local_run_files(runs_dir: Path, run_id: str) -> dict[str, Path]:
    """The files a night keeps in the run folder: journal, config, run metadata."""
    base = Path(runs_dir) / "journals" / run_id
    return {"journal": base.with_suffix(".jsonl"), "config": base.with_suffix(".config.toml"),
            "meta": base.with_suffix(".meta.json")}


def load_local_run(journal: str | Path) -> LoggedRun:
    """A run read back from its local journal and the config and metadata saved beside it.

    Args:
        journal: ``runs/journals/<run id>.jsonl``.

    Raises:
        TrackingError: no journal, or none of the files ``steer run`` saves
            beside it at the start of a night.
    """
    path = Path(journal)
    records = list(read_journal(path))
    run_id = path.stem
    files = local_run_files(path.parent.parent, run_id)
    if not files["meta"].is_file() or not files["config"].is_file():
        raise TrackingError(f"no {files['meta'].name} and {files['config'].name} beside "
                            f"{str(path)!r}", "was the journal written by steer run?")
    meta = json.loads(files["meta"].read_text(encoding="utf-8"))
    return LoggedRun(run_id=run_id, params={k: str(v) for k, v in meta.items()},
                     config_text=files["config"].read_text(encoding="utf-8"),
                     seed=int(meta["seed"]), policy=str(meta["policy"]), records=records)


def list_runs(tracking_uri: str, experiment_name: str | None = None,
              max_results: int = 100) -> list[dict[str, Any]]:
    """List runs, newest first.

    Args:
        tracking_uri: Where the runs are stored.
        experiment_name: Only this experiment (default: all active ones).
        max_results: At most this many runs.

    Returns:
        One dict per run with ``run_id``, ``experiment``, ``run_name``,
        ``status``, ``start_time`` (ISO 8601, UTC), ``policy``, ``seed``,
        ``kind`` (``episode``, ``campaign`` or ``comparison``), ``night``
        (``"k/N"`` for a campaign's night, ``"all N"`` for the campaign, ``""``
        for a single night), and ``key_metric`` /
        ``key_value``: the headline metric its environment's presenter names
        (``None`` where absent).

    Raises:
        TrackingError: Unknown experiment or unreadable store.
    """
    mark_dead_runs(tracking_uri)
    with store_errors(f"cannot read the MLflow store {tracking_uri!r}"):
        client = mlflow_client(tracking_uri)
        experiments = list(client.search_experiments())
        if experiment_name is not None:
            experiments = [e for e in experiments if e.name == experiment_name]
            if not experiments:
                known = ", ".join(sorted(e.name for e in client.search_experiments()))
                raise TrackingError(f"no MLflow experiment named {experiment_name!r}",
                                    f"known experiments: {known or 'none'}")
        names = {e.experiment_id: e.name for e in experiments}
        runs = client.search_runs(list(names), max_results=max_results,
                                  order_by=["attributes.start_time DESC"]) if names else []
    key_of: dict[str, str] = {}

    def key_metric(env_id: str | None) -> str:
        if not env_id:
            return ""
        if env_id not in key_of:
            from steer.session import presenter_for

            try:
                key_of[env_id] = presenter_for(env_id).key_metric
            except SteerError:  # an environment this installation does not have
                key_of[env_id] = ""
        return key_of[env_id]

    out = []
    for run in runs:
        info, data = run.info, run.data
        start = None if not info.start_time else datetime.fromtimestamp(
            info.start_time / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        seed = data.params.get("seed")
        nights, night = data.params.get("nights"), data.params.get("night")
        out.append({
            "night": "" if nights in (None, "1") else f"all {nights}" if night is None
            else f"{night}/{nights}",
            "run_id": info.run_id, "experiment": names.get(info.experiment_id, ""),
            "run_name": info.run_name, "status": info.status, "start_time": start,
            "policy": data.params.get("policy") or data.params.get("policies"),
            "seed": int(seed) if seed is not None and seed.lstrip("-").isdigit() else seed,
            "kind": data.tags.get("steer.kind", "episode"),
            "key_metric": (key := key_metric(data.params.get("env_id"))) or None,
            "key_value": data.metrics.get(key) if key else None,
        })
    return out


def as_logged_version(config: Any, name: str, records: list[DecisionRecord]
                      ) -> tuple[Any, str]:
    """The configuration under which a run's policy behaves as the version that made it.

    A policy whose behaviour changed names, in ``earlier_versions``, the settings
    that restore each earlier version (``{"3": {"amplitude_bins": 1}}``); the
    version a run was made by is in its decision records. For ``steer replay``
    and ``steer run --resume``.

    Args:
        config: The run's :class:`~steer.config.ExperimentConfig`.
        name: The run's policy.
        records: The run's decision records.

    Returns:
        The configuration to replay with (``config`` itself when nothing
        changed) and a one-line note for the user ("" when nothing changed).
    """
    import dataclasses

    from steer.policies import make_policy, policy_class

    was = next((r.policy_version for r in records if r.policy == name), None)
    earlier = getattr(policy_class(name), "earlier_versions", None)
    if was is None or earlier is None:  # only policies that declare their history
        return config, ""
    params = config.policy_params(name)
    now = str(make_policy(name, **params).version)
    if was == now:
        return config, ""
    restore = earlier.get(was)
    base, _, options = was.partition("+")  # "6+lookahead": version 6 with an option on
    if restore is None and options and now.partition("+")[2] == options:
        restore = earlier.get(base)
    kwargs = {**config.policy_kwargs, name: {**params, **(restore or {})}}
    if restore is None or str(make_policy(name, **kwargs[name]).version) != was:
        return config, (f"note: the run was made by {name} version {was}, this steer's is {now}; "
                        "its decisions may differ")
    settings = ", ".join(f"{k} = {v!r}" for k, v in restore.items())
    return (dataclasses.replace(config, policy_kwargs=kwargs),
            f"the run was made by {name} version {was} (this steer's is {now}): "
            f"replaying with [policy.{name}] {settings}")
