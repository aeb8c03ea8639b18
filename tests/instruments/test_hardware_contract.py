"""The hardware contract's pure parts: WCS from a FITS header, device-name checks."""

from __future__ import annotations

import pytest
from astropy.io import fits

from steer.errors import ConfigError
from steer.instruments.alpaca.observatory import frame_wcs
from steer.instruments.indi.hardware import IndiDeviceNames, frame_wcs_from_header


def test_a_written_wcs_is_used_and_a_missing_one_is_not() -> None:
    w = frame_wcs(150.0, 20.0, 1.2, 512, 512)
    header = fits.Header(w.to_header())
    got = frame_wcs_from_header(header)
    assert got is not None
    x, y = got.world_to_pixel_values(150.0, 20.0)
    assert abs(float(x) - 255.5) < 1e-6 and abs(float(y) - 255.5) < 1e-6  # 0-based centre
    assert frame_wcs_from_header(fits.Header({"RA": 150.0, "DEC": 20.0, "SCALE": 1.2})) is None
    assert frame_wcs_from_header(None) is None


def test_device_names() -> None:
    assert IndiDeviceNames.from_options(None).all() == ("Telescope Simulator", "CCD Simulator",
                                                        "Focuser Simulator")
    assert IndiDeviceNames.from_options({"ccd": "ZWO CCD ASI294MC"}).ccd == "ZWO CCD ASI294MC"
    with pytest.raises(ConfigError, match="unknown INDI device kind"):
        IndiDeviceNames.from_options({"camera": "x"})
    with pytest.raises(ConfigError, match="devices.ccd = ''"):
        IndiDeviceNames.from_options({"ccd": ""})
