"""``steer report RUN_ID [--out PATH] [--open]``: the HTML report of a logged run.

An episode's report is rebuilt from its logged decisions
(:func:`steer.runs.load_logged_run`) and its ``extras.json``; a comparison
run's (tag ``steer.kind = comparison``) from its ``comparison.json``. Wire
into :func:`steer.cli.build_parser` with ``add_parser(sub)``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "cmd_report", "report_of_run"]


def _artifact_json(client: Any, run_id: str, name: str) -> dict[str, Any] | None:
    names = {f.path for f in client.list_artifacts(run_id)}
    if name not in names:
        return None
    with tempfile.TemporaryDirectory(prefix="steer-report-") as tmp:
        return json.loads(Path(client.download_artifacts(run_id, name, tmp)).read_text(
            encoding="utf-8"))


def report_of_run(run_id: str, tracking_uri: str) -> str:
    """The HTML report of a logged run (an episode or a comparison).

    Raises:
        TrackingError: Unknown run, or a run without decisions or comparison.
    """
    from steer.errors import TrackingError
    from steer.runs import load_logged_run
    from steer.session import presenter_for
    from steer.store import mlflow_client, store_errors

    with store_errors(f"cannot read run {run_id!r} from {tracking_uri!r}"):
        client = mlflow_client(tracking_uri)
        try:
            run = client.get_run(run_id)
        except Exception as exc:  # noqa: BLE001 - MLflow raises several kinds
            raise TrackingError(f"no MLflow run with id {run_id!r} in {tracking_uri!r}",
                                "list runs with `steer runs`") from exc
        params, metrics = dict(run.data.params), dict(run.data.metrics)
        if run.data.tags.get("steer.kind") == "comparison":
            summary = _artifact_json(client, run_id, "comparison.json")
            if summary is None:
                raise TrackingError(f"comparison run {run_id!r} has no comparison.json",
                                    "rerun the comparison")
            from steer.report_compare import comparison_report

            summary.setdefault("experiment", params.get("experiment", ""))
            summary.setdefault("comparison_run_id", run_id)
            presenter = presenter_for(params["env_id"]) if params.get("env_id") else None
            rows = presenter.comparison_metrics() if presenter is not None else ()
            return comparison_report(summary, rows)
        extras = _artifact_json(client, run_id, "extras.json") or {}
    logged = load_logged_run(run_id, tracking_uri)
    from steer.presenter import Presenter
    from steer.report import run_report

    presenter = presenter_for(params["env_id"]) if params.get("env_id") else Presenter()
    return run_report(logged.records, presenter, extras,
                      title=f"{params.get('experiment', 'run')}: {logged.policy}, "
                            f"seed {logged.seed}",
                      metrics=metrics, params={**params, "run_id": run_id})


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report of ``args.run_id`` and print where it is."""
    from steer.cli_common import tracking as _tracking
    from steer.report import write_report

    runs_dir, uri = _tracking(args, existing=True)
    out = Path(args.out) if args.out else runs_dir / "reports" / f"{args.run_id}.html"
    t0 = time.perf_counter()
    html = report_of_run(args.run_id, uri)
    write_report(out, html)
    print(f"report of {args.run_id}: {out} ({len(html) / 1e6:.1f} MB, "
          f"{time.perf_counter() - t0:.1f} s)")
    if args.open:
        import webbrowser

        webbrowser.open(out.resolve().as_uri())
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``report`` to the CLI's subparsers; return its parser."""
    p = subparsers.add_parser("report", help="write the interactive HTML report of a logged run "
                              "(an episode or a comparison)")
    p.add_argument("run_id", help="MLflow run id (steer runs lists them)")
    p.add_argument("--out", default=None,
                   help="HTML file to write (default: RUNS_DIR/reports/RUN_ID.html)")
    p.add_argument("--open", action="store_true", help="open it in the default browser")
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite "
                        "under --runs-dir)")
    p.add_argument("--runs-dir", default="runs",
                   help="run folder for the default store (default: runs)")
    p.set_defaults(func=cmd_report)
    return p
