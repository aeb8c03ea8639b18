"""A parsed copy of astropy's bundled Earth-rotation table, for fast start-up.

The first alt/az transform of a process makes astropy parse its bundled IERS
tables (``finals2000A.all`` and ``eopc04``, text, ~0.9 s on this machine), and
``steer suggest`` pays that on every call. :func:`use_cached_iers` loads the
table astropy parsed in an earlier run from a pickle (tens of milliseconds)
and installs it as ``astropy.utils.iers.earth_orientation_table``; the first
run parses as usual and writes the pickle. The cache is keyed by the astropy
and astropy-iers-data versions, so an upgrade re-parses. Nothing is
downloaded (:func:`~steer.instruments.sim._offline.configure_astropy_offline`
is applied first); any failure falls back to astropy's own loading.

The cache lives in ``$STEER_CACHE_DIR`` or ``~/.cache/steer``.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

__all__ = ["use_cached_iers", "cache_dir"]


def cache_dir() -> Path:
    """Folder of steer's caches."""
    return Path(os.environ.get("STEER_CACHE_DIR") or Path.home() / ".cache" / "steer")


def _cache_path() -> Path:
    import astropy

    try:
        import astropy_iers_data

        data_version = str(getattr(astropy_iers_data, "__version__", "unknown"))
    except ImportError:  # pragma: no cover - astropy >= 6 depends on it
        data_version = "none"
    return cache_dir() / f"iers-auto-astropy{astropy.__version__}-data{data_version}.pkl"


_INSTALLED: list[bool] = []  # once per process


def use_cached_iers() -> bool:
    """Install the cached parsed IERS table (write it on the first call); True if loaded.

    Only the first call of a process does anything; later ones return its answer.
    """
    if _INSTALLED:
        return _INSTALLED[0]
    _INSTALLED.append(_install())
    return _INSTALLED[0]


def _install() -> bool:
    from astropy.utils import iers

    from steer.instruments.sim._offline import configure_astropy_offline

    configure_astropy_offline()
    path = _cache_path()
    try:
        with open(path, "rb") as fh:
            table = pickle.load(fh)
        if isinstance(table, iers.IERS):
            iers.earth_orientation_table.set(table)
            return True
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        pass
    try:
        table = iers.IERS_Auto.open()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(table, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except (OSError, pickle.PicklingError, TypeError):
        pass
    return False
