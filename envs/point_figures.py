"""Figures of an episode whose actions are points of a box or of a pool.

``focus`` (autofocus), ``regret`` (black box and candidate pool) and
``objective`` (anything else that names its objective), drawn from the
decision records alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from steer.plots import new_figure, note, num, title_figure
from steer.records import DecisionRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["focus_figures", "regret_figures", "objective_figures"]


def _measured(records: Sequence[DecisionRecord]) -> tuple[str, dict[str, np.ndarray]]:
    """The objective's name and, per executed evaluation, every measured number."""
    ok = [r.measurement for r in records if r.status == "ok" and r.measurement]
    name = next((str(m["objective_name"]) for m in ok if m.get("objective_name")), "")
    keys = sorted({k for m in ok for k, v in m.items() if not isinstance(v, dict | str)})
    cols = {k: np.asarray([num(m.get(k)) for m in ok], float) for k in keys}
    if not name:  # no objective named: the measured value is -reward
        name = "-reward"
        cols[name] = -np.asarray([num(r.reward) for r in records
                                  if r.status == "ok" and r.measurement], float)
    return name, cols


def _objective_axis(ax: Axes, name: str, cols: dict[str, np.ndarray], label: str) -> None:
    """Measured objective per evaluation, its best so far and, if known, its truth."""
    y = cols.get(name, np.zeros(0))
    n = np.arange(1, y.size + 1)
    if not y.size:
        note(ax, "no executed evaluations")
        return
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.plot(n, y, "o", ms=4, color="tab:blue", label="measured")
    best = np.fmin.accumulate(np.where(np.isfinite(y), y, np.inf))
    ax.step(n, np.where(np.isfinite(best), best, np.nan), where="post", color="tab:red",
            label="best so far")
    truth = cols.get(f"truth_{name}")
    if truth is not None and np.isfinite(truth).any():
        ax.plot(n, truth, "o", ms=6, mfc="none", color="0.45", label="true (simulator)")
    floor = cols.get("truth_fwhm_min_arcsec")
    if name == "fwhm_arcsec" and floor is not None and np.isfinite(floor).any():
        ax.axhline(float(np.nanmin(floor)), ls=":", color="0.3", label="seeing floor")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")


def _focus(name: str, cols: dict[str, np.ndarray], title: str) -> Figure:
    fig = new_figure((8.0, 6.5))
    top, bottom = fig.subplots(2, 1, sharex=True)
    _objective_axis(top, name, cols, "star FWHM [arcsec]")
    pos = cols.get("position_steps", np.zeros(0))
    if pos.size:
        n = np.arange(1, pos.size + 1)
        bottom.plot(n, pos, "o-", ms=4, lw=0.8, color="tab:green", label="focuser position")
        best = cols.get("truth_best_position_steps")
        if best is not None and np.isfinite(best).any():
            bottom.plot(n, best, "--", color="0.3", label="true best focus (simulator)")
        bottom.legend(fontsize=8, loc="best")
    else:
        note(bottom, "no executed exposures")
    bottom.set_ylabel("focuser position [steps]")
    bottom.set_xlabel("exposure")
    bottom.grid(alpha=0.3)
    title_figure(fig, "FWHM and focuser position per exposure", title)
    return fig


def _regret(name: str, cols: dict[str, np.ndarray], title: str) -> Figure:
    fig = new_figure((8.0, 6.5))
    top, bottom = fig.subplots(2, 1, sharex=True)
    _objective_axis(top, name, cols, f"measured {name}")
    n = np.arange(1, cols["simple_regret"].size + 1)
    for key, label, style in (("simple_regret", "best so far: min f(x) - f*", "-"),
                              ("incumbent_regret", "at the best measured point", "--")):
        y = cols.get(key)
        if y is not None and np.isfinite(y).any():
            bottom.step(n, np.maximum(y, 1e-12), style, where="post", label=label)
    bottom.set_yscale("log")
    bottom.set_ylabel("true regret (simulator)")
    bottom.set_xlabel("evaluation")
    bottom.grid(alpha=0.3, which="both")
    bottom.legend(fontsize=8, loc="best")
    title_figure(fig, "objective and regret per evaluation", title)
    return fig


def _objective(name: str, cols: dict[str, np.ndarray], title: str) -> Figure:
    fig = new_figure()
    ax = fig.add_subplot()
    _objective_axis(ax, name, cols, f"measured {name}")
    ax.set_xlabel("evaluation")
    title_figure(fig, "objective per evaluation", title)
    return fig


def focus_figures(records: Sequence[DecisionRecord], title: str = "") -> dict[str, Figure]:
    """``focus``: measured FWHM per exposure with the best so far, the true FWHM and
    the seeing floor in simulation, and the focuser positions against the true
    best focus."""
    name, cols = _measured(records)
    return {"focus": _focus(name, cols, title)}


def regret_figures(records: Sequence[DecisionRecord], title: str = "") -> dict[str, Figure]:
    """``regret``: the measured value with its best so far, and the true simple
    regret on a log scale (``objective`` when no regret was measured)."""
    name, cols = _measured(records)
    if "simple_regret" not in cols:
        return objective_figures(records, title)
    return {"regret": _regret(name, cols, title)}


def objective_figures(records: Sequence[DecisionRecord], title: str = "") -> dict[str, Figure]:
    """``objective``: the measured objective per evaluation with its best so far."""
    name, cols = _measured(records)
    return {"objective": _objective(name, cols, title)}
