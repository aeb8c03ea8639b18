"""Local simulator servers owned by steer: started on loopback, found again, stopped by PID.

:class:`LocalServer` is what an ``indiserver`` (:mod:`steer.instruments.indi.server`)
and an ``alpaca-simulators`` process (:mod:`steer.instruments.alpaca.server`)
have in common: a run folder with a log and a ``server.json`` state file (so
``steer indi-sim|alpaca-sim stop|status`` find a server started earlier), a
process group signalled as one, SIGTERM then SIGKILL, fault injection
(``kill``), bounded restarts, and a kernel request that a night's private
server dies with the night (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from steer.errors import InstrumentError
from steer.runs import pid_alive

__all__ = ["LocalServer", "free_port", "pid_alive", "resolve_local", "start_private",
           "sweep_stale_run_dirs", "STATE_FILE"]

log = logging.getLogger(__name__)

STATE_FILE = "server.json"
"""The state file in each run folder."""


def free_port() -> int:
    """A TCP port that was free on loopback a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _load_prctl() -> Any:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not after fork
    except (OSError, AttributeError):
        return None  # not Linux: the stale-folder sweep still cleans up after a killed night


_PRCTL = _load_prctl()


def _die_with_parent() -> None:
    """In the forked child: ask the kernel for SIGTERM when the parent dies (Linux).

    Only a C call here: no import or lock that another thread could hold at fork.
    """
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG = 1


def sweep_stale_run_dirs(prefix: str, min_age_s: float = 60.0) -> list[Path]:
    """Remove temporary server folders (``<tmp>/<prefix>*``) whose server is dead.

    A night killed with ``kill -9`` cannot remove its private server's
    folder; the next night that starts a private server does. A folder
    younger than ``min_age_s`` is left alone (it may be starting).

    Returns:
        The folders removed.
    """
    import tempfile

    removed = []
    now = time.time()
    for d in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            if not d.is_dir() or now - d.stat().st_mtime < min_age_s:
                continue
            state = json.loads((d / STATE_FILE).read_text()) if (d / STATE_FILE).exists() \
                else None
        except (OSError, ValueError):
            continue
        pid = int((state or {}).get("pid") or 0)
        if pid > 0 and pid_alive(pid):
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


class LocalServer:
    """A server process steer starts on loopback and stops by PID.

    Subclasses say what to run (:meth:`_command`), what to record
    (:meth:`_state`, a dataclass with at least ``pid`` and ``port``) and may
    prepare the folder first (:meth:`_prepare`) or tidy after a stop
    (:meth:`_after_stop`).

    Args:
        run_dir: Folder for the log, state file and whatever the server needs (created).
        port: TCP port; ``None`` picks a free one on loopback.
        startup_timeout_s: Seconds to wait for the port to accept connections.
        remove_run_dir: Remove ``run_dir`` when the server is removed (a
            temporary folder made just for it).
        die_with_parent: The server gets SIGTERM when the process that started it
            dies, even by ``kill -9`` (Linux): a night's private server must not
            outlive its night.
    """

    label = "server"
    """What the server is called in messages (``indiserver``...)."""
    cli = "steer"
    """The command that manages it (for hints: ``steer indi-sim``)."""
    log_name = "server.log"
    state_cls: Any = None
    """The dataclass recorded in ``server.json``."""

    def __init__(self, run_dir: str | Path, port: int | None = None,
                 startup_timeout_s: float = 10.0, remove_run_dir: bool = False,
                 die_with_parent: bool = False) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.port = int(port) if port else None
        self.startup_timeout_s = float(startup_timeout_s)
        self.remove_run_dir = bool(remove_run_dir)
        self.die_with_parent = bool(die_with_parent)
        self.log_path = self.run_dir / self.log_name
        self.state_path = self.run_dir / STATE_FILE
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------ subclass hooks
    def _prepare(self) -> None:
        """Make the folder ready before the process starts (default: nothing)."""

    def _command(self) -> tuple[list[str], dict[str, str]]:
        """The command line and environment to start (``self.port`` is set)."""
        raise NotImplementedError

    def _state(self) -> Any:
        """The state dataclass to record for the process just started."""
        raise NotImplementedError

    def _after_stop(self) -> None:
        """Tidy the folder once the process is gone (default: nothing)."""

    # ------------------------------------------------------------------ start
    def start(self) -> Any:
        """Start the server and wait until its port accepts connections on loopback.

        Raises:
            InstrumentError: a server is already recorded as running in the
                run folder, it exited, or it did not come up in ``startup_timeout_s``.
        """
        existing = self.status()
        if existing is not None:
            raise InstrumentError(f"a {self.label} (pid {existing.pid}, port {existing.port}) "
                                  f"already runs in {self.run_dir}",
                                  f"{self.cli} stop --run-dir ... first")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.port is None:
            self.port = free_port()
        self._prepare()
        cmd, env = self._command()
        with open(self.log_path, "ab") as logf:
            self._proc = subprocess.Popen(cmd, cwd=self.run_dir, env=env, stdout=logf,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True,
                                          preexec_fn=_die_with_parent if self.die_with_parent
                                          else None)
        self.pid = self._proc.pid
        state = self._state()
        from dataclasses import asdict

        self.state_path.write_text(json.dumps(asdict(state), indent=1), encoding="utf-8")
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self.state_path.unlink(missing_ok=True)
                raise InstrumentError(f"{self.label} exited with code {self._proc.returncode}",
                                      f"see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    log.info("%s pid %d on 127.0.0.1:%d", self.label, self.pid, self.port)
                    return state
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise InstrumentError(f"{self.label} did not accept connections on port {self.port} "
                              f"within {self.startup_timeout_s} s", f"see {self.log_path}")

    # ------------------------------------------------------------------- stop
    def stop(self, grace_s: float = 3.0) -> bool:
        """Stop the server by PID: SIGTERM to its process group, SIGKILL after ``grace_s``.

        Returns:
            True if a server was running.
        """
        state = self._read_state()
        pid = self.pid if self.pid is not None else (state.pid if state else None)
        if pid is None:
            return False
        was_alive = pid_alive(pid)
        if was_alive:
            self._signal_group(pid, signal.SIGCONT)  # a SIGSTOPped server cannot exit
            self._signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and pid_alive(pid):
                self._reap()
                time.sleep(0.05)
            if pid_alive(pid):
                self._signal_group(pid, signal.SIGKILL)
                while pid_alive(pid):
                    self._reap()
                    time.sleep(0.02)
        self._reap()
        self.pid = None
        self._proc = None
        self.state_path.unlink(missing_ok=True)
        self._after_stop()
        return was_alive

    def restart(self, backoff_s: float = 1.0) -> Any:
        """Stop whatever is left of the server (dead, hung or SIGSTOPped) and start it again.

        Args:
            backoff_s: Seconds to wait between stopping and starting.
        """
        self.stop(grace_s=1.0)
        time.sleep(backoff_s)
        return self.start()

    def remove(self) -> None:
        """Stop the server and, if it was made for it, remove its temporary folder."""
        self.stop()
        if self.remove_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        """Signal the server's process group (itself and its children), else the PID."""
        try:
            os.killpg(pid, sig)  # started with start_new_session: pgid == pid
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _reap(self) -> None:
        if self._proc is not None:
            self._proc.poll()

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to the server process only (fault injection in tests)."""
        if self.pid is None:
            raise InstrumentError(f"the {self.label} is not running")
        os.kill(self.pid, sig)
        if sig == signal.SIGKILL:
            while pid_alive(self.pid):
                self._reap()
                time.sleep(0.005)

    # ----------------------------------------------------------------- status
    def _read_state(self) -> Any:
        try:
            return self.state_cls(**json.loads(self.state_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def status(self) -> Any:
        """The recorded server if its PID is alive, else ``None`` (stale state removed)."""
        state = self._read_state()
        if state is None:
            return None
        if not pid_alive(state.pid):
            self.state_path.unlink(missing_ok=True)
            return None
        return state

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_private(server_cls: type[LocalServer], prefix: str, run_dir: str | None,
                  port: int | None, **options: Any) -> tuple[LocalServer, Any]:
    """Start a server owned by one night: in ``run_dir``, or a temporary folder removed on stop.

    Temporary folders left by nights whose server is gone are swept first.

    Returns:
        ``(server, state)``.
    """
    import tempfile

    if run_dir is None:
        for d in sweep_stale_run_dirs(prefix):
            log.info("removed %s, left by a night whose server is gone", d)
    server = server_cls(run_dir or tempfile.mkdtemp(prefix=prefix), port=port,
                        remove_run_dir=run_dir is None, die_with_parent=True, **options)
    return server, server.start()


def resolve_local(server_cls: type[LocalServer], who: str, run_dir: str | None,
                  port: int | None, start_server: bool, prefix: str,
                  **options: Any) -> tuple[LocalServer | None, Any]:
    """Start a night's private server, or find the one recorded in ``run_dir``.

    Args:
        server_cls: The kind of server.
        who: The caller's name, for error messages.
        run_dir: Server folder (state file...).
        port: Port of an already running server (then nothing is looked up).
        start_server: Start a private server (stopped by the caller's ``close``).
        prefix: Temporary folder prefix when ``start_server`` has no ``run_dir``.
        **options: Passed to ``server_cls`` when one is started.

    Returns:
        ``(server started here or None, its recorded state or None)``: ``None``
        state means only ``port`` is known.

    Raises:
        ConfigError: neither a port, a run folder nor ``start_server``.
        InstrumentError: no server recorded in ``run_dir``.
    """
    from steer.errors import ConfigError

    if start_server:
        return start_private(server_cls, prefix, run_dir, port, **options)
    if port is not None:
        return None, None
    start = f"{server_cls.cli} start --run-dir"
    if run_dir is None:
        raise ConfigError(f"{who} needs port=, run_dir= or start_server=true",
                          f"{start} DIR, then run_dir = DIR")
    found = server_cls(run_dir).status()
    if found is None:
        raise InstrumentError(f"no running {server_cls.label} recorded in {run_dir}",
                              f"{start} {run_dir}")
    return None, found
