"""Figures every environment shares, and the comparison of policies.

Each environment draws its own figures through its presenter
(:meth:`steer.presenter.Presenter.figures`); this module adds the generic
decision-latency figure and the comparison figure, and holds the helpers
the environments' figure modules use. Figures are built as
:class:`matplotlib.figure.Figure` objects directly, without pyplot: they
render through Agg whatever the session's backend is, they are not
registered in pyplot's global figure list (so thousands of simulated nights
leak nothing), and the caller owns them (nothing is closed here). Save them
with ``fig.savefig(path, bbox_inches="tight")``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from steer.presenter import Presenter
from steer.records import DecisionRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["episode_figures", "decision_time_figure", "compare_figure", "new_figure", "note",
           "title_figure", "num", "interval_95"]


def num(value: Any) -> float:
    """A float, NaN for missing or non-numeric values."""
    if value is None or isinstance(value, bool | str):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def new_figure(figsize: tuple[float, float] = (8.0, 4.5)) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def note(ax: Axes, text: str) -> None:
    """Write a centred note on an axis (used when there is nothing to draw)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=11,
            color="0.4", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85})


def title_figure(fig: Figure, name: str, title: str) -> None:
    fig.suptitle(f"{title}: {name}" if title else name)


def decision_time_figure(records: Sequence[DecisionRecord], title: str = "") -> Figure:
    """Suggest time per decision step, for any environment."""
    step = np.asarray([float(r.step) for r in records], float)
    ms = np.asarray([1000.0 * num((r.timings_s or {}).get("suggest")) for r in records], float)
    fig = new_figure()
    ax = fig.add_subplot()
    ok = np.isfinite(ms)
    if ok.any():
        ax.plot(step[ok], ms[ok], ".", ms=4, color="tab:purple")
        ax.set_ylim(bottom=0.0)
    else:
        note(ax, "no decision timings")
    ax.set_xlabel("decision step")
    ax.set_ylabel("decision time (suggest) [ms]")
    ax.grid(alpha=0.3)
    title_figure(fig, "decision latency", title)
    return fig


def episode_figures(records: Sequence[DecisionRecord], presenter: Presenter,
                    title: str = "") -> dict[str, Figure]:
    """The figures of one episode: the environment's own (its presenter's) plus
    ``decision_time``."""
    return {**presenter.figures(records, title),
            "decision_time": decision_time_figure(records, title)}


def interval_95(values: np.ndarray) -> tuple[float, float, float]:
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
    fig = new_figure((max(4.0, 1.2 * len(policies) + 2.0) * min(n_panels, 3),
                       4.0 * math.ceil(n_panels / 3)))
    axes = np.atleast_1d(fig.subplots(math.ceil(n_panels / 3), min(n_panels, 3),
                                      squeeze=False)).ravel()
    rng = np.random.default_rng(0)  # jitter only; fixed so figures are reproducible
    for ax in axes[len(metrics):]:
        ax.set_axis_off()
    if not metrics or not policies:
        axes[0].set_axis_on()
        note(axes[0], "nothing to compare")
    for ax, metric in zip(axes, metrics, strict=False):
        data = []
        for policy in policies:
            vals = np.asarray([num(v) for v in per_policy[policy].get(metric, [])], float)
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
            mean, low, high = interval_95(vals)
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
