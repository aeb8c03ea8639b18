"""Make astropy work without a network (physics.md, "Offline astropy").

Without a network astropy tries to download a fresh Earth-rotation (IERS) table for
nights past the end of the one shipped in the package and then raises. Turning off the
download and the table's age check makes it fall back to the bundled table (and to
extrapolated values, with a warning, for nights after it ends); the builtin
solar-system ephemeris needs no download.
"""

from __future__ import annotations

__all__ = ["configure_astropy_offline"]


def configure_astropy_offline() -> None:
    """Set astropy's IERS and data options so that nothing is downloaded (idempotent)."""
    from astropy.utils import iers
    from astropy.utils.data import conf as data_conf

    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    data_conf.allow_internet = False
