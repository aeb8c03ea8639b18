"""Shared machinery for policies: seeding, the episode's context, ranking, explanations, timing."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from steer.types import PolicyContext, Proposal

__all__ = ["BasePolicy", "RUNNERS_UP", "allowed_actions"]

RUNNERS_UP = 5
"""Candidates a proposal's explanation lists beside the chosen one, by default."""


def allowed_actions(info: dict[str, Any], n_exptimes: int) -> np.ndarray:
    """`N x E`: the feasible targets at the exposures the environment allows.

    ``info["action_mask"]`` with ``info["exposure_mask"]`` when present; when the
    exposure mask would leave nothing, every exposure of a feasible target.
    """
    target = np.asarray(info["action_mask"], bool)[:, None]
    full = np.broadcast_to(target, (target.shape[0], int(n_exptimes)))
    pairs = full & np.asarray(info.get("exposure_mask", True), bool)
    return pairs if pairs.any() else full


class BasePolicy:
    """Ask/tell policy base: public methods call ``_hook`` methods (as SB3 does).

    Subclasses implement :meth:`_scores` (one score per target and exposure)
    or override :meth:`_suggest`.
    """

    name = "base"
    version = "1"
    #: The environment kinds (their presenter's ``kind``) this policy can act on.
    drives: ClassVar[tuple[str, ...]] = ("catalog",)

    def __init__(self, **params: Any) -> None:
        self.params = params
        self.context: Any = None
        self.rng = np.random.default_rng(0)

    def reset(self, context: PolicyContext, seed: int) -> None:
        """Take the episode's context (what the policy may know) and seed the generator."""
        self.context = context
        self.rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1009]))
        self._reset()

    def context_changed(self, context: PolicyContext) -> None:
        """Take a changed context mid-episode (a target of opportunity joined the catalog).

        New targets are appended: rows already known keep their index.
        """
        old, self.context = self.context, context
        self._context_changed(old)

    def _context_changed(self, old: PolicyContext) -> None:
        """Hook: grow per-target state (policies that score from the observation need none)."""

    def feature(self, observation: dict[str, np.ndarray], name: str) -> np.ndarray:
        """The per-target feature ``name`` of a catalog observation, as float64."""
        return np.asarray(observation["targets"][:, self.context.target_feature(name)], float)

    def _reset(self) -> None:
        """Hook: per-episode set-up."""

    def suggest(self, observation: dict[str, np.ndarray], info: dict[str, Any],
                n: int = 1) -> list[Proposal]:
        """Return up to ``n`` proposals, best first, each with its explanation."""
        t0 = time.perf_counter()
        proposals = self._suggest(observation, info, n)
        dt = time.perf_counter() - t0
        return [Proposal(p.action, p.score, {**p.explanation, "suggest_s": dt}) for p in proposals]

    def _suggest(self, observation: dict[str, np.ndarray], info: dict[str, Any],
                 n: int) -> list[Proposal]:
        scores, why = self._scores(observation, info)
        return self.rank(scores, np.asarray(info["action_mask"], bool), n, why,
                         exposure_mask=info.get("exposure_mask"))

    def _scores(self, observation: dict[str, np.ndarray],
                info: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        """Hook: return an `N x E` score array (higher is better) and shared explanation."""
        raise NotImplementedError

    def ingest(self, action: Any, measurement: Any, reward: float) -> None:
        """Tell the policy what came back (``None`` when the action was refused)."""
        self._ingest(action, measurement, reward)

    def _ingest(self, action: Any, measurement: Any, reward: float) -> None:
        """Hook: learn from an outcome."""

    def rank(self, scores: np.ndarray, mask: np.ndarray, n: int,
             why: dict[str, Any] | None = None, runners_up: int = RUNNERS_UP,
             exposure_mask: np.ndarray | None = None) -> list[Proposal]:
        """Turn an `N x E` score array into the ``n`` best proposals over feasible targets.

        With the environment's ``exposure_mask`` (`N x E`, e.g. exposures
        predicted to saturate are out), only those (target, exposure) pairs
        are ranked, unless that leaves nothing the target mask allows.
        Each proposal's explanation lists the next ``runners_up`` candidates
        (target, exposure, score) that were considered and not chosen.
        """
        s = np.where(mask[:, None], scores, -np.inf)
        if exposure_mask is not None:
            narrowed = np.where(np.asarray(exposure_mask, bool), s, -np.inf)
            if np.isfinite(narrowed).any() or not np.isfinite(s).any():
                s = narrowed
        flat = s.ravel()
        k = min(len(flat), n + runners_up)
        top = np.argpartition(-flat, k - 1)[:k] if k < len(flat) else np.arange(len(flat))
        top = top[np.lexsort((top, -flat[top]))]  # best first, ties by index: deterministic
        top = [int(j) for j in top if np.isfinite(flat[j])]
        n_e = scores.shape[1]
        ctx = self.context
        out = []
        for rank_i, j in enumerate(top[:n]):
            i, e = divmod(j, n_e)
            others = [{"target_id": str(ctx.catalog.target_id[a // n_e]),
                       "target_index": a // n_e, "exptime_s": ctx.exptimes_s[a % n_e],
                       "score": float(flat[a])} for a in top if a != j][:runners_up]
            expl = {"rank": rank_i, "runners_up": others, **(why or {})}
            out.append(Proposal(ctx.make_action(i, e), float(flat[j]), expl))
        return out
