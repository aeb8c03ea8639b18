"""Instruments: the simulated observatory and drivers for real hardware.

Real-instrument wrappers are registered by id with lazily imported entry
points. A wrapper is called as ``factory(sim_observatory, **options)`` and
returns an object with the :class:`steer.instruments.sim.SimulatedObservatory`
API whose ``check``/``execute`` drive the real hardware, while the simulated
observatory keeps the clock, the sky and the hidden truth.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from steer.errors import ConfigError, RegistryError

__all__ = ["INSTRUMENTS", "SIM_SERVERS", "check_instrument_options", "wrap_instrument"]

INSTRUMENTS: dict[str, str] = {
    "indi": "steer.instruments.indi:IndiObservatory",
    "alpaca": "steer.instruments.alpaca.observatory:AlpacaObservatory",
}

SIM_SERVERS: dict[str, tuple[str, str]] = {
    "indi-sim": ("steer.instruments.indi.server:IndiServer",
                 "a local INDI simulator server (telescope, CCD, focuser)"),
    "alpaca-sim": ("steer.instruments.alpaca.server:AlpacaSimServer",
                   "local ASCOM Alpaca simulators (telescope, camera, focuser, filter wheel, "
                   "observing conditions, safety monitor)"),
}
"""``steer <name> start|stop|status`` commands: entry point of a
:class:`~steer.instruments.process.LocalServer` and a one-line description."""


def _driver(name: str) -> Any:
    if name not in INSTRUMENTS:
        raise RegistryError(f"unknown instrument {name!r}",
                            f"use 'sim' or one of {', '.join(INSTRUMENTS)}")
    module, attr = INSTRUMENTS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def check_instrument_options(name: str, options: dict[str, Any]) -> None:
    """Refuse ``[env.instrument_options]`` the driver ``name`` does not take, before any
    night starts (the driver's constructor would fail at the night's first reset, after
    its run was created), and whatever its ``check_options`` refuses.

    Raises:
        ConfigError: an unknown option, or options for the simulated instrument.
        RegistryError: ``name`` is not registered.
    """
    if name == "sim":
        if options:
            raise ConfigError(f"[env.instrument_options] {', '.join(sorted(options))} apply "
                              "only to a real instrument", "set instrument = "
                              f"{' or '.join(repr(k) for k in INSTRUMENTS)}, or remove them")
        return
    driver = _driver(name)
    params = list(inspect.signature(driver).parameters.values())[1:]  # after sim_observatory
    known = {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"[env.instrument_options] {unknown[0]!r} is not an option of the "
                          f"{name!r} instrument", f"use {', '.join(sorted(known))}")
    check = getattr(driver, "check_options", None)
    if check is not None:
        check(options)


def wrap_instrument(name: str, sim_observatory: Any, **options: Any) -> Any:
    """Wrap ``sim_observatory`` with the registered real-instrument driver ``name``.

    Raises:
        RegistryError: if ``name`` is not registered.
    """
    return _driver(name)(sim_observatory, **options)
