"""The checks of ``bo``'s settings: each bad value refused in one line that names the fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from steer.errors import ConfigError

__all__ = ["check_settings"]


def _number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float) and bool(np.isfinite(v))


def _whole(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, int) and v >= 0


def check_settings(*, lengthscale_d: Any, lengthscales_d: Sequence[Any], posterior: Any,
                   horizon_d: Any, amplitude_bins: Any, n_amplitudes: int,
                   faint_memory_d: Any, lookahead: Any, precision_mag: Any) -> None:
    """Refuse a bad setting of :class:`~steer.policies.bo.BOPolicy` (defaults resolved).

    Raises:
        ConfigError: The first bad setting, with what to write instead.
    """
    if not (_number(precision_mag) and precision_mag >= 0):
        raise ConfigError(f"precision_mag = {precision_mag!r} is not a magnitude >= 0",
                          "e.g. precision_mag = 0.005 (default), or 0 for the IPV reduction")
    if precision_mag > 0 and posterior != "cached":
        raise ConfigError("precision_mag needs posterior = 'cached'",
                          "drop posterior = 'botorch', or set precision_mag = 0")
    if not _whole(lookahead):
        raise ConfigError(f"lookahead = {lookahead!r} is not a whole number of candidates >= 0",
                          "e.g. lookahead = 8, or 0 (default) for the myopic rate")
    if not (_number(faint_memory_d) and faint_memory_d >= 0):
        raise ConfigError(f"faint_memory_d = {faint_memory_d!r} is not a number of days >= 0",
                          "e.g. faint_memory_d = 0.5 (one night), or 0 to turn it off")
    if not (_whole(amplitude_bins) and 1 <= amplitude_bins <= n_amplitudes):
        raise ConfigError(f"amplitude_bins = {amplitude_bins!r} is not a whole number "
                          f"from 1 to {n_amplitudes}",
                          "1 (the most probable amplitude) or e.g. 3")
    if amplitude_bins > 1 and not lengthscales_d:
        raise ConfigError("amplitude_bins > 1 needs lengthscales_d (time-scale averaging)",
                          "drop amplitude_bins, or give lengthscales_d")
    if not _whole(horizon_d):
        raise ConfigError(f"horizon_d = {horizon_d!r} is not a whole number of nights >= 0",
                          "e.g. horizon_d = 3 for a campaign, 0 for tonight only")
    if posterior not in ("cached", "botorch"):
        raise ConfigError(f"posterior = {posterior!r} is not known",
                          "use 'cached' (default) or 'botorch'")
    for v in [lengthscale_d, *lengthscales_d]:
        if not (_number(v) and v > 0):
            raise ConfigError(f"time scale {v!r} (days) is not a positive number",
                              "e.g. lengthscales_d = [0.03, 0.08, 0.25, 1.0, 5.0]")
    if lengthscales_d and posterior == "botorch":
        raise ConfigError("posterior = 'botorch' supports one time scale only",
                          "set lengthscales_d = [] with posterior = 'botorch'")
