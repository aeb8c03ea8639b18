"""The cached factors of :class:`~steer.policies.gp_bank.TimeSeriesGPBank`, sized per target.

Each (time scale, target) component of the bank is a GP on that target's
observations; its Cholesky factor, grid cross term and whitened values are
cached here, in buckets by padded size: a target with ``n`` observations sits
in the bucket of the smallest multiple of 4 that holds them and one padding
slot. A catalog whose median target has 4 observations is then not padded to
its most observed target's count (memory and time at catalog scale).

The padding keeps the bank's model exactly: the model pads every target to a
common ``cap`` with ``cap - n`` observations at ``pad_t`` of variance
``pad_var`` (far away and nearly uninformative: they shrink the mean a
little). ``k`` observations at one time with one noise variance are, for the
GP, exactly one observation of variance ``pad_var / k``, which is what a
bucket row holds; its remaining slots are dead (no covariance with anything,
unit variance) and contribute nothing.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["PaddedFactors", "padded_size"]

_DT = torch.float64
_STEP = 4  # bucket sizes are multiples of this
_FIELDS = ("x", "live", "chol", "a", "beta")


def padded_size(n: int, cap: int) -> int:
    """Slots of a target with ``n`` observations: them, one padding slot if ``cap > n``."""
    need = n + (1 if cap > n else 0)
    return max(_STEP, -(-need // _STEP) * _STEP)


class _Bucket:
    """The targets of one padded size and their components' factors (row ``r * L + j``)."""

    def __init__(self, targets: list[int], tensors: tuple[torch.Tensor, ...]) -> None:
        self.targets = targets
        self.x, self.live, self.chol, self.a, self.beta = tensors


class PaddedFactors:
    """Every component's cached factors, in buckets by padded size.

    Args:
        bank: The :class:`~steer.policies.gp_bank.TimeSeriesGPBank` (its
            observations, amplitudes, time scales, grid and kernel).
        cap: The padded count of the bank's model.
        chunk: Components factored per batch (bounds memory).
    """

    def __init__(self, bank: Any, cap: int, chunk: int) -> None:
        self.bank, self.cap, self.chunk = bank, int(cap), int(chunk)
        self.size_of = torch.zeros(bank.n, dtype=torch.long)
        self.pos_of = torch.zeros(bank.n, dtype=torch.long)
        groups: dict[int, list[int]] = {}
        for i in range(bank.n):
            groups.setdefault(padded_size(bank.count(i), self.cap), []).append(i)
        self.buckets: dict[int, _Bucket] = {}
        for size, targets in sorted(groups.items()):
            self.buckets[size] = self._build(targets, size)
            self.size_of[targets] = size
            self.pos_of[targets] = torch.arange(len(targets))

    def nbytes(self) -> int:
        """Memory of the cached tensors."""
        return sum(getattr(bk, f).numel() * 8 for bk in self.buckets.values() for f in _FIELDS)

    # ----------------------------------------------------------------- factoring
    def _params(self, targets: torch.Tensor | list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Amplitudes and time scales of ``targets``' components, row ``r * L + j``."""
        b = self.bank
        idx = (torch.as_tensor(targets)[:, None] + b.n * torch.arange(b.n_l)[None, :])
        return b.outputscale[idx.reshape(-1)], b.ell[idx.reshape(-1)]

    def _data(self, targets: list[int], size: int) -> tuple[torch.Tensor, ...]:
        """`len(targets) x size` times, values, noise variances and live flags."""
        b = self.bank
        x = torch.full((len(targets), size), b.pad_t, dtype=_DT)
        y = torch.zeros((len(targets), size), dtype=_DT)
        v = torch.ones((len(targets), size), dtype=_DT)
        live = torch.zeros((len(targets), size), dtype=_DT)
        for r, i in enumerate(targets):
            o = b.obs[i][-b.max_obs:]
            n = len(o)
            if o:
                t = torch.tensor(o, dtype=_DT)
                x[r, :n], y[r, :n], v[r, :n] = t[:, 0], t[:, 1], t[:, 2]
            if self.cap > n:  # the model's cap - n padding observations, as one
                v[r, n] = b.pad_var / (self.cap - n)
                n += 1
            live[r, :n] = 1.0
        return x, y, v, live

    def _factor(self, targets: list[int], size: int) -> tuple[torch.Tensor, ...]:
        """Times, live flags and factors of ``targets``' components (`len(targets) * L` rows)."""
        x, y, v, live = (t.repeat_interleave(self.bank.n_l, 0) for t in self._data(targets, size))
        s, ell = self._params(targets)
        if len(x) > 64:  # identical components (targets never observed) factored once
            key = torch.cat([x, y, v, live, s[:, None], ell[:, None]], 1)
            uniq, inv = torch.unique(key, dim=0, return_inverse=True)
            if len(uniq) < 0.8 * len(x):
                xu, yu, vu, lu = (uniq[:, k * size:(k + 1) * size] for k in range(4))
                return (x, live, *(t[inv] for t in self._solve(xu, yu, vu, lu, uniq[:, -2],
                                                                  uniq[:, -1])))
        return (x, live, *self._solve(x, y, v, live, s, ell))

    def _solve(self, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, live: torch.Tensor,
               s: torch.Tensor, ell: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Cholesky factor, grid cross term and whitened values; dead slots are identity."""
        b = self.bank
        k = b.kernel(s, ell, x, x).mul_(live[:, :, None] * live[:, None, :])
        k.diagonal(dim1=-2, dim2=-1).add_(v * live + (1.0 - live))
        chol = torch.linalg.cholesky(k)
        kg = b.kernel(s, ell, x, b.grid.expand(len(x), -1)).mul_(live[:, :, None])
        a = torch.linalg.solve_triangular(chol, kg, upper=False)
        beta = torch.linalg.solve_triangular(chol, (y * live).unsqueeze(-1), upper=False)[..., 0]
        return chol, a, beta

    def _build(self, targets: list[int], size: int) -> _Bucket:
        n_l, g, m = self.bank.n_l, len(self.bank.grid), len(targets)
        shapes = ((size,), (size,), (size, size), (size, g), (size,))
        out = tuple(torch.empty((m * n_l, *sh), dtype=_DT) for sh in shapes)
        step = max(1, self.chunk // n_l)
        for lo in range(0, m, step):  # bounded temporaries
            part = targets[lo:lo + step]
            rows = slice(lo * n_l, (lo + len(part)) * n_l)
            for t, val in zip(out, self._factor(part, size), strict=True):
                t[rows] = val
        return _Bucket(list(targets), out)

    # ------------------------------------------------------------------ updates
    def refactor(self, i: int) -> bool:
        """Refactor target ``i``'s components; ``False`` if it outgrew ``cap`` (rebuild all)."""
        n = self.bank.count(i)
        if n > self.cap:
            return False
        size, n_l = padded_size(n, self.cap), self.bank.n_l
        new = self._factor([i], size)
        if size == int(self.size_of[i]):
            bk, r = self.buckets[size], int(self.pos_of[i])
            for f, val in zip(_FIELDS, new, strict=True):
                getattr(bk, f)[r * n_l:(r + 1) * n_l] = val
            return True
        self._remove(i)
        bk = self.buckets.get(size)
        if bk is None:
            self.buckets[size] = _Bucket([i], new)
        else:
            for f, val in zip(_FIELDS, new, strict=True):
                setattr(bk, f, torch.cat([getattr(bk, f), val]))
            bk.targets.append(i)
        self.size_of[i], self.pos_of[i] = size, len(self.buckets[size].targets) - 1
        return True

    def _remove(self, i: int) -> None:
        """Take target ``i`` out of its bucket (the bucket's last target takes its place)."""
        size, r, n_l = int(self.size_of[i]), int(self.pos_of[i]), self.bank.n_l
        bk = self.buckets[size]
        last = len(bk.targets) - 1
        if r != last:
            moved = bk.targets[last]
            for f in _FIELDS:
                t = getattr(bk, f)
                t[r * n_l:(r + 1) * n_l] = t[last * n_l:(last + 1) * n_l]
            bk.targets[r] = moved
            self.pos_of[moved] = r
        bk.targets.pop()
        if not bk.targets:
            del self.buckets[size]
            return
        for f in _FIELDS:
            setattr(bk, f, getattr(bk, f)[:last * n_l])

    # ---------------------------------------------------------------- posterior
    def posterior(self, t_star: torch.Tensor, targets: torch.Tensor,
                  grid_var: bool = False) -> tuple[torch.Tensor, ...]:
        """Grid/t* covariances, variances and means of ``targets``' components at ``t_star``.

        Returns:
            ``L x M x G x E``, ``L x M x E`` and ``L x M x E`` tensors; with
            ``grid_var``, also the ``L x M x G`` posterior variances on the grid.
        """
        b = self.bank
        n_l, m, n_e, g = b.n_l, len(targets), t_star.shape[-1], len(b.grid)
        cov = torch.empty((n_l, m, g, n_e), dtype=_DT)
        var = torch.empty((n_l, m, n_e), dtype=_DT)
        mean = torch.empty((n_l, m, n_e), dtype=_DT)
        gvar = torch.empty((n_l, m, g), dtype=_DT) if grid_var else None
        sizes = self.size_of[targets]
        for size in torch.unique(sizes).tolist():
            sel = torch.nonzero(sizes == size).squeeze(-1)
            bk, these = self.buckets[size], targets[sel]
            rows = (self.pos_of[these][:, None] * n_l + torch.arange(n_l)[None, :]).reshape(-1)
            s, ell = self._params(these)
            ts = t_star[sel].repeat_interleave(n_l, 0)
            kb = b.kernel(s, ell, bk.x[rows], ts).mul_(bk.live[rows][:, :, None])
            w = torch.linalg.solve_triangular(bk.chol[rows], kb, upper=False)  # `R x size x E`
            c = b.kernel(s, ell, b.grid.expand(len(w), -1), ts) - bk.a[rows].transpose(-1, -2) @ w
            cov[:, sel] = c.reshape(len(sel), n_l, g, n_e).transpose(0, 1)
            var[:, sel] = ((b.c + s[:, None] - (w * w).sum(1))
                           .reshape(len(sel), n_l, n_e).transpose(0, 1))
            mean[:, sel] = ((w * bk.beta[rows].unsqueeze(-1)).sum(1)
                            .reshape(len(sel), n_l, n_e).transpose(0, 1))
            if gvar is not None:
                gvar[:, sel] = ((b.c + s[:, None] - (bk.a[rows] ** 2).sum(1))
                                .reshape(len(sel), n_l, g).transpose(0, 1))
        return (cov, var, mean) if gvar is None else (cov, var, mean, gvar)
