"""Start, stop and inspect a local ``indiserver`` with the simulator drivers.

One :class:`IndiServer` owns a run folder: its own ``HOME`` (drivers write
``~/.indi`` there), the ``-u`` unix socket, the ``-f`` FIFO for starting and
stopping drivers, the server log, the ``gsc`` state file and ``server.json``
(the state file that lets ``steer indi-sim stop|status`` find a server started
earlier). ``indiserver`` has no bind-address flag: it listens on all
interfaces; clients must use ``127.0.0.1``.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from steer.errors import ConfigError, MissingDependencyError
from steer.instruments.process import LocalServer, free_port, resolve_local

__all__ = ["IndiServer", "resolve_server", "ServerState", "DEFAULT_DRIVERS", "GSC_STATE_ENV", "free_port",
           "gsc_bin_dir"]

log = logging.getLogger(__name__)

DEFAULT_DRIVERS: tuple[str, ...] = ("indi_simulator_telescope", "indi_simulator_ccd",
                                    "indi_simulator_focus")
GSC_STATE_ENV = "STEER_GSC_STATE"
"""Environment variable naming the JSON sky state our ``gsc`` script serves."""


def gsc_bin_dir() -> Path:
    """The folder holding the shipped ``gsc`` script (put first on the server's PATH)."""
    return Path(__file__).resolve().parent / "bin"


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


class IndiServer(LocalServer):
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

    label = "indiserver"
    cli = "steer indi-sim"
    log_name = "indiserver.log"
    state_cls = ServerState

    def __init__(self, run_dir: str | Path, port: int | None = None,
                 drivers: tuple[str, ...] | list[str] = DEFAULT_DRIVERS, restarts: int = 2,
                 startup_timeout_s: float = 10.0, remove_run_dir: bool = False,
                 die_with_parent: bool = False) -> None:
        super().__init__(run_dir, port=port, startup_timeout_s=startup_timeout_s,
                         remove_run_dir=remove_run_dir, die_with_parent=die_with_parent)
        self.drivers = list(drivers)
        self.restarts = int(restarts)
        self.home = self.run_dir / "home"
        self.socket_path = self.run_dir / "indiserver.sock"
        self.fifo_path = self.run_dir / "indiserver.fifo"
        self.gsc_state_path = self.run_dir / "gsc_state.json"
        self._exe = ""

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
        self._exe = exe
        return super().start()

    def _prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        for p in (self.socket_path, self.fifo_path):
            p.unlink(missing_ok=True)
        os.mkfifo(self.fifo_path)
        if not self.gsc_state_path.exists():
            self.gsc_state_path.write_text('{"stars": []}', encoding="utf-8")

    def _command(self) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        path = [str(gsc_bin_dir()), str(Path(sys.executable).parent), env.get("PATH", "")]
        env.update(HOME=str(self.home), PATH=os.pathsep.join(path),
                   **{GSC_STATE_ENV: str(self.gsc_state_path)})
        return [self._exe, "-p", str(self.port), "-u", str(self.socket_path), "-f",
                str(self.fifo_path), "-r", str(self.restarts), *self.drivers], env

    def _state(self) -> ServerState:
        assert self.pid is not None and self.port is not None
        return ServerState(pid=self.pid, port=self.port, run_dir=str(self.run_dir),
                           socket_path=str(self.socket_path), fifo_path=str(self.fifo_path),
                           gsc_state_path=str(self.gsc_state_path), drivers=self.drivers,
                           started_unix=time.time())

    def _after_stop(self) -> None:
        self.socket_path.unlink(missing_ok=True)

    def driver_command(self, command: str) -> None:
        """Write ``command`` (e.g. ``stop indi_simulator_ccd``) to the server's FIFO."""
        fd = os.open(self.fifo_path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, (command.strip() + "\n").encode())
        finally:
            os.close(fd)

    def status(self) -> ServerState | None:
        """The recorded server if its PID is alive, else ``None`` (stale state removed)."""
        return super().status()

    def __enter__(self) -> IndiServer:
        self.start()
        return self


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
    server, state = resolve_local(IndiServer, who, run_dir, port, start_server, prefix)
    if state is not None:
        port, gsc_state_path = state.port, gsc_state_path or state.gsc_state_path
    if gsc_state_path is None:
        raise ConfigError("gsc_state_path is unknown", "pass run_dir= or gsc_state_path=")
    return server, int(port), Path(gsc_state_path)
