"""Where runs are stored: tracking URIs, the run folder, and opening the MLflow store.

MLflow is imported lazily (and with its telemetry off) by :func:`mlflow_client`;
:func:`store_errors` turns anything the store raises into one
:class:`~steer.errors.TrackingError` line.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from steer.errors import TrackingError

__all__ = ["mlflow_client", "store_errors", "default_runs_dir", "sqlite_db_path",
           "resolve_tracking_uri", "STORE_HINT"]

# Keep MLflow from phoning home; must happen before mlflow is imported.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

STORE_HINT = "pass --tracking-uri with a reachable store, or choose a writable --runs-dir"


_OPENED: set[str] = set()  # the SQLite stores this process has opened


def mlflow_client(tracking_uri: str) -> Any:
    """Import MLflow (telemetry off) and return an ``MlflowClient`` for ``tracking_uri``.

    A SQLite store is opened once per process under an exclusive lock on its
    folder: MLflow creates (and migrates) a store's tables on first use, and
    two commands doing that at once in a new run folder collide (``table
    _alembic_tmp_... already exists``); the second now waits for the first.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    from mlflow.tracking import MlflowClient

    db = sqlite_db_path(tracking_uri)
    if db is None or tracking_uri in _OPENED or not db.parent.is_dir():
        return MlflowClient(tracking_uri=tracking_uri)
    with _folder_lock(db.parent):  # the client opens (creates) the store
        client = MlflowClient(tracking_uri=tracking_uri)
    _OPENED.add(tracking_uri)
    return client


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` (other processes wait); no file is made."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def store_errors(message: str) -> Iterator[None]:
    """Turn MLflow, database and OS errors raised inside into :class:`TrackingError`."""
    try:
        yield
    except TrackingError:
        raise
    except Exception as exc:
        text = str(exc).strip()
        detail = text.splitlines()[0][:300] if text else type(exc).__name__
        raise TrackingError(f"{message}: {detail}", STORE_HINT) from exc


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


def resolve_tracking_uri(uri: str | None, runs_dir: Path, create: bool = True) -> str:
    """Choose the MLflow tracking URI.

    Precedence: an explicit ``uri``, then ``$MLFLOW_TRACKING_URI``, then a
    SQLite database ``<runs_dir>/mlflow.db`` (``runs_dir`` is created).

    Args:
        uri: URI given by the user (``--tracking-uri``), or ``None``.
        runs_dir: Run folder for the default SQLite store.
        create: Create ``runs_dir`` (and check that it is writable) for the
            default store; ``False`` only names it.

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
    if not create:
        return f"sqlite:///{runs_dir / 'mlflow.db'}"
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
