"""The operator in the loop: approve proposals, and pause, continue or stop a running night.

Two loop callbacks (:mod:`steer.callbacks`):

* :class:`ApprovalGate` (``steer run --approve``): each proposal is shown with
  its explanation and runners-up; the operator accepts it (Enter or ``a``),
  picks runner-up ``k`` (``1``, ``2``...), skips the step (``s``) or stops the
  night (``q``). Without an answer within ``timeout_s`` the proposal is
  accepted (or the step skipped, with ``on_timeout = "skip"``). Every record
  says who decided.
* :class:`ControlChannel`: ``steer pause|continue|stop --run RUN_ID`` write a
  small control file beside the journal (``runs/control/<run id>.json``);
  the loop reads it at the next decision boundary. A paused night waits
  (polling the file) before its next decision; a stopped night ends there,
  and can be resumed with ``steer run --resume``.

A running ``steer run`` night keeps ``runs/journals/<run id>.process.json``
(its PID and host; :func:`night_process`) while it runs, so that a command
for a night that ended or whose process died is refused instead of queued
for nobody.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from steer.atomic import write_text_atomic
from steer.callbacks import LoopCallback
from steer.errors import ConfigError
from steer.types import Proposal

__all__ = ["ApprovalGate", "ControlChannel", "write_control", "control_path", "require_night",
           "night_process", "COMMANDS"]

#: What ``steer pause|continue|stop`` may ask.
COMMANDS = ("pause", "continue", "stop")


def control_path(runs_dir: Path, run_id: str) -> Path:
    """The control file of a night: ``<runs_dir>/control/<run id>.json``."""
    return Path(runs_dir) / "control" / f"{run_id}.json"


def _process_path(runs_dir: Path, run_id: str) -> Path:
    return Path(runs_dir) / "journals" / f"{run_id}.process.json"


@contextlib.contextmanager
def night_process(runs_dir: Path, run_id: str) -> Iterator[None]:
    """While inside, the night ``run_id`` is marked running by this process (PID, host)."""
    path = _process_path(runs_dir, run_id)
    path.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                "since_unix": time.time()}), encoding="utf-8")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def require_night(runs_dir: Path, run_id: str) -> None:
    """Raise :class:`ConfigError` unless ``run_id`` is a ``steer run`` night running now.

    A journal without a running process (the night ended, was stopped or
    killed, or belongs to a comparison or a campaign) would never read the
    command.
    """
    from steer.runs import pid_alive

    if not (Path(runs_dir) / "journals" / f"{run_id}.jsonl").exists():
        raise ConfigError(f"no night {run_id!r} in {str(runs_dir)!r}",
                          "pass the run id steer run printed and its --runs-dir")
    hint = (f"resume an interrupted night with `steer run EXPERIMENT --resume {run_id}`; "
            "`steer runs` shows which are RUNNING")
    path = _process_path(runs_dir, run_id)
    if not path.is_file():
        raise ConfigError(f"night {run_id!r} is not running (it ended, was stopped, or "
                          "belongs to a comparison or a campaign): nothing would read it", hint)
    proc = json.loads(path.read_text(encoding="utf-8"))
    if proc.get("host") == socket.gethostname() and not pid_alive(int(proc.get("pid", 0))):
        raise ConfigError(f"night {run_id!r} is not running: its process {proc.get('pid')} is "
                          "gone (killed?)", hint)


def write_control(runs_dir: Path, run_id: str, command: str) -> Path:
    """Ask the running night ``run_id`` to pause, continue or stop (atomic write).

    Raises:
        ConfigError: an unknown command, or no such night in ``runs_dir``.
    """
    if command not in COMMANDS:
        raise ConfigError(f"unknown control command {command!r}", f"use {', '.join(COMMANDS)}")
    require_night(runs_dir, run_id)
    return write_text_atomic(control_path(runs_dir, run_id),
                             json.dumps({"command": command, "time_unix": time.time()}))


class ControlChannel(LoopCallback):
    """Reads the night's control file at every decision boundary.

    Args:
        path: The control file (:func:`control_path`).
        poll_s: How often a paused night looks at the file again.
        say: Where state changes are reported (default: standard error).
    """

    def __init__(self, path: Path, poll_s: float = 0.5,
                 say: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.poll_s = float(poll_s)
        self.say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self.stopped = False
        self._seen = 0.0

    def _command(self) -> str | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if float(data.get("time_unix", 0.0)) <= self._seen:
            return None
        self._seen = float(data.get("time_unix", 0.0))
        return str(data.get("command"))

    def stop_requested(self) -> bool:
        command = self._command()
        while command == "pause":
            self.say("steer: night paused; steer continue (or stop) --run ... to go on")
            command = None
            while command is None:
                time.sleep(self.poll_s)
                command = self._command()
                if command == "pause":
                    command = None
            if command == "continue":
                self.say("steer: night continues")
        if command == "stop":
            self.say("steer: stop requested by the operator; the night ends at this decision")
            self.stopped = True
        return self.stopped


class ApprovalGate(LoopCallback):
    """Ask the operator to approve each proposal (``steer run --approve``).

    Args:
        timeout_s: Seconds to wait for an answer.
        on_timeout: ``"accept"`` the proposal or ``"skip"`` the step.
        stdin: Where answers come from.
        stdout: Where proposals are shown.
    """

    decider = "operator"

    def __init__(self, timeout_s: float = 60.0, on_timeout: str = "accept",
                 stdin: IO[str] | None = None, stdout: IO[str] | None = None,
                 describe: Callable[[dict[str, Any]], str] | None = None) -> None:
        if on_timeout not in ("accept", "skip"):
            raise ConfigError(f"on_timeout = {on_timeout!r}", "use 'accept' or 'skip'")
        if not timeout_s > 0:
            raise ConfigError(f"--approve-timeout {timeout_s} must be positive", "e.g. 60")
        self.timeout_s, self.on_timeout = float(timeout_s), on_timeout
        self.stdin, self.stdout = stdin or sys.stdin, stdout or sys.stdout
        self.describe = describe or (lambda action: json.dumps(action, sort_keys=True))
        self.stop = False
        self.decider = "operator"

    def _ask(self) -> str | None:
        """One line from the operator, or ``None`` after the timeout (or end of input)."""
        try:
            ready, _, _ = select.select([self.stdin], [], [], self.timeout_s)
        except (ValueError, OSError):  # not a selectable stream (tests may pass StringIO)
            ready = [self.stdin]
        if not ready:
            return None
        line = self.stdin.readline()
        return None if line == "" else line.strip().lower()

    def before_execute(self, step: int, proposal: Proposal,
                       alternatives: Sequence[Proposal]) -> Proposal | None:
        out = self.stdout
        why = proposal.explanation or {}
        print(f"\nstep {step}: proposed {self.describe(proposal.action.to_dict())} "
              f"(score {proposal.score:.4g})", file=out)
        reason = why.get("reason") or why.get("rule") or why.get("acquisition")
        if reason:
            print(f"  why: {reason}", file=out)
        for k, alt in enumerate(alternatives[:5], 1):
            print(f"  [{k}] {self.describe(alt.action.to_dict())} (score {alt.score:.4g})",
                  file=out)
        print(f"  Enter/a: accept, 1-{min(len(alternatives), 5)}: runner-up, s: skip, "
              f"q: stop the night ({self.timeout_s:g} s, then {self.on_timeout})> ",
              end="", file=out, flush=True)
        answer = self._ask()
        if answer is None:
            print(f"(no answer: {self.on_timeout})", file=out, flush=True)
            self.decider = "policy" if self.on_timeout == "accept" else "operator"
            return proposal if self.on_timeout == "accept" else None
        self.decider = "operator"
        if answer in ("", "a", "y", "yes"):
            return proposal
        if answer == "s":
            return None
        if answer == "q":
            self.stop = True
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(alternatives):
            return alternatives[int(answer) - 1]
        print(f"(not understood: {answer!r}; accepted)", file=out, flush=True)
        return proposal

    def stop_requested(self) -> bool:
        return self.stop
