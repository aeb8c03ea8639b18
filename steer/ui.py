"""Serve the MLflow UI over steer's tracking store (``steer ui``).

The server is ``python -m mlflow server`` in its own process group,
listening on one loopback address only (127.0.0.2, or 127.0.0.1 where the
system has no other), with MLflow's job runner and telemetry off and
a private ``TMPDIR``; MLflow's security middleware stays on (a foreign
``Host`` header gets 403). Links point at the classic runs view
(``?workflowType=machine_learning``): MLflow 3 otherwise opens an empty
GenAI dashboard. ``steer ui`` also prints links to the latest runs'
``report.html`` (the Artifacts tab shows it).

The Assistant side panel of MLflow 3.17 has no server switch: its React
context offers it whenever the page's host is ``localhost``/``127.0.0.1``/
``::1`` (or ``MLFLOW_ENABLE_REMOTE_ASSISTANT`` is set) and opens it once per
browser. Served on 127.0.0.2 (still loopback) the UI offers no assistant at
all; only where 127.0.0.2 cannot be bound does it fall back to 127.0.0.1,
where the panel opens once and stays closed after the user closes it.

Example:
    >>> with MlflowServer("sqlite:////abs/runs/mlflow.db") as server:  # doctest: +SKIP
    ...     print(server.url)
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, TextIO

from steer.errors import TrackingError
from steer.tracking import sqlite_db_path

__all__ = ["MlflowServer", "ui_command", "runs_page_url", "report_page_url", "latest_reports"]

log = logging.getLogger(__name__)

def _ui_host() -> str:
    """127.0.0.2 where it can be bound (Linux: all of 127/8 is loopback), else 127.0.0.1.

    MLflow 3.17's UI opens its LLM Assistant panel whenever the page's host is
    ``localhost``/``127.0.0.1``/``::1``; on another loopback address it offers
    none, and the page opens on the runs as a scientist expects.
    """
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
        return "127.0.0.2"
    except OSError:
        return "127.0.0.1"


_HOST = UI_HOST = _ui_host()
_STOP_GRACE_S = 5.0
_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception)\b")


def runs_page_url(base_url: str, experiment_id: str | None) -> str:
    """The UI address of an experiment's runs table (or of the experiments list).

    Args:
        base_url: Server address, e.g. ``http://127.0.0.1:5000``.
        experiment_id: Experiment to open, ``None`` for the list.

    Returns:
        A URL that opens the classic (machine-learning) runs view.
    """
    if experiment_id is None:
        return f"{base_url}/#/experiments?workflowType=machine_learning"
    return f"{base_url}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def report_page_url(base_url: str, experiment_id: str, run_id: str) -> str:
    """The UI address of a run's ``report.html`` in its Artifacts tab (model-training view)."""
    return (f"{base_url}/#/experiments/{experiment_id}/runs/{run_id}/artifacts/report.html"
            "?workflowType=machine_learning")


def latest_reports(base_url: str, experiment_id: str | None,
                   max_runs: int = 5) -> list[tuple[str, str]]:
    """``(run name, report link)`` of the newest runs of an experiment that have a report.

    Asks the server's REST API (``runs/search`` and ``artifacts/list``); an
    unreachable server gives ``[]``.
    """
    if experiment_id is None:
        return []
    out = []
    try:
        status, body = _http("POST", f"{base_url}/api/2.0/mlflow/runs/search",
                             {"experiment_ids": [experiment_id], "max_results": 50,
                              "order_by": ["attributes.start_time DESC"]})
        if status != 200:
            return []
        for run in json.loads(body).get("runs", []):
            info = run.get("info", {})
            status, listing = _http("GET", f"{base_url}/api/2.0/mlflow/artifacts/list?"
                                           f"run_id={info.get('run_id')}")
            files = {f.get("path") for f in json.loads(listing).get("files", [])} \
                if status == 200 else set()
            if "report.html" in files:
                out.append((str(info.get("run_name", "")),
                            report_page_url(base_url, experiment_id, str(info["run_id"]))))
            if len(out) >= max_runs:
                break
    except (OSError, ValueError, KeyError):
        return out
    return out


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((_HOST, 0))
        return int(s.getsockname()[1])


def _check_port_free(port: int) -> None:
    """Raise :class:`TrackingError` if ``port`` cannot be bound on 127.0.0.1."""
    if not 0 < port < 65536:
        raise TrackingError(f"port {port} is not a valid TCP port", "use 1024-65535")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((_HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise TrackingError(f"port {port} on {_HOST} is already in use",
                                    "pick another with --port, or omit --port for a free one"
                                    ) from exc
            raise TrackingError(f"cannot listen on port {port}: {exc.strerror}",
                                "pick a port above 1024 with --port") from exc


def _http(method: str, url: str, body: dict[str, Any] | None = None,
          timeout_s: float = 5.0) -> tuple[int, bytes]:
    """A small HTTP request to the local server; returns (status, body)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - loopback
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class MlflowServer:
    """An ``mlflow server`` subprocess over a tracking store, on 127.0.0.1.

    Use as a context manager (start and wait until healthy, stop on exit) or
    call :meth:`start` and :meth:`stop` yourself.

    Args:
        tracking_uri: Backend store URI (a ``sqlite:///`` path is made
            absolute; its artifacts default to ``artifacts/`` beside the
            database).
        port: TCP port; a free one when ``None``.
        startup_timeout_s: How long :meth:`wait_ready` waits for ``/health``.
    """

    def __init__(self, tracking_uri: str, port: int | None = None,
                 startup_timeout_s: float = 60.0) -> None:
        if tracking_uri.startswith(("http://", "https://", "databricks")):
            raise TrackingError(f"{tracking_uri!r} is already served by a tracking server",
                                "open it in a browser; `steer ui` serves local stores only")
        # The server runs in a private working directory: make local paths absolute.
        if "://" not in tracking_uri and not tracking_uri.startswith(("sqlite:", "file:")):
            tracking_uri = str(Path(tracking_uri).absolute())
        db = sqlite_db_path(tracking_uri)
        self.tracking_uri = f"sqlite:///{db}" if db is not None else tracking_uri
        self._db = db
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmpdir: Path | None = None
        self._log_fh: Any = None
        self.returncode: int | None = None

    @property
    def url(self) -> str:
        """Base address, ``http://127.0.0.1:PORT``."""
        if self.port is None:
            raise TrackingError("the MLflow server has no port yet", "call start() first")
        return f"http://{_HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id (and process group id) of the server, ``None`` before start."""
        return None if self._proc is None else self._proc.pid

    def command(self) -> list[str]:
        """The server's command line."""
        cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
               self.tracking_uri, "--host", _HOST, "--port", str(self.port), "--workers", "1"]
        if _HOST != "127.0.0.1":
            # MLflow's security middleware accepts only localhost hosts and origins by
            # default; since 3.18 the UI's artifact viewer is refused without the origin.
            cmd += ["--allowed-hosts", f"{_HOST}:{self.port},{_HOST}",
                    "--cors-allowed-origins", self.url]
        if self._db is not None:
            artifacts = (self._db.parent / "artifacts").as_uri()
            cmd += ["--default-artifact-root", artifacts, "--artifacts-destination", artifacts]
        return cmd

    def start(self) -> None:
        """Start the server process (does not wait for it; see :meth:`wait_ready`).

        Raises:
            TrackingError: Already started, the port is in use, or the
                store's database does not exist.
        """
        if self._proc is not None:
            raise TrackingError(f"the MLflow server is already running (pid {self.pid})",
                                "stop() it first")
        if self._db is not None and not self._db.is_file():
            raise TrackingError(f"no MLflow database at {str(self._db)!r}",
                                "run `steer run` first, or pass --tracking-uri")
        if self.port is None:
            self.port = _free_port()
        else:
            _check_port_free(self.port)
        self._tmpdir = Path(tempfile.mkdtemp(prefix="steer-mlflow-"))
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
                   MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true",
                   TMPDIR=str(self._tmpdir), PYTHONUNBUFFERED="1")
        self._log_fh = open(self._tmpdir / "server.log", "wb")  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(self.command(), env=env, stdin=subprocess.DEVNULL,
                                          stdout=self._log_fh, stderr=subprocess.STDOUT,
                                          cwd=self._tmpdir, start_new_session=True)
        except OSError as exc:
            self.stop()
            raise TrackingError(f"cannot start {sys.executable} -m mlflow server: {exc}",
                                "check that mlflow is installed in this environment") from exc
        log.info("started MLflow server pid %d on %s", self._proc.pid, self.url)

    def log_tail(self, n_lines: int = 15) -> str:
        """The last lines of the server's output."""
        if self._tmpdir is None or not (self._tmpdir / "server.log").exists():
            return ""
        text = (self._tmpdir / "server.log").read_text(errors="replace")
        return "\n".join(text.strip().splitlines()[-n_lines:])

    def wait_ready(self, progress: TextIO | None = None) -> None:
        """Wait until ``GET /health`` answers 200.

        Args:
            progress: Stream for a live "waiting" line (e.g. ``sys.stderr``).

        Raises:
            TrackingError: The server exited or did not answer in time (it is
                stopped).
        """
        if self._proc is None:
            raise TrackingError("the MLflow server was not started", "call start() first")
        t0 = time.monotonic()
        live = progress is not None and progress.isatty()
        if progress is not None and not live:
            progress.write(f"waiting for the MLflow server on {self.url} ...\n")
        while True:
            waited_s = time.monotonic() - t0
            code = self._proc.poll()
            if code is not None:
                tail = self.log_tail()
                self.stop()
                errors = [ln for ln in tail.splitlines() if _ERROR_LINE.match(ln)]
                said = errors[-1] if errors else tail.splitlines()[-1] if tail else "nothing"
                hint = ("another program took the port; pick another with --port"
                        if "address already in use" in tail.lower()
                        else f"check the tracking URI; the server said: {said}")
                raise TrackingError(f"the MLflow server exited with code {code} before "
                                    f"answering on port {self.port}", hint)
            with contextlib.suppress(OSError):
                if _http("GET", f"{self.url}/health", timeout_s=2.0)[0] == 200:
                    break
            if waited_s > self.startup_timeout_s:
                tail = self.log_tail()
                self.stop()
                raise TrackingError(
                    f"the MLflow server on port {self.port} did not answer /health within "
                    f"{self.startup_timeout_s:.0f} s",
                    "the machine may be busy; try again. Server output:\n" + tail)
            if live:
                progress.write(f"\rwaiting for the MLflow server on {self.url} ... "
                               f"{waited_s:4.0f} s")
                progress.flush()
            time.sleep(0.25)
        if live:
            progress.write("\r\033[K")
            progress.flush()
        log.info("MLflow server ready after %.1f s", time.monotonic() - t0)

    def newest_experiment_id(self) -> str | None:
        """Id of the most recently created experiment other than Default, else ``None``."""
        try:
            status, body = _http("POST", f"{self.url}/api/2.0/mlflow/experiments/search",
                                 {"max_results": 50, "order_by": ["creation_time DESC"]})
        except OSError:
            return None
        if status != 200:
            return None
        for exp in json.loads(body).get("experiments", []):
            if exp.get("name") != "Default" or exp.get("experiment_id") != "0":
                return str(exp["experiment_id"])
        return None

    def _group_alive(self, pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def stop(self) -> None:
        """SIGTERM the server's process group; SIGKILL it after 5 s. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            pgid = proc.pid  # the leader of its own session and group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            deadline = time.monotonic() + _STOP_GRACE_S
            while time.monotonic() < deadline:
                proc.poll()
                if proc.returncode is not None and not self._group_alive(pgid):
                    break
                time.sleep(0.1)
            else:
                log.warning("MLflow server group %d ignored SIGTERM; sending SIGKILL", pgid)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
            proc.wait(timeout=10)
            self.returncode = proc.returncode
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> MlflowServer:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def ui_command(port: int | None, tracking_uri: str, open_for_s: float | None = None) -> int:
    """Serve the MLflow UI until Ctrl-C and print its address.

    Args:
        port: TCP port on 127.0.0.1; a free one when ``None``.
        tracking_uri: The tracking store to browse.
        open_for_s: Stop after this many seconds (for tests); ``None`` runs
            until Ctrl-C.

    Returns:
        Exit code: 0 after Ctrl-C or ``open_for_s``, 1 if the server died.

    Raises:
        TrackingError: Port in use, missing store, or the server did not start.
    """
    server = MlflowServer(tracking_uri, port=port)
    previous = None
    if threading.current_thread() is threading.main_thread():  # SIGTERM stops it cleanly too
        previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        server.start()
        server.wait_ready(progress=sys.stderr)
        experiment_id = server.newest_experiment_id()
        address = runs_page_url(server.url, experiment_id)
        print(f"MLflow UI: {address}", flush=True)
        reports = latest_reports(server.url, experiment_id)
        if reports:
            print("reports of the latest runs (or `steer report RUN_ID --open`):")
            for name, link in reports:
                print(f"  {name:<24} {link}", flush=True)
        print("press Ctrl-C to stop", file=sys.stderr, flush=True)
        deadline = None if open_for_s is None else time.monotonic() + open_for_s
        while deadline is None or time.monotonic() < deadline:
            if not server.running:
                log.error("the MLflow server stopped by itself:\n%s", server.log_tail())
                return 1
            time.sleep(0.2 if deadline is None else min(0.2, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        print("", file=sys.stderr)
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0
