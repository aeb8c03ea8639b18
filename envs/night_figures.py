"""Figures of one night of target selection (the sky, the timeline, reward, conditions).

Drawn from the decision records alone, so a night read back from MLflow
draws the same figures as the live one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from steer.plots import new_figure, note, num, title_figure
from steer.records import DecisionRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["night_figures", "NIGHT_FIGURES"]

#: Keys of the dict returned by :func:`night_figures`.
NIGHT_FIGURES = ("sky", "timeline", "cumulative_reward", "conditions")

_HOURS_LABEL = "hours since first decision [h]"
_REJECTED_STYLE = {"marker": "x", "color": "tab:red", "s": 40, "linewidths": 1.5,
                   "label": "rejected", "zorder": 3}


@dataclass
class _Night:
    """Columns extracted from the records (one entry per record, NaN where missing)."""

    hours: np.ndarray
    executed: np.ndarray
    rejected: np.ndarray
    target_index: np.ndarray
    exptime_s: np.ndarray
    reward: np.ndarray
    decision_ms: np.ndarray
    step: np.ndarray
    alt_deg: np.ndarray
    az_deg: np.ndarray
    seeing_fwhm_arcsec: np.ndarray
    transparency: np.ndarray
    airmass: np.ndarray


def _position(record: DecisionRecord, key: str) -> float:
    """``alt_deg``/``az_deg`` from the measurement, else from the proposal or observation."""
    m = record.measurement or {}
    proposal = record.proposal or {}
    for source in ((m.get("conditions") or {}), (proposal.get("explanation") or {}),
                   (proposal.get("action") or {}), (record.observation or {})):
        value = num(source.get(key))
        if math.isfinite(value):
            return value
    return math.nan


def _columns(records: Sequence[DecisionRecord]) -> _Night:
    t0 = min((r.sim_mjd for r in records if math.isfinite(num(r.sim_mjd))), default=0.0)
    rows = []
    for r in records:
        m = r.measurement or {}
        cond = m.get("conditions") or {}
        action = (r.proposal or {}).get("action") or {}
        rows.append((
            (num(r.sim_mjd) - t0) * 24.0, bool(r.measurement) and r.status == "ok",
            r.status == "rejected", num(action.get("target_index")),
            num(m.get("exptime_s", action.get("exptime_s"))), num(r.reward),
            1000.0 * num((r.timings_s or {}).get("suggest")), float(r.step),
            _position(r, "alt_deg"), _position(r, "az_deg"),
            num(cond.get("seeing_fwhm_arcsec")), num(cond.get("transparency")),
            num(cond.get("airmass")),
        ))
    cols = list(zip(*rows, strict=True)) if rows else [()] * 13
    arrays = [np.asarray(c, dtype=bool if i in (1, 2) else float) for i, c in enumerate(cols)]
    return _Night(*arrays)


def _sky(n: _Night, title: str) -> Figure:
    fig = new_figure((6.5, 6.0))
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(1)  # the sky seen from below: North up, East to the left
    ax.set_rlim(0.0, 90.0)
    ax.set_rticks([15, 30, 45, 60, 75, 90])
    ax.set_yticklabels(["75°", "60°", "45°", "30°", "15°", "0°"], fontsize=8)
    ax.set_xticks(np.radians([0, 90, 180, 270]),
                  ["N (az 0°)", "E (90°)", "S (180°)", "W (270°)"])
    ax.set_xlabel("azimuth [deg]; radius: altitude [deg], zenith at the centre")
    vis = n.executed & np.isfinite(n.alt_deg) & np.isfinite(n.az_deg)
    if vis.any():
        sc = ax.scatter(np.radians(n.az_deg[vis]), 90.0 - n.alt_deg[vis], c=n.hours[vis],
                        cmap="viridis", s=28, edgecolors="k", linewidths=0.3, label="executed",
                        zorder=2)
        fig.colorbar(sc, ax=ax, shrink=0.7, pad=0.1, label=_HOURS_LABEL)
    rej = n.rejected & np.isfinite(n.alt_deg) & np.isfinite(n.az_deg)
    if rej.any():
        ax.scatter(np.radians(n.az_deg[rej]), 90.0 - np.clip(n.alt_deg[rej], 0.0, 90.0),
                   **_REJECTED_STYLE)
    n_rej_unplaced = int((n.rejected & ~rej).sum())
    if vis.any() or rej.any():
        fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    if not vis.any():
        note(ax, "no executed visits with a position")
    if n_rej_unplaced:
        ax.text(1.0, -0.1, f"{n_rej_unplaced} rejected without a position",
                transform=ax.transAxes, ha="right", fontsize=8, color="tab:red")
    title_figure(fig, "executed visits on the sky", title)
    return fig


def _timeline(n: _Night, title: str) -> Figure:
    fig = new_figure()
    ax = fig.add_subplot()
    vis = n.executed & np.isfinite(n.target_index)
    if vis.any():
        exptime = np.nan_to_num(n.exptime_s[vis], nan=0.0)
        size = 12.0 + 120.0 * exptime / max(float(exptime.max()), 1e-9)
        transparency = np.where(np.isfinite(n.transparency[vis]), n.transparency[vis], np.nan)
        sc = ax.scatter(n.hours[vis], n.target_index[vis], s=size, c=transparency,
                        cmap="cividis", vmin=0.0, vmax=1.0, edgecolors="k", linewidths=0.3,
                        plotnonfinite=True, label="executed (size: exposure time)")
        fig.colorbar(sc, ax=ax, label="transparency (1 = clear)")
    else:
        note(ax, "no executed visits")
    rej = n.rejected & np.isfinite(n.target_index)
    if rej.any():
        ax.scatter(n.hours[rej], n.target_index[rej], **_REJECTED_STYLE)
    if vis.any() or rej.any():
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(_HOURS_LABEL)
    ax.set_ylabel("target index (catalog row)")
    title_figure(fig, "timeline", title)
    return fig


def _cumulative_reward(n: _Night, title: str) -> Figure:
    fig = new_figure()
    ax = fig.add_subplot()
    ok = np.isfinite(n.hours)
    if ok.any():
        order = np.argsort(n.hours[ok], kind="stable")
        reward = np.nan_to_num(n.reward[ok][order], nan=0.0)
        ax.step(n.hours[ok][order], np.cumsum(reward), where="post", color="tab:blue")
        ax.plot(n.hours[ok][order], np.cumsum(reward), ".", ms=3, color="tab:blue")
    else:
        note(ax, "no decisions")
    ax.set_xlabel(_HOURS_LABEL)
    ax.set_ylabel("cumulative reward (dimensionless)")
    ax.grid(alpha=0.3)
    title_figure(fig, "cumulative reward", title)
    return fig


def _conditions(n: _Night, title: str) -> Figure:
    fig = new_figure((8.0, 6.5))
    axes = fig.subplots(3, 1, sharex=True)
    panels = (("seeing_fwhm_arcsec", "seeing FWHM [arcsec]", "tab:orange"),
              ("transparency", "transparency (1 = clear)", "tab:blue"),
              ("airmass", "airmass", "tab:green"))
    for ax, (key, label, colour) in zip(axes, panels, strict=True):
        y = getattr(n, key)
        ok = n.executed & np.isfinite(y) & np.isfinite(n.hours)
        if ok.any():
            ax.plot(n.hours[ok], y[ok], "o", ms=3.5, color=colour)
        else:
            note(ax, "no executed visits")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel(_HOURS_LABEL)
    title_figure(fig, "conditions of executed visits", title)
    return fig


def night_figures(records: list[DecisionRecord], title: str = "") -> dict[str, Figure]:
    """Draw the figures of one night.

    Args:
        records: The night's decisions (any status, any order).
        title: Prefix of every figure's title (e.g. the run name).

    Returns:
        Figures keyed by :data:`NIGHT_FIGURES`: ``sky`` (polar alt/az of the
        executed visits coloured by hours since the first decision, rejected
        actions as red crosses), ``timeline`` (target index vs hours, marker
        size by exposure time, colour by transparency), ``cumulative_reward``
        (vs hours), and ``conditions`` (seeing, transparency, airmass of executed
        visits vs hours). With no records or no executed visit the figures carry a note instead.
    """
    n = _columns(records)
    return {"sky": _sky(n, title), "timeline": _timeline(n, title),
            "cumulative_reward": _cumulative_reward(n, title),
            "conditions": _conditions(n, title)}


