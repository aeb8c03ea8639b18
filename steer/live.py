"""The live report of a running episode: a loop callback that rewrites it every few decisions.

:class:`LiveReport` keeps the records it is given and, every ``every``
decisions (and at most once per ``min_interval_s`` of wall time), rebuilds
the run's report (:func:`steer.report.run_report`) with the environment's
extras so far and writes it atomically; the page reloads itself every
``refresh_s`` seconds, so an observer watches the night in a browser. At the
end of the episode the final report is written without the reload.

The file is ``<folder>/<run id>.html``, named when the episode starts.

Example:
    >>> live = LiveReport(Path("runs/live"), presenter, "demo: bo, seed 0", announce=print)  # doctest: +SKIP
    >>> play(config, "bo", 0, journal_dir, callbacks=[live])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steer.callbacks import LoopCallback

if TYPE_CHECKING:
    from steer.loop import EpisodeResult
    from steer.presenter import Presenter
    from steer.records import DecisionRecord

__all__ = ["LiveReport"]

log = logging.getLogger(__name__)


class LiveReport(LoopCallback):
    """Rewrite the HTML report of the running episode as decisions arrive.

    Args:
        folder: Where the report goes, as ``<run id>.html`` (written
            atomically; the folder is created).
        presenter: The environment's presenter.
        title: The report's heading.
        every: Rewrite after this many decisions.
        min_interval_s: ...but not more often than this (a report of a long
            night takes a fraction of a second to build).
        refresh_s: The page reloads itself this often while the episode runs.
        params: Run parameters shown in the summary (policy, seed...).
        announce: Called with the report's path when the episode starts (e.g.
            to print it).
    """

    def __init__(self, folder: Path, presenter: Presenter, title: str = "", every: int = 5,
                 min_interval_s: float = 2.0, refresh_s: float = 5.0,
                 params: dict[str, Any] | None = None,
                 announce: Callable[[Path], None] | None = None) -> None:
        self.folder = Path(folder)
        self.path = self.folder / "live.html"
        self.announce = announce
        self.presenter = presenter
        self.title = title
        self.every = max(1, int(every))
        self.min_interval_s = float(min_interval_s)
        self.refresh_s = float(refresh_s)
        self.params = dict(params or {})
        self.records: list[DecisionRecord] = []
        self.writes = 0
        self.build_s = 0.0
        self._env: Any = None
        self._last_write = -float("inf")
        self._since = 0

    def _extras(self) -> dict[str, Any]:
        extras_of = getattr(getattr(self._env, "unwrapped", self._env), "episode_extras", None)
        if not callable(extras_of):
            return {}
        try:
            return dict(extras_of())
        except Exception as exc:  # noqa: BLE001 - a live view must never stop the night
            log.warning("live report: no extras: %s", exc)
            return {}

    def write(self, final: bool = False, metrics: dict[str, float] | None = None) -> None:
        """Build and write the report now (``final``: without the reload)."""
        from steer.report import run_report, write_report

        t0 = time.perf_counter()
        try:
            html = run_report(self.records, self.presenter, self._extras(),
                              title=self.title + ("" if final else " (live)"), metrics=metrics,
                              params=self.params, refresh_s=None if final else self.refresh_s)
            write_report(self.path, html)
        except Exception as exc:  # noqa: BLE001 - a live view must never stop the night
            log.warning("live report not written: %s", exc)
            return
        self.writes += 1
        self.build_s += time.perf_counter() - t0
        self._last_write = time.monotonic()
        self._since = 0

    def on_episode_start(self, env: Any, policy: Any, seed: int, run_id: str) -> None:
        """Remember the environment (for its extras) and write the empty report."""
        self._env = env
        self.params.setdefault("run_id", run_id)
        self.path = self.folder / f"{run_id}.html"
        self.write()
        if self.announce is not None:
            self.announce(self.path)

    def on_decision(self, record: DecisionRecord) -> None:
        """Keep the record; rewrite the report every :attr:`every` decisions."""
        self.records.append(record)
        self._since += 1
        if self._since >= self.every and \
                time.monotonic() - self._last_write >= self.min_interval_s:
            self.write()

    def on_episode_end(self, result: EpisodeResult) -> None:
        """Write the final report (no reload)."""
        self.write(final=True, metrics=getattr(result, "metrics", None))
