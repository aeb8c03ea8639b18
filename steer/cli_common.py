"""What the ``steer`` subcommands share: the tracking store, ``--model``, a progress bar."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "add_common_options", "check_server", "percent_bar", "progress_bar", "tracking", "with_model",
]


def add_common_options(sp: argparse.ArgumentParser) -> None:
    """``--tracking-uri`` and ``--runs-dir``, as every command that touches the store takes them."""
    sp.add_argument("--tracking-uri", default=None,
                    help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else "
                         "sqlite under --runs-dir)")
    sp.add_argument("--runs-dir", default="runs",
                    help="run folder for the journal and the default store (default: runs)")


def check_server(uri: str, timeout_s: float = 5.0) -> None:
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


def tracking(args: argparse.Namespace, existing: bool = False) -> tuple[Path, str]:
    """The run folder and the tracking URI of ``--runs-dir`` / ``--tracking-uri`` (checked).

    Args:
        existing: The command only reads runs (``runs``, ``replay``, ``report``,
            ``ui``): the default store must already exist, and no folder is made
            (a mistyped ``--runs-dir`` is an error, not a new empty store).
    """
    from steer.errors import TrackingError
    from steer.store import resolve_tracking_uri, sqlite_db_path

    runs_dir = Path(args.runs_dir).resolve()
    db = sqlite_db_path(resolve_tracking_uri(args.tracking_uri, runs_dir, create=False))
    if existing and db == runs_dir / "mlflow.db" and not db.is_file():  # the default store
        raise TrackingError(f"no runs in {str(runs_dir)!r}: it holds no MLflow store "
                            "(mlflow.db)", "pass the --runs-dir your runs were written to "
                            "(default: ./runs), or --tracking-uri")
    uri = resolve_tracking_uri(args.tracking_uri, runs_dir)  # the run folder made, checked
    if uri.startswith(("http://", "https://")):
        check_server(uri)
    return runs_dir, uri


def with_model(args: argparse.Namespace, config: Any) -> Any:
    """The experiment with ``--model`` as its ``[policy.rl] model`` (a local copy)."""
    from steer.policies.rl_cli import resolve_model

    if args.model.strip().startswith("runs:/"):  # read from the store, which must exist
        runs_dir, uri = tracking(args, existing=True)
    else:  # a local folder: nothing to open, nothing to create
        runs_dir, uri = Path(args.runs_dir).resolve(), ""
    return resolve_model(config, args.model, runs_dir, uri)


def progress_bar(total: float, desc: str, unit: str) -> Any:
    """A tqdm bar on stderr (hidden when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True,
                file=sys.stderr, disable=None)


def percent_bar(desc: str) -> tuple[Any, Callable[[float], None]]:
    """A :func:`progress_bar` in percent and the ``progress(fraction done)`` that moves it."""
    bar = progress_bar(100, desc, "% done")

    def progress(frac: float) -> None:
        bar.n = round(100 * frac, 1)
        bar.refresh()

    return bar, progress
