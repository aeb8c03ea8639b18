"""MLflow at the edge: the batched record sink that logs one run.

:class:`MLflowSink` turns each :class:`~steer.records.DecisionRecord` into
step metrics (batched through ``MlflowClient.log_batch``, and sent at least
every ``flush_s`` seconds); when the run finishes it logs the summary
metrics, the experiment file, the decision journal, the decision table (the
UI's "View as table") and the figures. Which metrics and columns a record
gives is the environment's presenter's business (:mod:`steer.table`).
MLflow is imported lazily, and only ``MlflowClient`` is used (never the
fluent API and its global active run), so several sinks coexist in one
process. URIs and the store live in :mod:`steer.store`, reading runs back in
:mod:`steer.runs`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steer.errors import TrackingError
from steer.presenter import Presenter, finite
from steer.provenance import flat_params, git_commit, package_versions
from steer.records import DecisionRecord
from steer.store import mlflow_client, sqlite_db_path, store_errors
from steer.table import decision_table, step_metrics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["COMPARE_STEP_METRICS", "MLflowSink", "StepRows"]

log = logging.getLogger(__name__)

_MAX_METRICS_PER_BATCH = 1000
_MAX_PARAMS_PER_BATCH = 100
_RUN_STATUSES = ("FINISHED", "FAILED", "KILLED")

#: The per-decision metrics ``steer compare`` logs for each of its many episode runs
#: (the rest of each decision is in the run's decision table and journal): writing
#: every per-decision metric of 16 episodes, 26,000 rows through MLflow's store at
#: about 0.2 ms a row, was most of the driver's serial time.
COMPARE_STEP_METRICS = ("reward", "cumulative_reward", "decision_ms")


class StepRows:
    """A run's per-decision metric rows, ``(key, value, timestamp_ms, step)``, record by record.

    What :meth:`MLflowSink.write` logs for each record, computed without MLflow,
    so that a Ray worker can compute them and the driver only writes them
    (:meth:`MLflowSink.log_step_rows`). The running cumulative reward and the
    strictly increasing timestamps (MLflow drops a point identical in key,
    step, value and timestamp, which two quick attempts at one step would
    otherwise be) are this object's state.

    Args:
        presenter: The environment's presenter (which metrics a record gives).
        keys: Only these metrics (``None``: every metric a record gives).
    """

    def __init__(self, presenter: Presenter, keys: tuple[str, ...] | None = None) -> None:
        self.presenter = presenter
        self.keys = None if keys is None else frozenset(keys)
        self.cumulative_reward = 0.0
        self.last_timestamp_ms = 0

    def rows(self, record: DecisionRecord) -> list[tuple[str, float, int, int]]:
        """The metric rows of the next record."""
        values = step_metrics(record, self.presenter)
        self.cumulative_reward += values.get("reward", 0.0)
        values["cumulative_reward"] = self.cumulative_reward
        timestamp_ms = max(int((finite(record.wall_time_unix) or time.time()) * 1000),
                           self.last_timestamp_ms + 1)
        self.last_timestamp_ms = timestamp_ms
        return [(k, v, timestamp_ms, int(record.step)) for k, v in values.items()
                if self.keys is None or k in self.keys]

    def all_rows(self, records: list[DecisionRecord]) -> list[tuple[str, float, int, int]]:
        """The metric rows of ``records``, in order."""
        return [row for rec in records for row in self.rows(rec)]


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
        presenter: The environment's presenter: which per-step metrics and
            table columns a record gives (default: the generic ones).
        flush_s: Buffered records are also sent once this many seconds
            passed since the last send, so a long night shows up live.
        resume_run_id: Continue this existing run instead of creating one: it
            is set RUNNING again, tagged ``steer.resumed`` (how many times) and
            its parameters are left as they were.

    Every run is tagged with the process that writes it (``steer.pid``,
    ``steer.host``), so a run whose process died can be recognised and
    marked (:func:`steer.runs.mark_dead_runs`).

    Raises:
        TrackingError: The store cannot be opened or written.
    """

    def __init__(self, tracking_uri: str, experiment_name: str, run_name: str,
                 params: dict[str, object], tags: dict[str, str] | None = None,
                 batch_size: int = 200, presenter: Presenter | None = None,
                 flush_s: float = 5.0, resume_run_id: str | None = None) -> None:
        if batch_size < 1:
            raise TrackingError(f"batch_size={batch_size!r} must be at least 1",
                                "use the default, 200")
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.batch_size = int(batch_size)
        self.presenter = presenter if presenter is not None else Presenter()
        self.flush_s = float(flush_s)
        self._last_flush = time.monotonic()
        self._buffer: list[Any] = []
        self._n_buffered = self._n_written = 0
        self._rows = StepRows(self.presenter)  # its timestamp is the run's one clock
        self._step_keys: set[str] = set()  # metrics logged per decision
        self._last_step = 0
        self._closed = False
        with self._store_errors("open"):
            db = sqlite_db_path(tracking_uri)
            if db is not None:
                db.parent.mkdir(parents=True, exist_ok=True)
            self._client = mlflow_client(tracking_uri)
            self.experiment_id = self._experiment_id(experiment_name, db)
            owner = {"steer.pid": str(os.getpid()), "steer.host": socket.gethostname()}
            if resume_run_id is None:
                all_tags = {"steer.experiment": experiment_name, **owner, **(tags or {})}
                run = self._client.create_run(self.experiment_id, run_name=run_name,
                                              tags={str(k): str(v) for k, v in all_tags.items()})
                self._run_id: str = run.info.run_id
            else:
                run = self._client.get_run(resume_run_id)
                self._run_id = run.info.run_id
                resumed = int(run.data.tags.get("steer.resumed", "0")) + 1
                self._client.update_run(self._run_id, status="RUNNING")
                for key, value in {**owner, "steer.resumed": str(resumed)}.items():
                    self._client.set_tag(self._run_id, key, value)
        if resume_run_id is None:
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
        return store_errors(f"cannot {verb} the MLflow store {self.tracking_uri!r}")

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

        flat = flat_params(params)
        for name, version in package_versions().items():
            flat.setdefault(f"versions.{name}", version)
        if commit := git_commit():
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
        self._check_open()
        self._buffer_rows(self._rows.rows(record))
        self._n_buffered += 1
        self._n_written += 1
        if (self._n_buffered >= self.batch_size
                or time.monotonic() - self._last_flush >= self.flush_s):
            self.flush()

    def log_step_rows(self, rows: list[tuple[str, float, int, int]], n_records: int) -> None:
        """Log the per-decision rows a :class:`StepRows` computed elsewhere (a Ray
        worker) for ``n_records`` records, as :meth:`write` would have, now.

        Raises:
            TrackingError: The run is closed, or the store cannot be written.
        """
        self._check_open()
        self._buffer_rows(rows)
        self._n_written += int(n_records)
        self.flush()

    def _buffer_rows(self, rows: list[tuple[str, float, int, int]]) -> None:
        from mlflow.entities import Metric

        for key, value, timestamp_ms, step in rows:
            self._buffer.append(Metric(key, value, timestamp_ms, step))
            self._step_keys.add(key)
            self._last_step = max(self._last_step, step)
            self._rows.last_timestamp_ms = max(self._rows.last_timestamp_ms, timestamp_ms)

    def _log_metrics(self, metrics: list[Any]) -> None:
        """Send metrics in chunks MLflow accepts; sent ones leave ``metrics``."""
        with self._store_errors("write metrics to"):
            while metrics:
                self._client.log_batch(self._run_id, metrics=metrics[:_MAX_METRICS_PER_BATCH],
                                       synchronous=True)
                del metrics[:_MAX_METRICS_PER_BATCH]

    def log_step_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Log ``metrics`` at ``step`` now (a training or tuning curve), non-finite skipped.

        Raises:
            TrackingError: Closed run, or the store cannot be written.
        """
        from mlflow.entities import Metric

        self._check_open()
        now_ms = max(int(time.time() * 1000), self._rows.last_timestamp_ms + 1)
        self._rows.last_timestamp_ms = now_ms
        self._log_metrics([Metric(str(k), f, now_ms, int(step)) for k, v in metrics.items()
                           if (f := finite(v)) is not None])

    def flush(self) -> None:
        """Send buffered metrics to MLflow (on failure the unsent ones stay buffered).

        Raises:
            TrackingError: The store cannot be written.
        """
        self._log_metrics(self._buffer)
        self._n_buffered = 0
        self._last_flush = time.monotonic()

    def finish(self, summary: dict[str, float], artifacts: dict[str, str | Path] | None = None,
               figures: dict[str, Figure] | None = None,
               records: list[DecisionRecord] | None = None, status: str = "FINISHED",
               table: Any = None) -> None:
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
            table: That table already made (:func:`steer.table.decision_table`,
                e.g. in a Ray worker), instead of ``records``.
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
            now_ms = max(int(time.time() * 1000), self._rows.last_timestamp_ms + 1)
            self._log_metrics([Metric(str(k), f, now_ms,
                                      self._last_step if str(k) in self._step_keys else 0)
                               for k, v in summary.items() if (f := finite(v)) is not None])
            for name, path in (artifacts or {}).items():
                self._log_artifact(name, Path(path))
            with self._store_errors("write artifacts to"):
                if table is None and records:
                    table = decision_table(records, self.presenter)
                if table is not None:
                    self._client.log_table(self._run_id, data=table,
                                           artifact_file="decisions.json")
                for name, fig in (figures or {}).items():
                    self._client.log_figure(self._run_id, fig, f"plots/{name}.png",
                                            save_kwargs={"bbox_inches": "tight"})
        except BaseException:
            self._terminate_quietly()
            raise
        self._terminate(status)

    def log_artifact(self, name: str, path: str | Path) -> None:
        """Log one file now (e.g. the config at the start of a night), as ``name``.

        Raises:
            TrackingError: Missing file, closed run, or the store cannot be written.
        """
        self._check_open()
        self._log_artifact(name, Path(path))

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
