"""``bo``'s settings: their defaults, the version they make, and the checks that refuse
each bad value in one line that names the fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from steer.errors import ConfigError

__all__ = ["check_settings", "resolve_defaults", "rule_words", "version_of"]


def _number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float) and bool(np.isfinite(v))


def _whole(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, int) and v >= 0


def resolve_defaults(lengthscales_d: Sequence[Any], posterior: Any, amplitude_bins: Any,
                     faint_memory_d: Any, precision_mag: Any, overhead_weight: Any,
                     amortise_readout: Any = None,
                     period_weight: Any = None,
                     transient_peaks: Any = None,
                     refine_periods: Any = None) -> tuple[Any, ...]:
    """The settings left ``None`` resolved to the newest version's defaults.

    Each default depends on the settings it builds on: amplitude bins and the
    faint-frame memory on time-scale averaging (``lengthscales_d``), the
    precision on the cached posterior, the overhead weight on the precision,
    the amortised readout and the period's information (version 8) on the
    overhead weight; the transients' peaks (an option, off) on the period's information.

    Returns:
        ``(amplitude_bins, faint_memory_d, precision_mag, overhead_weight,
        amortise_readout, period_weight, transient_peaks, refine_periods)``.
    """
    if amplitude_bins is None:
        amplitude_bins = 3 if lengthscales_d else 1
    if faint_memory_d is None:
        faint_memory_d = 0.5 if lengthscales_d else 0.0
    if precision_mag is None:
        precision_mag = 0.005 if lengthscales_d and posterior == "cached" else 0.0
    if overhead_weight is None:
        overhead_weight = 32.0 if _number(precision_mag) and precision_mag > 0 else 1.0
    version_7 = _number(overhead_weight) and overhead_weight != 1
    if amortise_readout is None:
        amortise_readout = bool(version_7)
    if period_weight is None:
        period_weight = 1.0 if version_7 else 0.0
    if transient_peaks is None:  # measured not to help (README)
        transient_peaks = False
    if refine_periods is None:
        refine_periods = False
    return (amplitude_bins, faint_memory_d, precision_mag, overhead_weight, amortise_readout,
            period_weight, transient_peaks, refine_periods)


def version_of(bma: bool, amplitude_bins: int, faint_memory_d: float, precision_mag: float,
               overhead_weight: float, lookahead: int, amortise_readout: bool = False,
               period_weight: float = 0.0, transient_peaks: bool = False,
               refine_periods: bool = False) -> str:
    """The version a set of settings makes: each version is the one before plus one
    setting; a setting without the ones it builds on makes a named variant."""
    version = ("4" if amplitude_bins > 1 else "3") if bma else "2"
    if faint_memory_d > 0:
        version = "5" if version == "4" else f"{version}+faint"
    if precision_mag > 0:
        version = "6" if version == "5" else f"{version}+precision"
    if overhead_weight != 1:
        version = "7" if version == "6" else f"{version}+overhead"
    if amortise_readout and overhead_weight != 1:  # at 1 it does nothing
        version = f"{version}+amortise"
    if period_weight > 0:
        version = f"{version}+period"
    if version == "7+amortise+period":
        version = "8"
    if refine_periods and period_weight > 0:
        version = f"{version}+refine"
    if transient_peaks and period_weight > 0:  # an option, measured not to help (README)
        version = f"{version}+peaks"
    if lookahead:  # an option, not a version: measured not to help (README)
        version = f"{version}+lookahead"
    return version


def rule_words(precision_mag: float, overhead_weight: float, amortise_readout: bool,
               lookahead: int, faint_memory_d: float,
               period_weight: float = 0.0, transient_peaks: bool = False) -> dict[str, Any]:
    """The decision rule a set of settings makes, in the words a decision's explanation gives.

    Args:
        precision_mag: 0 for the IPV reduction, else the information's precision.
        overhead_weight: Seconds of exposure a second of dead time costs.
        amortise_readout: Each target's exposure amortises the readout too.
        lookahead: Candidates given the two-step lookahead (0: none this time).
        faint_memory_d: Days a faint frame is remembered.
    """
    period = ("" if not period_weight else " + "
              + ("" if period_weight == 1 else f"{period_weight:g} x ") + "on its period"
              + (" or peak" if transient_peaks else ""))
    per = ("(slew+readout+exposure) s" if overhead_weight == 1 else
           f"({overhead_weight:g} x (slew+settle+filter change)+readout+exposure) s")
    rule = (f"priority * expected IPV reduction / {per}" if not precision_mag
            else f"priority * expected information (nats) on the light curve to "
                 f"{precision_mag:g} mag{period} / {per}")
    if lookahead:
        rule = (f"for the {lookahead} best by {rule}: both visits' value / both's "
                "seconds, this one's and the best next one's from where it leaves the "
                "telescope; the others follow, by one visit's")
    return {"acquisition": rule,
            **({"precision_mag": precision_mag} if precision_mag else {}),
            "overhead_weight": overhead_weight,
            **({"period_weight": period_weight} if period_weight else {}),
            **({"exposure": f"each target's: the best value per ({overhead_weight:g} x "
                            "(slew+settle+filter change+readout)+exposure) s"}
               if amortise_readout else {}),
            "saturation": "no exposure predicted to saturate (limit + 0.3 mag), nor one "
                          "as long as one that did",
            "faint": f"a target whose frame of the last {faint_memory_d:g} d came back "
                     "at SNR < 3 is predicted no brighter than that frame implies"}


def check_settings(*, lengthscale_d: Any, lengthscales_d: Sequence[Any], posterior: Any,
                   horizon_d: Any, amplitude_bins: Any, n_amplitudes: int,
                   faint_memory_d: Any, lookahead: Any, precision_mag: Any,
                   overhead_weight: Any, amortise_readout: Any = False,
                   period_weight: Any = 0.0, transient_peaks: Any = False,
                   refine_periods: Any = False) -> None:
    """Refuse a bad setting of :class:`~steer.policies.bo.BOPolicy` (defaults resolved).

    Raises:
        ConfigError: The first bad setting, with what to write instead.
    """
    if not (_number(overhead_weight) and overhead_weight >= 1):
        raise ConfigError(f"overhead_weight = {overhead_weight!r} is not a number >= 1",
                          "e.g. overhead_weight = 32 (default), or 1 to cost a second of "
                          "slew as a second of exposure")
    if not (_number(period_weight) and period_weight >= 0):
        raise ConfigError(f"period_weight = {period_weight!r} is not a number >= 0",
                          "e.g. period_weight = 1 (a nat on the period as one on the light "
                          "curve), or 0 to leave the period out")
    if not isinstance(refine_periods, bool):
        raise ConfigError(f"refine_periods = {refine_periods!r} is not true or false",
                          "refine_periods = true, or false")
    if not isinstance(transient_peaks, bool):
        raise ConfigError(f"transient_peaks = {transient_peaks!r} is not true or false",
                          "transient_peaks = true, or false (default)")
    if not isinstance(amortise_readout, bool):
        raise ConfigError(f"amortise_readout = {amortise_readout!r} is not true or false",
                          "amortise_readout = true, or false (default)")
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
