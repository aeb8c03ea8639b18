"""MLflow at the edge: a batched record sink, run loading and run listing.

:class:`MLflowSink` turns each :class:`~steer.records.DecisionRecord` into
step metrics (batched through ``MlflowClient.log_batch``); when the run
finishes it logs the summary metrics, the experiment file, the decision
journal, the decision table (the UI's "View as table") and the figures.
MLflow is imported lazily, and only ``MlflowClient`` is used (never the
fluent API and its global active run), so several sinks coexist in one
process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steer.errors import TrackingError
from steer.records import DecisionRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["default_runs_dir", "resolve_tracking_uri", "sqlite_db_path", "decision_table",
           "MLflowSink", "LoggedRun", "load_logged_run", "list_runs"]

log = logging.getLogger(__name__)

# Keep MLflow from phoning home; must happen before mlflow is imported.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

_MAX_PARAM_VALUE_CHARS = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
_MAX_KEY_CHARS = 250  # mlflow.utils.validation.MAX_ENTITY_KEY_LENGTH
_MAX_METRICS_PER_BATCH = 1000
_MAX_PARAMS_PER_BATCH = 100
_RUN_STATUSES = ("FINISHED", "FAILED", "KILLED")
_VERSIONED_DISTRIBUTIONS = {  # import name -> distribution name
    "steer": "steer-agent", "numpy": "numpy", "torch": "torch", "botorch": "botorch",
    "gpytorch": "gpytorch", "gymnasium": "gymnasium", "mlflow": "mlflow", "astropy": "astropy",
}
_CONDITION_METRICS = ("airmass", "seeing_fwhm_arcsec", "transparency", "m5_mag")
_NOT_STEP_METRICS = {"mjd_mid", "reward", "rejected", "decision_ms", "cumulative_reward"}
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")
_STORE_HINT = "pass --tracking-uri with a reachable store, or choose a writable --runs-dir"


def _mlflow_client(tracking_uri: str) -> Any:
    """Import MLflow (telemetry off) and return an ``MlflowClient`` for ``tracking_uri``."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


@contextlib.contextmanager
def _store_errors(message: str) -> Iterator[None]:
    """Turn MLflow, database and OS errors raised inside into :class:`TrackingError`."""
    try:
        yield
    except TrackingError:
        raise
    except Exception as exc:
        text = str(exc).strip()
        detail = text.splitlines()[0][:300] if text else type(exc).__name__
        raise TrackingError(f"{message}: {detail}", _STORE_HINT) from exc


def default_runs_dir() -> Path:
    """Return the default run folder, ``./runs`` under the current directory."""
    return Path.cwd() / "runs"


def sqlite_db_path(tracking_uri: str) -> Path | None:
    """Return the absolute database path of a ``sqlite:///`` URI, else ``None``.

    Args:
        tracking_uri: An MLflow tracking URI.

    Returns:
        The database file, or ``None`` for other schemes and in-memory SQLite.
    """
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = tracking_uri[len("sqlite:///"):].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(os.path.abspath(path))


def resolve_tracking_uri(uri: str | None, runs_dir: Path) -> str:
    """Choose the MLflow tracking URI.

    Precedence: an explicit ``uri``, then ``$MLFLOW_TRACKING_URI``, then a
    SQLite database ``<runs_dir>/mlflow.db`` (``runs_dir`` is created).

    Args:
        uri: URI given by the user (``--tracking-uri``), or ``None``.
        runs_dir: Run folder for the default SQLite store.

    Returns:
        The tracking URI.

    Raises:
        TrackingError: ``runs_dir`` cannot be created or written.
    """
    if uri:
        return uri
    env_uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if env_uri:
        return env_uri
    runs_dir = Path(runs_dir).expanduser().absolute()
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".steer-probe-", dir=runs_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise TrackingError(
            f"cannot create or write the run folder {str(runs_dir)!r}: {exc.strerror or exc}",
            "choose a writable folder (--runs-dir) or a store with --tracking-uri",
        ) from exc
    return f"sqlite:///{runs_dir / 'mlflow.db'}"


def _finite(value: Any) -> float | None:
    """Return ``value`` as a finite float, or ``None`` (None, NaN, inf, non-numbers)."""
    if value is None or isinstance(value, bool | str):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _flat_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten nested mappings to dotted keys MLflow accepts, values as bounded strings."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flat_params(value, prefix=f"{name}."))
            continue
        if isinstance(value, list | tuple):
            text = json.dumps(list(value), default=str)
        else:
            text = str(value)
        flat[_BAD_KEY_CHARS.sub("_", name)[:_MAX_KEY_CHARS]] = text[:_MAX_PARAM_VALUE_CHARS]
    return flat


def _package_versions() -> dict[str, str]:
    """Installed versions of steer and of the libraries that shape its results."""
    from importlib import metadata

    versions: dict[str, str] = {}
    for name, dist in _VERSIONED_DISTRIBUTIONS.items():
        try:
            versions[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            if name == "steer":
                import steer

                versions[name] = str(getattr(steer, "__version__", "unknown"))
    return versions


def _git_commit() -> str | None:
    """The commit of the git working directory, or ``None`` outside a repository."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def _step_metrics(record: DecisionRecord) -> dict[str, float]:
    """Per-decision metric values of one record (non-finite values left out)."""
    values: dict[str, Any] = {"reward": record.reward,
                              "rejected": 1.0 if record.status == "rejected" else 0.0}
    suggest_s = _finite((record.timings_s or {}).get("suggest"))
    if suggest_s is not None:
        values["decision_ms"] = 1000.0 * suggest_s
    if m := record.measurement:
        # every measured number (FWHM, position, value, regret...), not the clock
        values.update({k: v for k, v in m.items() if k not in _NOT_STEP_METRICS})
        values["exptime_s"] = m.get("exptime_s")
        overheads = m.get("overheads_s") or {}
        slew, settle = _finite(overheads.get("slew")), _finite(overheads.get("settle"))
        if slew is not None or settle is not None:
            values["slew_s"] = (slew or 0.0) + (settle or 0.0)
        conditions = m.get("conditions") or {}
        values.update({key: conditions.get(key) for key in _CONDITION_METRICS})
    return {k: f for k, v in values.items() if (f := _finite(v)) is not None}


def _short_json(value: Any, max_items: int = 3, max_chars: int = 300) -> str:
    """A compact JSON string of the first items of a list (for a table cell)."""
    if not value:
        return ""
    text = json.dumps(value[:max_items] if isinstance(value, list) else value,
                      separators=(",", ":"), default=str)
    return text if len(text) <= max_chars else text[: max_chars - 3] + "..."


def _table_row(record: DecisionRecord) -> dict[str, Any]:
    """One row of the decision table (``decisions.json``)."""
    proposal = record.proposal or {}
    action = proposal.get("action") or {}
    explanation = proposal.get("explanation") or {}
    m = record.measurement or {}
    cond = m.get("conditions") or {}
    suggest_s = _finite((record.timings_s or {}).get("suggest"))
    return {
        "step": record.step, "attempt": record.attempt, "status": record.status,
        "target_id": action.get("target_id", ""), "target_index": action.get("target_index"),
        "exptime_s": _finite(action.get("exptime_s", m.get("exptime_s"))),
        "score": _finite(proposal.get("score")), "reward": _finite(record.reward),
        "sim_mjd": _finite(record.sim_mjd), "alt_deg": _finite(cond.get("alt_deg")),
        "airmass": _finite(cond.get("airmass")),
        "seeing_fwhm_arcsec": _finite(cond.get("seeing_fwhm_arcsec")),
        "transparency": _finite(cond.get("transparency")), "m5_mag": _finite(cond.get("m5_mag")),
        "value_mag": _finite(m.get("value_mag")), "error_mag": _finite(m.get("error_mag")),
        "decision_ms": None if suggest_s is None else 1000.0 * suggest_s,
        "reason": str((record.safety or {}).get("reason") or explanation.get("reason") or ""),
        "decided_by": record.decided_by,
        "runners_up": _short_json(explanation.get("runners_up")),
        "x": _short_json(action.get("x"), max_items=12),
        "measured": _short_json({k: v for k, v in m.items() if isinstance(v, int | float)
                                 and not isinstance(v, bool)} if "x" in action else None),
    }


def decision_table(records: list[DecisionRecord]) -> Any:
    """Build the decision table, one row per record, as a ``pandas.DataFrame``.

    Missing values are ``None`` (not NaN): MLflow writes the table as JSON and
    the UI cannot parse NaN.
    """
    import pandas as pd

    df = pd.DataFrame([_table_row(r) for r in records])
    return df.astype(object).where(df.notna(), None)


class MLflowSink:
    """A :class:`~steer.protocols.RecordSink` that logs decisions to one MLflow run.

    Args:
        tracking_uri: MLflow tracking URI (see :func:`resolve_tracking_uri`).
        experiment_name: Experiment to log into (created if missing; for a
            SQLite store its artifacts go to ``artifacts/`` beside the database).
        run_name: Name of the new run.
        params: Run parameters; nested dicts become dotted keys, values are
            stringified and truncated to MLflow's limit. Package versions
            (``versions.<package>``) and ``git_commit`` are added.
        tags: Extra run tags.
        batch_size: Records buffered before a ``log_batch`` call.

    Raises:
        TrackingError: The store cannot be opened or written.
    """

    def __init__(self, tracking_uri: str, experiment_name: str, run_name: str,
                 params: dict[str, object], tags: dict[str, str] | None = None,
                 batch_size: int = 200) -> None:
        if batch_size < 1:
            raise TrackingError(f"batch_size={batch_size!r} must be at least 1",
                                "use the default, 200")
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.batch_size = int(batch_size)
        self._buffer: list[Any] = []
        self._n_buffered = self._n_written = 0
        self._cumulative_reward = 0.0
        self._last_timestamp_ms = 0
        self._step_keys: set[str] = set()  # metrics logged per decision
        self._last_step = 0
        self._closed = False
        with self._store_errors("open"):
            db = sqlite_db_path(tracking_uri)
            if db is not None:
                db.parent.mkdir(parents=True, exist_ok=True)
            self._client = _mlflow_client(tracking_uri)
            self.experiment_id = self._experiment_id(experiment_name, db)
            all_tags = {"steer.experiment": experiment_name, **(tags or {})}
            run = self._client.create_run(self.experiment_id, run_name=run_name,
                                          tags={str(k): str(v) for k, v in all_tags.items()})
            self._run_id: str = run.info.run_id
        try:
            self._log_params(params)
        except BaseException:
            self._terminate_quietly()
            raise
        log.info("MLflow run %s (%s) in experiment %r at %s", self._run_id, run_name,
                 experiment_name, tracking_uri)

    @property
    def run_id(self) -> str:
        """The MLflow run id."""
        return self._run_id

    def _store_errors(self, verb: str) -> contextlib.AbstractContextManager[None]:
        return _store_errors(f"cannot {verb} the MLflow store {self.tracking_uri!r}")

    def _experiment_id(self, name: str, db: Path | None) -> str:
        """Return the id of experiment ``name``, creating it if missing."""
        from mlflow.exceptions import MlflowException

        exp = self._client.get_experiment_by_name(name)
        if exp is None:
            location = (db.parent / "artifacts").as_uri() if db is not None else None
            try:
                return str(self._client.create_experiment(name, artifact_location=location))
            except MlflowException:  # created meanwhile by another process?
                exp = self._client.get_experiment_by_name(name)
                if exp is None:
                    raise
        if exp.lifecycle_stage == "deleted":
            raise TrackingError(f"MLflow experiment {name!r} is deleted",
                                "restore it in the MLflow UI or use another experiment name")
        return str(exp.experiment_id)

    def _log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        flat = _flat_params(params)
        for name, version in _package_versions().items():
            flat.setdefault(f"versions.{name}", version)
        if commit := _git_commit():
            flat.setdefault("git_commit", commit)
        items = [Param(k, v) for k, v in flat.items()]
        with self._store_errors("log parameters to"):
            for i in range(0, len(items), _MAX_PARAMS_PER_BATCH):
                self._client.log_batch(self._run_id, params=items[i:i + _MAX_PARAMS_PER_BATCH],
                                       synchronous=True)

    def _check_open(self) -> None:
        if self._closed:
            raise TrackingError(f"MLflow run {self._run_id} is already closed",
                                "create a new MLflowSink for a new run")

    def write(self, record: DecisionRecord) -> None:
        """Buffer the step metrics of one record; flush every ``batch_size`` records.

        Raises:
            TrackingError: The run is closed, or the store cannot be written.
        """
        from mlflow.entities import Metric

        self._check_open()
        values = _step_metrics(record)
        self._cumulative_reward += values.get("reward", 0.0)
        values["cumulative_reward"] = self._cumulative_reward
        # Strictly increasing timestamps: MLflow drops a point identical in (key, step,
        # value, timestamp), which two quick attempts at one step would otherwise be.
        timestamp_ms = max(int((_finite(record.wall_time_unix) or time.time()) * 1000),
                           self._last_timestamp_ms + 1)
        self._last_timestamp_ms = timestamp_ms
        self._buffer.extend(Metric(k, v, timestamp_ms, int(record.step)) for k, v in values.items())
        self._step_keys.update(values)
        self._last_step = max(self._last_step, int(record.step))
        self._n_buffered += 1
        self._n_written += 1
        if self._n_buffered >= self.batch_size:
            self.flush()

    def _log_metrics(self, metrics: list[Any]) -> None:
        """Send metrics in chunks MLflow accepts; sent ones leave ``metrics``."""
        with self._store_errors("write metrics to"):
            while metrics:
                self._client.log_batch(self._run_id, metrics=metrics[:_MAX_METRICS_PER_BATCH],
                                       synchronous=True)
                del metrics[:_MAX_METRICS_PER_BATCH]

    def flush(self) -> None:
        """Send buffered metrics to MLflow (on failure the unsent ones stay buffered).

        Raises:
            TrackingError: The store cannot be written.
        """
        self._log_metrics(self._buffer)
        self._n_buffered = 0

    def finish(self, summary: dict[str, float], artifacts: dict[str, str | Path] | None = None,
               figures: dict[str, Figure] | None = None,
               records: list[DecisionRecord] | None = None, status: str = "FINISHED") -> None:
        """Flush, log the run's outputs and mark it terminated.

        If anything fails, the run is marked ``FAILED`` and the error raised.

        Args:
            summary: Summary metrics, logged at step 0, or at the last step for a
                metric also logged per decision (the episode's final value, e.g.
                ``best_fwhm_arcsec``, ends its history); non-finite values skipped.
            artifacts: Artifact name, i.e. its path inside the run (e.g.
                ``"config.toml"``, ``"decisions.jsonl"``), to a local file.
            figures: Name to matplotlib Figure, logged as ``plots/<name>.png``
                (not closed here).
            records: The night's decisions, logged as the table ``decisions.json``.
            status: Final run status, ``FINISHED``, ``FAILED`` or ``KILLED``.

        Raises:
            TrackingError: Bad status, missing artifact file, closed run, or
                the store cannot be written.
        """
        from mlflow.entities import Metric

        if status not in _RUN_STATUSES:
            raise TrackingError(f"run status {status!r} is not one of {_RUN_STATUSES}",
                                "use FINISHED, FAILED or KILLED")
        self._check_open()
        try:
            self.flush()
            now_ms = max(int(time.time() * 1000), self._last_timestamp_ms + 1)
            self._log_metrics([Metric(str(k), f, now_ms,
                                      self._last_step if str(k) in self._step_keys else 0)
                               for k, v in summary.items() if (f := _finite(v)) is not None])
            for name, path in (artifacts or {}).items():
                self._log_artifact(name, Path(path))
            with self._store_errors("write artifacts to"):
                if records:
                    self._client.log_table(self._run_id, data=decision_table(records),
                                           artifact_file="decisions.json")
                for name, fig in (figures or {}).items():
                    self._client.log_figure(self._run_id, fig, f"plots/{name}.png",
                                            save_kwargs={"bbox_inches": "tight"})
        except BaseException:
            self._terminate_quietly()
            raise
        self._terminate(status)

    def _log_artifact(self, name: str, path: Path) -> None:
        """Log ``path`` so that it appears as ``name`` inside the run."""
        if not path.is_file():
            raise TrackingError(f"artifact {name!r}: no file at {str(path)!r}",
                                "pass the path of an existing file")
        parent, _, base = name.strip("/").rpartition("/")
        with self._store_errors("write artifacts to"), \
                tempfile.TemporaryDirectory(prefix="steer-artifact-") as tmp:
            if base != path.name:  # stage a copy under the wanted name
                path = Path(shutil.copyfile(path, Path(tmp) / base))
            self._client.log_artifact(self._run_id, str(path), parent or None)

    def _terminate(self, status: str) -> None:
        """Mark the run terminated (once)."""
        if self._closed:
            return
        self._closed = True
        with self._store_errors("finish the run in"):
            self._client.set_terminated(self._run_id, status=status)
        log.info("MLflow run %s ended %s after %d decisions", self._run_id, status,
                 self._n_written)

    def _terminate_quietly(self) -> None:
        """Mark the run FAILED while another error is on its way out."""
        try:
            self._terminate("FAILED")
        except TrackingError as exc:
            log.warning("could not mark MLflow run %s as FAILED: %s", self._run_id, exc)

    def close(self) -> None:
        """Flush and end the run as ``FAILED`` if :meth:`finish` was never called.

        Idempotent: does nothing after :meth:`finish` or a previous close.
        """
        if self._closed:
            return
        try:
            self.flush()
        except BaseException:
            self._terminate_quietly()
            raise
        self._terminate("FAILED")

    def __enter__(self) -> MLflowSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# the reading side lives in steer.runs; re-exported here for callers of this module
from steer.runs import LoggedRun, list_runs, load_logged_run  # noqa: E402
