"""Targets of opportunity: ``steer inject`` adds a target to a running night.

``steer inject --run RUN_ID ...`` (its options are the environment's: see
:mod:`steer.envs.too_cli`) appends one line to the night's inbox
(``<runs_dir>/control/<run id>.too.jsonl``, beside the pause/stop control
file). At its next decision boundary the loop reads what is new
(:class:`TooInbox`), asks the environment to take each target
(``env.add_target(**target)``: an environment that cannot says so and the
event is journaled as refused), tells the policy that its context changed
(``policy.context_changed``) and journals the event with its arrival time,
the decision it joined at and the catalog row it got (the next record's
``events``). Resume and replay apply journaled events at the same decision,
so a night with a ToO is decision-identical when resumed or replayed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from steer.callbacks import LoopCallback
from steer.errors import ResumeMismatchError, SteerError
from steer.operator import require_night

__all__ = ["inbox_path", "inject", "TooInbox", "apply_events"]


def inbox_path(runs_dir: Path, run_id: str) -> Path:
    """The ToO inbox of a night: ``<runs_dir>/control/<run id>.too.jsonl``."""
    return Path(runs_dir) / "control" / f"{run_id}.too.jsonl"


def inject(runs_dir: Path, run_id: str, target: dict[str, Any]) -> dict[str, Any]:
    """Queue a target of opportunity for the running night ``run_id``.

    Args:
        runs_dir: The night's run folder.
        run_id: The run id ``steer run`` printed.
        target: The keyword arguments of the environment's ``add_target``
            (checked by the command that calls this; the environment checks
            them again).

    Returns:
        The inbox entry written (with its ``id`` and ``arrival_unix``).

    Raises:
        ConfigError: no such night in ``runs_dir``.
    """
    require_night(runs_dir, run_id)
    now = time.time()
    entry = {"kind": "too", "id": f"too-{time.time_ns()}",
             "arrival_unix": now, "target": target}
    path = inbox_path(runs_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:  # one write of one line: concurrent injections do not interleave
        os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


class TooInbox(LoopCallback):
    """Hands the loop the inbox entries it has not seen yet (:meth:`pending_events`).

    Args:
        path: The inbox (:func:`inbox_path`), or ``None`` until the run id is
            known (then :meth:`on_episode_start` finds it under ``runs_dir``).
        runs_dir: The run folder, to find the inbox once the run id is known.
    """

    def __init__(self, path: Path | None = None, runs_dir: Path | None = None) -> None:
        self.path, self.runs_dir = path, runs_dir
        self._read = 0  # bytes already handed over

    def on_episode_start(self, env: Any, policy: Any, seed: int, run_id: str) -> None:
        if self.path is None and self.runs_dir is not None:
            self.path = inbox_path(self.runs_dir, run_id)

    def pending_events(self) -> list[dict[str, Any]]:
        if self.path is None:
            return []
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._read)
                data = fh.read()
        except OSError:
            return []
        complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits
        self._read += len(complete)
        out = []
        for line in complete.decode().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


def apply_events(base: Any, policy: Any, events: list[dict[str, Any]], step: int,
                 sim_mjd: float, recorded: bool = False) -> list[dict[str, Any]]:
    """Give each event to the environment and the policy; return them as journaled.

    Args:
        base: The unwrapped environment.
        policy: The policy (told once when the context changed).
        events: Inbox entries, or the journaled events of this step (``recorded``).
        step: The decision they join at.
        sim_mjd: The environment's clock then.
        recorded: Events from a journal: applied as they were, checked to land
            on the same row.

    Raises:
        ResumeMismatchError: a journaled event lands on another row now.
    """
    add = getattr(base, "add_target", None)
    out, changed = [], False
    for event in events:
        ev = dict(event)
        if recorded and "refused" in ev:
            out.append(ev)
            continue
        if not recorded:
            ev.update(step=step, sim_mjd=sim_mjd, applied_unix=time.time())
        if not callable(add):
            ev["refused"] = f"{type(base).__name__} takes no targets of opportunity"
        else:
            try:
                index = int(add(**ev["target"]))
            except (SteerError, TypeError, KeyError) as exc:
                ev["refused"] = str(exc)
            else:
                if recorded and index != ev.get("row"):
                    raise ResumeMismatchError(
                        f"target of opportunity {ev.get('id')!r} lands on row "
                        f"{index}, the journal says {ev.get('row')}",
                        "resume with the configuration the run started with")
                ev["row"], changed = index, True
        out.append(ev)
    if changed and callable(getattr(policy, "context_changed", None)):
        policy.context_changed(base.policy_context())
    return out
