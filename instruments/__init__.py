"""Instruments: the simulated observatory and drivers for real hardware.

Real-instrument wrappers are registered by id with lazily imported entry
points. A wrapper is called as ``factory(sim_observatory, **options)`` and
returns an object with the :class:`steer.instruments.sim.SimulatedObservatory`
API whose ``check``/``execute`` drive the real hardware, while the simulated
observatory keeps the clock, the sky and the hidden truth.
"""

from __future__ import annotations

import importlib
from typing import Any

from steer.errors import RegistryError

__all__ = ["INSTRUMENTS", "SIM_SERVERS", "wrap_instrument"]

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


def wrap_instrument(name: str, sim_observatory: Any, **options: Any) -> Any:
    """Wrap ``sim_observatory`` with the registered real-instrument driver ``name``.

    Raises:
        RegistryError: if ``name`` is not registered.
    """
    if name not in INSTRUMENTS:
        raise RegistryError(f"unknown instrument {name!r}",
                            f"use 'sim' or one of {', '.join(INSTRUMENTS)}")
    module, attr = INSTRUMENTS[name].split(":")
    return getattr(importlib.import_module(module), attr)(sim_observatory, **options)
