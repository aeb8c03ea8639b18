"""Figures of one night and of a policy comparison, for MLflow and reports.

Figures are built as :class:`matplotlib.figure.Figure` objects directly,
without pyplot: they render through Agg whatever the session's backend is,
they are not registered in pyplot's global figure list (so thousands of
simulated nights leak nothing), and the caller owns them (nothing is closed
here). Save them with ``fig.savefig(path, bbox_inches="tight")``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from steer.records import DecisionRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["run_figures", "night_figures", "point_figures", "compare_figure", "NIGHT_FIGURES"]

#: Keys of the dict returned by :func:`night_figures`.
NIGHT_FIGURES = ("sky", "timeline", "cumulative_reward", "conditions", "decision_time")

_HOURS_LABEL = "hours since first decision [h]"
_REJECTED_STYLE = {"marker": "x", "color": "tab:red", "s": 40, "linewidths": 1.5,
                   "label": "rejected", "zorder": 3}


def _num(value: Any) -> float:
    """A float, NaN for missing or non-numeric values."""
    if value is None or isinstance(value, bool | str):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


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
        value = _num(source.get(key))
        if math.isfinite(value):
            return value
    return math.nan


def _columns(records: Sequence[DecisionRecord]) -> _Night:
    t0 = min((r.sim_mjd for r in records if math.isfinite(_num(r.sim_mjd))), default=0.0)
    rows = []
    for r in records:
        m = r.measurement or {}
        cond = m.get("conditions") or {}
        action = (r.proposal or {}).get("action") or {}
        rows.append((
            (_num(r.sim_mjd) - t0) * 24.0, bool(r.measurement) and r.status == "ok",
            r.status == "rejected", _num(action.get("target_index")),
            _num(m.get("exptime_s", action.get("exptime_s"))), _num(r.reward),
            1000.0 * _num((r.timings_s or {}).get("suggest")), float(r.step),
            _position(r, "alt_deg"), _position(r, "az_deg"),
            _num(cond.get("seeing_fwhm_arcsec")), _num(cond.get("transparency")),
            _num(cond.get("airmass")),
        ))
    cols = list(zip(*rows, strict=True)) if rows else [()] * 13
    arrays = [np.asarray(c, dtype=bool if i in (1, 2) else float) for i, c in enumerate(cols)]
    return _Night(*arrays)


def _new_figure(figsize: tuple[float, float] = (8.0, 4.5)) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _note(ax: Axes, text: str) -> None:
    """Write a centred note on an axis (used when there is nothing to draw)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=11,
            color="0.4", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85})


def _title(fig: Figure, name: str, title: str) -> None:
    fig.suptitle(f"{title}: {name}" if title else name)


def _sky(n: _Night, title: str) -> Figure:
    fig = _new_figure((6.5, 6.0))
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
        _note(ax, "no executed visits with a position")
    if n_rej_unplaced:
        ax.text(1.0, -0.1, f"{n_rej_unplaced} rejected without a position",
                transform=ax.transAxes, ha="right", fontsize=8, color="tab:red")
    _title(fig, "executed visits on the sky", title)
    return fig


def _timeline(n: _Night, title: str) -> Figure:
    fig = _new_figure()
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
        _note(ax, "no executed visits")
    rej = n.rejected & np.isfinite(n.target_index)
    if rej.any():
        ax.scatter(n.hours[rej], n.target_index[rej], **_REJECTED_STYLE)
    if vis.any() or rej.any():
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(_HOURS_LABEL)
    ax.set_ylabel("target index (catalog row)")
    _title(fig, "timeline", title)
    return fig


def _cumulative_reward(n: _Night, title: str) -> Figure:
    fig = _new_figure()
    ax = fig.add_subplot()
    ok = np.isfinite(n.hours)
    if ok.any():
        order = np.argsort(n.hours[ok], kind="stable")
        reward = np.nan_to_num(n.reward[ok][order], nan=0.0)
        ax.step(n.hours[ok][order], np.cumsum(reward), where="post", color="tab:blue")
        ax.plot(n.hours[ok][order], np.cumsum(reward), ".", ms=3, color="tab:blue")
    else:
        _note(ax, "no decisions")
    ax.set_xlabel(_HOURS_LABEL)
    ax.set_ylabel("cumulative reward (dimensionless)")
    ax.grid(alpha=0.3)
    _title(fig, "cumulative reward", title)
    return fig


def _conditions(n: _Night, title: str) -> Figure:
    fig = _new_figure((8.0, 6.5))
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
            _note(ax, "no executed visits")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel(_HOURS_LABEL)
    _title(fig, "conditions of executed visits", title)
    return fig


def _decision_time(n: _Night, title: str) -> Figure:
    fig = _new_figure()
    ax = fig.add_subplot()
    ok = np.isfinite(n.decision_ms)
    if ok.any():
        ax.plot(n.step[ok], n.decision_ms[ok], ".", ms=4, color="tab:purple")
        ax.set_ylim(bottom=0.0)
    else:
        _note(ax, "no decision timings")
    ax.set_xlabel("decision step")
    ax.set_ylabel("decision time (suggest) [ms]")
    ax.grid(alpha=0.3)
    _title(fig, "decision latency", title)
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
        (vs hours), ``conditions`` (seeing, transparency, airmass of executed
        visits vs hours) and ``decision_time`` (suggest time per step). With
        no records or no executed visit the figures carry a note instead.
    """
    n = _columns(records)
    return {"sky": _sky(n, title), "timeline": _timeline(n, title),
            "cumulative_reward": _cumulative_reward(n, title),
            "conditions": _conditions(n, title), "decision_time": _decision_time(n, title)}


def run_figures(records: list[DecisionRecord], title: str = "") -> dict[str, Figure]:
    """The figures of one episode, chosen by what its actions are.

    Points of a box (autofocus, black box) get :func:`point_figures`; catalog
    targets (and runs without any decision) get :func:`night_figures`.
    """
    if any("x" in ((r.proposal or {}).get("action") or {}) for r in records):
        return point_figures(records, title)
    return night_figures(records, title)


def _measured(records: Sequence[DecisionRecord]) -> tuple[str, dict[str, np.ndarray]]:
    """The objective's name and, per executed evaluation, every measured number."""
    ok = [r.measurement for r in records if r.status == "ok" and r.measurement]
    name = next((str(m["objective_name"]) for m in ok if m.get("objective_name")), "")
    keys = sorted({k for m in ok for k, v in m.items() if not isinstance(v, dict | str)})
    cols = {k: np.asarray([_num(m.get(k)) for m in ok], float) for k in keys}
    if not name:  # no objective named: the measured value is -reward
        name = "-reward"
        cols[name] = -np.asarray([_num(r.reward) for r in records
                                  if r.status == "ok" and r.measurement], float)
    return name, cols


def _objective_axis(ax: Axes, name: str, cols: dict[str, np.ndarray], label: str) -> None:
    """Measured objective per evaluation, its best so far and, if known, its truth."""
    y = cols.get(name, np.zeros(0))
    n = np.arange(1, y.size + 1)
    if not y.size:
        _note(ax, "no executed evaluations")
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
    fig = _new_figure((8.0, 6.5))
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
        _note(bottom, "no executed exposures")
    bottom.set_ylabel("focuser position [steps]")
    bottom.set_xlabel("exposure")
    bottom.grid(alpha=0.3)
    _title(fig, "FWHM and focuser position per exposure", title)
    return fig


def _regret(name: str, cols: dict[str, np.ndarray], title: str) -> Figure:
    fig = _new_figure((8.0, 6.5))
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
    _title(fig, "objective and regret per evaluation", title)
    return fig


def _objective(name: str, cols: dict[str, np.ndarray], title: str) -> Figure:
    fig = _new_figure()
    ax = fig.add_subplot()
    _objective_axis(ax, name, cols, f"measured {name}")
    ax.set_xlabel("evaluation")
    _title(fig, "objective per evaluation", title)
    return fig


def point_figures(records: list[DecisionRecord], title: str = "") -> dict[str, Figure]:
    """Draw the figures of an episode whose actions are points of a box.

    Args:
        records: The episode's decisions (any status, in order).
        title: Prefix of every figure's title.

    Returns:
        ``focus`` (autofocus: measured FWHM per exposure with the best so far,
        the true FWHM and the seeing floor in simulation, and the focuser
        positions against the true best focus), or ``regret`` (black box: the
        measured value with its best so far, and the true simple regret, log
        scale), or otherwise ``objective``; and ``decision_time``.
    """
    name, cols = _measured(records)
    if "position_steps" in cols:
        main = {"focus": _focus(name, cols, title)}
    elif "simple_regret" in cols:
        main = {"regret": _regret(name, cols, title)}
    else:
        main = {"objective": _objective(name, cols, title)}
    return {**main, "decision_time": _decision_time(_columns(records), title)}


def _interval_95(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and a 95% Student-t interval of the mean (degenerate for one value)."""
    mean = float(values.mean())
    if values.size < 2:
        return mean, mean, mean
    try:
        from scipy.stats import t

        q = float(t.ppf(0.975, values.size - 1))
    except ImportError:  # pragma: no cover - scipy is a dependency
        q = 1.96
    half = q * float(values.std(ddof=1)) / math.sqrt(values.size)
    return mean, mean - half, mean + half


def compare_figure(per_policy: dict[str, dict[str, list[float]]], metrics: list[str]) -> Figure:
    """Compare policies over seeds, one panel per metric.

    Each panel shows, per policy, a box of the per-seed values, the values
    themselves as jittered points, and the mean with its 95% interval
    (Student t) as a black marker with error bars.

    Args:
        per_policy: ``{policy: {metric: [value per seed]}}``; missing or
            non-finite values are left out.
        metrics: Metric names, one panel each, in this order.

    Returns:
        The figure.
    """
    policies = list(per_policy)
    n_panels = max(len(metrics), 1)
    fig = _new_figure((max(4.0, 1.2 * len(policies) + 2.0) * min(n_panels, 3),
                       4.0 * math.ceil(n_panels / 3)))
    axes = np.atleast_1d(fig.subplots(math.ceil(n_panels / 3), min(n_panels, 3),
                                      squeeze=False)).ravel()
    rng = np.random.default_rng(0)  # jitter only; fixed so figures are reproducible
    for ax in axes[len(metrics):]:
        ax.set_axis_off()
    if not metrics or not policies:
        axes[0].set_axis_on()
        _note(axes[0], "nothing to compare")
    for ax, metric in zip(axes, metrics, strict=False):
        data = []
        for policy in policies:
            vals = np.asarray([_num(v) for v in per_policy[policy].get(metric, [])], float)
            data.append(vals[np.isfinite(vals)])
        positions = np.arange(1, len(policies) + 1)
        if any(d.size for d in data):
            ax.boxplot([d if d.size else [np.nan] for d in data], positions=positions,
                       widths=0.5, showfliers=False, patch_artist=True,
                       boxprops={"facecolor": "0.92", "edgecolor": "0.5"},
                       medianprops={"color": "0.5"}, whiskerprops={"color": "0.5"},
                       capprops={"color": "0.5"})
        for i, (pos, vals) in enumerate(zip(positions, data, strict=True)):
            if not vals.size:
                ax.text(pos, 0.5, "no data", transform=ax.get_xaxis_transform(),
                        ha="center", color="0.5", fontsize=8)
                continue
            ax.scatter(pos + rng.uniform(-0.12, 0.12, vals.size), vals, s=14, alpha=0.7,
                       color=f"C{i % 10}", zorder=3)
            mean, low, high = _interval_95(vals)
            ax.errorbar(pos + 0.3, mean, yerr=[[mean - low], [high - mean]], fmt="D",
                        color="k", ms=5, capsize=4, zorder=4,
                        label="mean ± 95% interval" if i == 0 else None)
        ax.set_xticks(positions, policies, rotation=20 if len(policies) > 3 else 0)
        ax.set_xlim(0.4, len(policies) + 0.8)
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(axis="y", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")
    n_seeds = sorted({len(v) for p in per_policy.values() for v in p.values()})
    fig.suptitle("policy comparison (points: seeds" +
                 (f", n = {n_seeds[0]}" if len(n_seeds) == 1 else "") + ")")
    return fig
