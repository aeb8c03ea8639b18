"""Two-step lookahead for target selection: what a visit leaves the next one.

A myopic rate (value / seconds) ignores where a visit leaves the telescope:
after a target in an empty corner of the sky, or in another filter, the next
valuable target is a long slew or a filter change away. For the ``k`` best
candidates by the myopic rate this scores the two visits together,

    V(i) = (value(i) + value(j*)) / (cost(i) + cost(j* | from i)),

where ``j*`` is the next (target, exposure) with the best rate from where
``i`` leaves the telescope (its altitude and azimuth, its filter), costed with
the instrument's own slew model (:func:`slew_components_s` on the context's
kinematic constants) plus a filter change. The next visit's values are
tonight's (the visit to ``i`` barely changes another target's), and ``i``
itself is not its own next visit. A candidate worth nothing scores nothing
(it does not borrow its neighbour's value). Only a few candidates are scored
so (``bo``'s ``lookahead = 8``): with many, a low-value target beside the best
one scores the best one's value and the best one is put off again and again
(measured: with 96 candidates on the fast telescope the new targets
characterised in a night fell from 4.5 to 0.7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from steer.instruments.sim.geometry import slew_components_s
from steer.types import Proposal

__all__ = ["Lookahead", "amortised_exposures", "ranked", "two_step"]


@dataclass(frozen=True)
class Lookahead:
    """The two-step scores of the candidates, and what each would do next.

    Attributes:
        scores: `N x E` array: ``V(i)`` at each candidate's best exposure,
            ``-inf`` elsewhere.
        next_index: Per target, the next visit's target (-1: not a candidate).
        next_exposure: Per target, the next visit's exposure index.
        next_cost_s: Per target, the next visit's cost from there (seconds).
        myopic: The myopic rate of each candidate at its best exposure (NaN
            for the others).
    """

    scores: np.ndarray
    next_index: np.ndarray
    next_exposure: np.ndarray
    next_cost_s: np.ndarray
    myopic: np.ndarray


def two_step(value: np.ndarray, cost_s: np.ndarray, allowed: np.ndarray, candidates: int,
             alt_deg: np.ndarray, az_deg: np.ndarray, band: np.ndarray, exptimes_s: np.ndarray,
             readout_s: float, config: object, overhead_weight: float = 1.0) -> Lookahead:
    """Two-step rates of the ``candidates`` best targets by the myopic rate.

    Args:
        value: `N x E` value of observing each target at each exposure.
        cost_s: `N x E` cost of that from the current state (seconds).
        allowed: `N x E` which (target, exposure) pairs may be chosen.
        candidates: How many targets (best myopic rate first) get the lookahead.
        alt_deg: `N` current altitudes of the targets.
        az_deg: `N` current azimuths.
        band: `N` filter of each target.
        exptimes_s: `E` exposure times.
        readout_s: Readout and shutter seconds after each exposure.
        config: The instrument's kinematic constants (slew speeds, settle,
            dome, ``filter_change_s``).
        overhead_weight: Seconds of exposure one second of the next visit's slew,
            settle and filter change counts as (``cost_s`` weighs this one's).

    Returns:
        The :class:`Lookahead`; targets outside the candidates score ``-inf``.
    """
    n, n_e = value.shape
    rate = np.where(allowed, value / cost_s, -np.inf)
    best_e = np.argmax(rate, axis=1)
    best = rate[np.arange(n), best_e]
    ok = np.flatnonzero(np.isfinite(best))
    k = min(int(candidates), len(ok))
    cand = ok[np.lexsort((ok, -best[ok]))][:k]  # best first, ties by index
    out = np.full((n, n_e), -np.inf)
    nxt, nxt_e, nxt_c = np.full(n, -1), np.full(n, -1), np.full(n, np.nan)
    myopic = np.full(n, np.nan)
    if k == 0:
        return Lookahead(out, nxt, nxt_e, nxt_c, myopic)
    nv = np.flatnonzero(allowed.any(axis=1))  # the next visits worth costing
    motion, settle = slew_components_s(alt_deg[cand, None], az_deg[cand, None],
                                       alt_deg[None, nv], az_deg[None, nv], config)
    change = np.where(band[cand, None] != band[None, nv], float(config.filter_change_s), 0.0)
    dead = motion + settle + change  # `k x M` seconds
    c2 = overhead_weight * dead[:, :, None] + readout_s + exptimes_s[None, None, :]
    r2 = np.where(allowed[nv][None], value[nv][None] / c2, -np.inf)  # `k x M x E`
    r2[nv[None, :] == cand[:, None]] = -np.inf  # a target is not its own next visit
    flat = r2.reshape(k, -1).argmax(axis=1)
    j_local, e2 = np.divmod(flat, n_e)
    rows = np.arange(k)
    found = np.isfinite(r2[rows, j_local, e2])
    g2 = np.where(found, value[nv[j_local], e2], 0.0)
    cost2 = np.where(found, c2[rows, j_local, e2], 0.0)
    e1 = best_e[cand]
    v1 = value[cand, e1]
    # a visit worth nothing stays worth nothing: it does not borrow the next one's value
    out[cand, e1] = np.where(v1 > 0, (v1 + g2) / (cost_s[cand, e1] + cost2), 0.0)
    nxt[cand] = np.where(found, nv[j_local], -1)
    seconds2 = cost2 - (overhead_weight - 1.0) * dead[rows, j_local]  # unweighted
    nxt_e[cand], nxt_c[cand], myopic[cand] = e2, np.where(found, seconds2, np.nan), best[cand]
    return Lookahead(out, nxt, nxt_e, nxt_c, myopic)


def amortised_exposures(value: np.ndarray, overhead_s: np.ndarray, readout_s: float,
                        exptimes_s: np.ndarray, overhead_weight: float,
                        allowed: np.ndarray) -> np.ndarray:
    """`N x E`: each target's one exposure that best amortises its visit's dead time.

    A longer exposure spreads every second a visit spends not exposing (slew,
    settle, filter change and readout alike) over more exposure, so each
    target's exposure is the allowed one with the best
    ``value / (overhead_weight x (overhead + readout) + exposure)``.

    Args:
        value: `N x E` value of each (target, exposure).
        overhead_s: `N` slew, settle and filter-change seconds to each target.
        readout_s: Readout and shutter seconds after an exposure.
        exptimes_s: `E` exposure times.
        overhead_weight: Seconds of exposure a second of dead time costs.
        allowed: `N x E` the pairs that may be chosen.

    Returns:
        ``allowed`` narrowed to one exposure per target (none where none is allowed).
    """
    per_visit = (overhead_weight * (np.asarray(overhead_s, float)[:, None] + readout_s)
                 + np.asarray(exptimes_s, float)[None, :])
    pick = np.argmax(np.where(allowed, value / per_visit, -np.inf), axis=1)
    return allowed & (np.arange(value.shape[1])[None, :] == pick[:, None])


def ranked(rank: Callable[..., list[Proposal]], scores: np.ndarray, la: Lookahead | None,
           mask: np.ndarray, n: int, why: dict[str, Any],
           exposure_mask: Any) -> list[Proposal]:
    """The ``n`` best proposals: the lookahead's candidates by their two-step score, then
    the rest by one visit's (``rank``: the policy's ranking of a score table)."""
    if la is None:
        return rank(scores, mask, n, why, exposure_mask=exposure_mask)
    first = rank(la.scores, mask, n, why, exposure_mask=exposure_mask)
    if len(first) >= n:
        return first
    rest = np.where(np.isfinite(la.myopic)[:, None], -np.inf, scores)  # not candidates
    more = rank(rest, mask, n - len(first), why, exposure_mask=exposure_mask)
    return first + [Proposal(p.action, p.score, {**p.explanation, "rank": len(first) + r})
                    for r, p in enumerate(more)]
