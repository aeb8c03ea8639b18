"""Connecting to and setting up the INDI simulator devices (mount, CCD, focuser).

Shared by :class:`~steer.instruments.indi.observatory.IndiObservatory` and
:class:`~steer.instruments.indi.focus.IndiFocusCamera`: both drive the same
three simulators through one :class:`~steer.instruments.indi.client.IndiClient`
and need them connected, defined, unparked and configured before the first
command, and again after any failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from steer.errors import InstrumentError

__all__ = ["TELESCOPE", "CCD", "FOCUSER", "DEVICES", "connect_with_retries",
           "set_up_simulators"]

log = logging.getLogger(__name__)

TELESCOPE = "Telescope Simulator"
CCD = "CCD Simulator"
FOCUSER = "Focuser Simulator"
DEVICES = (TELESCOPE, CCD, FOCUSER)

_REQUIRED_VECTORS = ((TELESCOPE, "EQUATORIAL_EOD_COORD"), (TELESCOPE, "TELESCOPE_PARK"),
                     (CCD, "CCD_EXPOSURE"), (CCD, "SIMULATOR_SETTINGS"), (CCD, "CCD_GAIN"),
                     (FOCUSER, "ABS_FOCUS_POSITION"))


def connect_with_retries(client: Any, set_up: Callable[[], None], retries: int, what: str,
                         hint: str, devices: tuple[str, ...] = DEVICES) -> None:
    """Connect the client to the three devices and run ``set_up``, retrying on failure.

    Args:
        client: The :class:`~steer.instruments.indi.client.IndiClient`.
        set_up: Called once connected; raises :class:`InstrumentError` on failure.
        retries: Further attempts after the first (0.5 s apart).
        what: Names the instrument in the log and the error (``"INDI"``...).
        hint: The error's hint when every attempt failed.
        devices: The device names to connect.

    Raises:
        InstrumentError: every attempt failed (the last failure is chained).
    """
    last: InstrumentError | None = None
    for attempt in range(retries + 1):
        try:
            client.connect(devices)
            set_up()
            return
        except InstrumentError as exc:
            last = exc
            log.warning("%s connect attempt %d failed: %s", what, attempt, exc)
            if attempt < retries:
                time.sleep(0.5)
    raise InstrumentError(f"{what} not ready after {retries + 1} attempts: {last}",
                          hint) from last


def set_up_simulators(client: Any, timeout_s: float, unpark_timeout_s: float,
                      ccd_size_px: int, ccd_noise_adu: float, time_factor: float,
                      site: tuple[float, float, float] | None = None,
                      names: tuple[str, str, str] = DEVICES) -> None:
    """Connect each device, wait for its properties, unpark, set the CCD simulator up.

    Args:
        client: A connected :class:`~steer.instruments.indi.client.IndiClient`.
        timeout_s: Seconds each property may take to be defined.
        unpark_timeout_s: Seconds the mount may take to unpark.
        ccd_size_px: Frame width and height (``SIM_XRES``, ``SIM_YRES``).
        ccd_noise_adu: The simulator's read noise (``SIM_NOISE``).
        time_factor: The simulator's exposure-time compression (``SIM_TIME_FACTOR``).
        site: ``(lat_deg, lon_deg, height_m)`` sent as ``GEOGRAPHIC_COORD``, if given.
        names: The telescope, CCD and focuser device names.

    Raises:
        InstrumentError: a device or property did not answer in time.
    """
    c = client
    telescope, ccd, focuser = names
    for dev in names:
        if not c.switch_on(dev, "CONNECTION", "CONNECT"):
            c.set_and_wait(dev, "CONNECTION", {"CONNECT": "On", "DISCONNECT": "Off"})
    rename = dict(zip(DEVICES, names, strict=True))
    for dev0, vec in _REQUIRED_VECTORS:
        dev = rename[dev0]
        c.wait_for(lambda d=dev, v=vec: c.vector(d, v) is not None, timeout_s,
                   f"{dev}.{vec} to be defined")
    c.enable_blobs(ccd)  # again, now that CCD1 is defined on this link
    if site is not None:
        lat, lon, height = site
        c.set_and_wait(telescope, "GEOGRAPHIC_COORD",
                       {"LAT": lat, "LONG": lon % 360.0, "ELEV": height})
    if c.switch_on(telescope, "TELESCOPE_PARK", "PARK"):  # only if parked: else no reply
        c.set_and_wait(telescope, "TELESCOPE_PARK", {"UNPARK": "On", "PARK": "Off"},
                       timeout_s=unpark_timeout_s)
    c.set_and_wait(ccd, "CCD_GAIN", {"GAIN": 50.0})  # 50: flux exactly proportional to time
    c.set_and_wait(ccd, "SIMULATOR_SETTINGS", {
        "SIM_XRES": ccd_size_px, "SIM_YRES": ccd_size_px, "SIM_NOISE": ccd_noise_adu,
        "SIM_TIME_FACTOR": time_factor,
        # stars fainter than the limiting magnitude are not drawn at all: push it to the
        # maximum so faint targets still appear (the flux scale is calibrated)
        "SIM_LIMITINGMAG": 20.0})
