"""Start, stop and inspect a local ``alpaca-simulators`` server on 127.0.0.1.

One :class:`AlpacaSimServer` owns a run folder: the server's YAML
configuration (the package template with steer's settings on top), the
SQLite star table its camera draws from (``sky.db``, table
``gaia_sources(ra, dec, phot_g_mean_mag)``: the simulators' Gaia query is
pointed at it through ``tap_source``, so nothing is downloaded), the log and
``server.json``. It is the Alpaca counterpart of
:class:`~steer.instruments.indi.server.IndiServer`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steer.errors import ConfigError, MissingDependencyError
from steer.instruments.process import LocalServer, resolve_local

_BANDS = ("u", "g", "r", "i", "z", "y")

__all__ = ["AlpacaSimServer", "AlpacaServerState", "resolve_alpaca_server",
           "set_simulated_safety", "write_sky"]

log = logging.getLogger(__name__)

SKY_TABLE = "gaia_sources"


@dataclass
class AlpacaServerState:
    """What ``server.json`` records about a running Alpaca simulator server.

    Attributes:
        pid: Process id.
        port: TCP port on 127.0.0.1.
        run_dir: The run folder.
        config_path: The YAML configuration it was started with.
        sky_db_path: The SQLite star table its camera draws.
        started_unix: Start time, seconds since the epoch.
    """

    pid: int
    port: int
    run_dir: str
    config_path: str
    sky_db_path: str
    started_unix: float


def write_sky(path: Path, stars: Iterable[tuple[float, float, float]]) -> None:
    """Replace the star table at ``path`` atomically with ``(ra_deg, dec_deg, mag)`` rows.

    The server opens the file for each frame, so a frame never sees half a sky.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    with sqlite3.connect(tmp) as db:
        db.execute(f"CREATE TABLE {SKY_TABLE} (ra REAL, dec REAL, phot_g_mean_mag REAL)")
        db.executemany(f"INSERT INTO {SKY_TABLE} VALUES (?, ?, ?)",
                       [(float(r), float(d), float(m)) for r, d, m in stars])
    os.replace(tmp, path)


def _template() -> dict[str, Any]:
    import yaml

    spec = importlib.util.find_spec("alpaca_simulators")
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).parent / "config" / "template.yaml"
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


class AlpacaSimServer(LocalServer):
    """A local ``alpaca-simulators`` process (telescope, camera, focuser, filter wheel,
    observing conditions, safety monitor) on 127.0.0.1, stopped by PID.

    Args:
        run_dir: Folder for configuration, star table, log and state (created).
        port: TCP port; ``None`` picks a free one.
        site: ``(lat_deg, lon_deg, height_m)`` of the simulated mount.
        slew_rate_deg_s: The mount's slew rate (the template's 15 deg/s; tests
            use more to keep slews short).
        camera_size_px: Square sensor size.
        aperture_m, focal_length_m: The simulated optics (flux and pixel scale:
            10 um pixels at 8 m give 0.26"/px).
        settings: Further template keys to override (``pointing_error_ra``, ...).
        startup_timeout_s, remove_run_dir, die_with_parent: as :class:`LocalServer`.
    """

    label = "alpaca-simulators"
    cli = "steer alpaca-sim"
    log_name = "alpaca.log"
    state_cls = AlpacaServerState

    def __init__(self, run_dir: str | Path, port: int | None = None,
                 site: tuple[float, float, float] = (48.0, 8.0, 1000.0),
                 slew_rate_deg_s: float = 15.0, camera_size_px: int = 512,
                 aperture_m: float = 1.0, focal_length_m: float = 8.0,
                 settings: dict[str, Any] | None = None, startup_timeout_s: float = 30.0,
                 remove_run_dir: bool = False, die_with_parent: bool = False) -> None:
        super().__init__(run_dir, port=port, startup_timeout_s=startup_timeout_s,
                         remove_run_dir=remove_run_dir, die_with_parent=die_with_parent)
        self.site = tuple(float(v) for v in site)
        self.slew_rate_deg_s = float(slew_rate_deg_s)
        self.camera_size_px = int(camera_size_px)
        self.aperture_m = float(aperture_m)
        self.focal_length_m = float(focal_length_m)
        self.settings = dict(settings or {})
        self.config_path = self.run_dir / "alpaca.yaml"
        self.sky_db_path = self.run_dir / "sky.db"

    def start(self) -> AlpacaServerState:
        """Start the server and wait until it answers on its port.

        Raises:
            MissingDependencyError: ``alpaca-simulators`` is not installed.
            InstrumentError: already running in the run folder, exited, or not up in time.
        """
        if importlib.util.find_spec("alpaca_simulators") is None:
            raise MissingDependencyError("alpaca-simulators is not installed",
                                         "pip install 'alpaca-simulators>=1.3.2'")
        return super().start()

    def config(self) -> dict[str, Any]:
        """The server's configuration: the package template with steer's settings."""
        cfg = _template()
        dev = cfg["devices"]
        n = self.camera_size_px
        dev["camera"][0].update(cameraxsize=n, cameraysize=n, numx=n, numy=n)
        lat, lon, height = self.site
        dev["telescope"][0].update(sitelatitude=lat, sitelongitude=lon, siteelevation=height,
                                   slew_rate=self.slew_rate_deg_s,
                                   aperturediameter=self.aperture_m,
                                   aperturearea=3.14159 * (self.aperture_m / 2) ** 2,
                                   focallength=self.focal_length_m)
        # the simulation's bands, no focus offsets (steer sets the seeing through the focuser)
        dev["filterwheel"][0].update(names=list(_BANDS), focusoffsets=[0] * len(_BANDS),
                                     position=_BANDS.index("r"))
        cfg.update(tap_source=str(self.sky_db_path), image_cache_entries=1,
                   gaia_query_timeout=10)
        unknown = sorted(set(self.settings) - set(cfg))
        if unknown:
            raise ConfigError(f"unknown alpaca-simulators setting(s) {unknown}",
                              f"use one of {sorted(k for k in cfg if k != 'devices')}")
        cfg.update(self.settings)
        return cfg

    def _prepare(self) -> None:
        import yaml

        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False),
                                    encoding="utf-8")
        if not self.sky_db_path.exists():
            write_sky(self.sky_db_path, [])

    def _command(self) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        env["HOME"] = str(self.run_dir)
        return [sys.executable, "-m", "alpaca_simulators.run_simulator", "--host", "127.0.0.1",
                "--port", str(self.port), "--config", str(self.config_path)], env

    def _state(self) -> AlpacaServerState:
        assert self.pid is not None and self.port is not None
        return AlpacaServerState(pid=self.pid, port=self.port, run_dir=str(self.run_dir),
                                 config_path=str(self.config_path),
                                 sky_db_path=str(self.sky_db_path), started_unix=time.time())

    def __enter__(self) -> AlpacaSimServer:
        self.start()
        return self


def resolve_alpaca_server(who: str, run_dir: str | None, port: int | None, start_server: bool,
                          sky_db_path: str | None, **server_options: Any,
                          ) -> tuple[AlpacaSimServer | None, int, Path | None]:
    """Start a private simulator server or find a running one.

    Returns:
        ``(server started here or None, port, star table path or None)``: a real
        Alpaca device (no star table) is driven as it is.

    Raises:
        ConfigError: neither a port, a run folder nor ``start_server``.
        InstrumentError: no server recorded in ``run_dir``.
    """
    server, state = resolve_local(AlpacaSimServer, who, run_dir, port, start_server,
                                  "steer-alpaca-", **server_options)
    if state is not None:
        port, sky_db_path = state.port, sky_db_path or state.sky_db_path
    return server, int(port), Path(sky_db_path) if sky_db_path else None


def set_simulated_safety(port: int, safe: bool, host: str = "127.0.0.1",
                         timeout_s: float = 5.0) -> None:
    """Flip alpaca-simulators' safety monitor (as rain on a sensor would), for drills.

    Raises:
        InstrumentError: the simulator refused or did not answer.
    """
    import requests

    from steer.errors import InstrumentError

    try:
        r = requests.put(f"http://{host}:{int(port)}/api/v1/safetymonitor/0/issafe",
                         data={"IsSafe": str(bool(safe)), "ClientID": 1,
                               "ClientTransactionID": 1}, timeout=timeout_s)
        ok = r.ok and r.json().get("ErrorNumber") == 0
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise InstrumentError(f"the simulated safety monitor on port {port} did not answer: "
                              f"{type(exc).__name__}", "is alpaca-simulators running?") from exc
    if not ok:
        raise InstrumentError(f"the simulated safety monitor refused IsSafe={safe}: {r.text}")
