"""Start, stop and inspect a local ``indiserver`` with the simulator drivers.

One :class:`IndiServer` owns a run folder: its own ``HOME`` (drivers write
``~/.indi`` there), the ``-u`` unix socket, the ``-f`` FIFO for starting and
stopping drivers, the server log, the ``gsc`` state file and ``server.json``
(the state file that lets ``steer indi-sim stop|status`` find a server started
earlier). ``indiserver`` has no bind-address flag: it listens on all
interfaces; clients must use ``127.0.0.1``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from steer.errors import ConfigError, InstrumentError, MissingDependencyError

__all__ = ["IndiServer", "resolve_server", "ServerState", "DEFAULT_DRIVERS", "GSC_STATE_ENV", "free_port",
           "gsc_bin_dir"]

log = logging.getLogger(__name__)

DEFAULT_DRIVERS: tuple[str, ...] = ("indi_simulator_telescope", "indi_simulator_ccd",
                                    "indi_simulator_focus")
GSC_STATE_ENV = "STEER_GSC_STATE"
"""Environment variable naming the JSON sky state our ``gsc`` script serves."""
STATE_FILE = "server.json"


def gsc_bin_dir() -> Path:
    """The folder holding the shipped ``gsc`` script (put first on the server's PATH)."""
    return Path(__file__).resolve().parent / "bin"


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
        if pid > 0 and _pid_alive(pid):
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child counts as dead
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


@dataclass
class ServerState:
    """What ``server.json`` records about a running server.

    Attributes:
        pid: Process id of ``indiserver``.
        port: TCP port (connect to ``127.0.0.1:port``).
        run_dir: The run folder.
        socket_path: The ``-u`` unix socket.
        fifo_path: The ``-f`` FIFO.
        gsc_state_path: JSON sky state read by the ``gsc`` script.
        drivers: Driver executables started.
        started_unix: Start time, seconds since the epoch.
    """

    pid: int
    port: int
    run_dir: str
    socket_path: str
    fifo_path: str
    gsc_state_path: str
    drivers: list[str]
    started_unix: float


class IndiServer:
    """A local ``indiserver`` with simulator drivers, stopped by PID.

    Args:
        run_dir: Folder for HOME, socket, FIFO, log and state (created).
        port: TCP port; ``None`` picks a free one.
        drivers: Driver executables to start.
        restarts: ``-r``: times the server restarts a crashed driver.
        startup_timeout_s: Seconds to wait for the port to accept connections.
        remove_run_dir: Remove ``run_dir`` when the server is stopped (for a
            temporary folder made just for it).
        die_with_parent: The server gets SIGTERM when the process that
            started it dies, even by ``kill -9`` (Linux ``PR_SET_PDEATHSIG``):
            a night's private server must not outlive its night.
    """

    def __init__(self, run_dir: str | Path, port: int | None = None,
                 drivers: tuple[str, ...] | list[str] = DEFAULT_DRIVERS, restarts: int = 2,
                 startup_timeout_s: float = 10.0, remove_run_dir: bool = False,
                 die_with_parent: bool = False) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.die_with_parent = bool(die_with_parent)
        self.remove_run_dir = bool(remove_run_dir)  # a temporary folder made for this server
        self.port = int(port) if port else None
        self.drivers = list(drivers)
        self.restarts = int(restarts)
        self.startup_timeout_s = float(startup_timeout_s)
        self.home = self.run_dir / "home"
        self.socket_path = self.run_dir / "indiserver.sock"
        self.fifo_path = self.run_dir / "indiserver.fifo"
        self.log_path = self.run_dir / "indiserver.log"
        self.gsc_state_path = self.run_dir / "gsc_state.json"
        self.state_path = self.run_dir / STATE_FILE
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # ----------------------------------------------------------------- start
    def start(self) -> ServerState:
        """Start the server and wait until its port accepts connections.

        Raises:
            MissingDependencyError: ``indiserver`` is not installed.
            InstrumentError: a server is already recorded as running in the
                run folder, or it did not come up in ``startup_timeout_s``.
        """
        exe = shutil.which("indiserver")
        if exe is None:
            raise MissingDependencyError("indiserver is not installed",
                                         "apt-get install -y indi-bin")
        existing = self.status()
        if existing is not None:
            raise InstrumentError(f"an indiserver (pid {existing.pid}, port {existing.port}) "
                                  f"already runs in {self.run_dir}",
                                  "steer indi-sim stop --run-dir ... first")
        self.home.mkdir(parents=True, exist_ok=True)
        for p in (self.socket_path, self.fifo_path):
            p.unlink(missing_ok=True)
        os.mkfifo(self.fifo_path)
        if self.port is None:
            self.port = free_port()
        if not self.gsc_state_path.exists():
            self.gsc_state_path.write_text('{"stars": []}', encoding="utf-8")
        env = dict(os.environ)
        path = [str(gsc_bin_dir()), str(Path(sys.executable).parent), env.get("PATH", "")]
        env.update(HOME=str(self.home), PATH=os.pathsep.join(path),
                   **{GSC_STATE_ENV: str(self.gsc_state_path)})
        cmd = [exe, "-p", str(self.port), "-u", str(self.socket_path), "-f",
               str(self.fifo_path), "-r", str(self.restarts), *self.drivers]
        with open(self.log_path, "ab") as logf:
            self._proc = subprocess.Popen(cmd, cwd=self.run_dir, env=env, stdout=logf,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True,
                                          preexec_fn=_die_with_parent if self.die_with_parent
                                          else None)
        self.pid = self._proc.pid
        state = ServerState(pid=self.pid, port=self.port, run_dir=str(self.run_dir),
                            socket_path=str(self.socket_path), fifo_path=str(self.fifo_path),
                            gsc_state_path=str(self.gsc_state_path), drivers=self.drivers,
                            started_unix=time.time())
        self.state_path.write_text(json.dumps(asdict(state), indent=1), encoding="utf-8")
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self.state_path.unlink(missing_ok=True)
                raise InstrumentError(f"indiserver exited with code {self._proc.returncode}",
                                      f"see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    log.info("indiserver pid %d on port %d", self.pid, self.port)
                    return state
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise InstrumentError(f"indiserver did not accept connections on port {self.port} "
                              f"within {self.startup_timeout_s} s", f"see {self.log_path}")

    # ------------------------------------------------------------------ stop
    def stop(self, grace_s: float = 3.0) -> bool:
        """Stop the server by PID: SIGTERM, then SIGKILL after ``grace_s``.

        Its drivers are in its process group and are signalled with it. Returns
        True if a server was running.
        """
        state = self._read_state()
        pid = self.pid if self.pid is not None else (state.pid if state else None)
        if pid is None:
            return False
        was_alive = _pid_alive(pid)
        if was_alive:
            self._signal_group(pid, signal.SIGCONT)  # a SIGSTOPped server cannot exit
            self._signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and _pid_alive(pid):
                self._reap()
                time.sleep(0.05)
            if _pid_alive(pid):
                self._signal_group(pid, signal.SIGKILL)
                while _pid_alive(pid):
                    self._reap()
                    time.sleep(0.02)
        self._reap()
        self.pid = None
        self._proc = None
        self.state_path.unlink(missing_ok=True)
        self.socket_path.unlink(missing_ok=True)
        return was_alive

    def restart(self, backoff_s: float = 1.0) -> ServerState:
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
            import shutil

            shutil.rmtree(self.run_dir, ignore_errors=True)

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        """Signal the server's process group (itself and its drivers), else the PID."""
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
            raise InstrumentError("the server is not running")
        os.kill(self.pid, sig)
        if sig == signal.SIGKILL:
            while _pid_alive(self.pid):
                self._reap()
                time.sleep(0.005)

    def driver_command(self, command: str) -> None:
        """Write ``command`` (e.g. ``stop indi_simulator_ccd``) to the server's FIFO."""
        fd = os.open(self.fifo_path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, (command.strip() + "\n").encode())
        finally:
            os.close(fd)

    # ---------------------------------------------------------------- status
    def _read_state(self) -> ServerState | None:
        try:
            return ServerState(**json.loads(self.state_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def status(self) -> ServerState | None:
        """The recorded server if its PID is alive, else ``None`` (stale state removed)."""
        state = self._read_state()
        if state is None:
            return None
        if not _pid_alive(state.pid):
            self.state_path.unlink(missing_ok=True)
            return None
        return state

    def __enter__(self) -> IndiServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def resolve_server(who: str, run_dir: str | None, port: int | None, start_server: bool,
                   gsc_state_path: str | None,
                   prefix: str = "steer-indi-") -> tuple[IndiServer | None, int, Path]:
    """Start a private server or find a running one; return ``(server, port, gsc_state)``.

    Args:
        who: The caller's name, for error messages.
        run_dir: Server folder (state file, socket, gsc state).
        port: Port of an already running server.
        start_server: Start a private server (stopped by the caller's ``close``).
        gsc_state_path: Where the gsc script reads the served sky.
        prefix: Temporary folder prefix when ``start_server`` has no ``run_dir``.

    Returns:
        The server started here (``None`` if it was already running), its port and
        the gsc state path.
    """
    import tempfile

    server: IndiServer | None = None
    if start_server:
        if run_dir is None:
            for d in sweep_stale_run_dirs(prefix):
                log.info("removed %s, left by a night whose server is gone", d)
        server = IndiServer(run_dir or tempfile.mkdtemp(prefix=prefix), port=port,
                            remove_run_dir=run_dir is None, die_with_parent=True)
        state = server.start()
        port, gsc_state_path = state.port, state.gsc_state_path
    elif port is None:
        if run_dir is None:
            raise ConfigError(f"{who} needs port=, run_dir= or start_server=true",
                              "steer indi-sim start --run-dir DIR, then run_dir = DIR")
        found = IndiServer(run_dir).status()
        if found is None:
            raise InstrumentError(f"no running indiserver recorded in {run_dir}",
                                  f"steer indi-sim start --run-dir {run_dir}")
        port, gsc_state_path = found.port, gsc_state_path or found.gsc_state_path
    if gsc_state_path is None:
        raise ConfigError("gsc_state_path is unknown", "pass run_dir= or gsc_state_path=")
    return server, int(port), Path(gsc_state_path)
