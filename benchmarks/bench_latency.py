"""Benchmark: decision latency against observations n and catalog size N.

For each (n, N) it builds a GP over `n` observations in 3-D (sky x, y and
time, like the conditions model) and times decisions: one new observation
arrives (at one of the candidates: a catalog target was observed), the
posterior over all `N` candidates is updated and scored with
BoTorch's ``LogExpectedImprovement``, and the best candidates are taken.

* steer: :class:`steer.policies.engine.CachedExactGP` (cached Cholesky and
  cross factor, rank-one updates) when `N x n` fits the memory budget, else
  :class:`steer.policies.engine.NystromGP` (512 inducing points);
* BoTorch's default path, measured in the same run: a ``SingleTaskGP`` with
  the same fixed hyperparameters rebuilt with the new point, and
  ``LogExpectedImprovement`` evaluated over the candidates in chunks of
  10,000. Where that would take over ``--max-baseline-s`` per decision it is
  timed on a subset of candidates and scaled linearly in N (flagged
  ``"extrapolated": true``).

Each (n, N) runs in its own process (one torch thread) so that the peak
resident memory is its own. Writes ``benchmarks/results/latency.json``::

    .venv/bin/python benchmarks/bench_latency.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _one(n: int, n_cand: int, decisions: int, max_baseline_s: float) -> dict:
    import torch
    from botorch.acquisition.analytic import LogExpectedImprovement
    from botorch.models import SingleTaskGP
    from gpytorch.kernels import RBFKernel, ScaleKernel

    from steer.policies.engine import (
        CachedExactGP,
        CandidatePosteriorModel,
        NystromGP,
        RBFHyper,
        best_candidates,
    )

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(n + n_cand)
    d = 3

    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.sin(5 * x).sum(-1) + 0.05 * torch.randn(x.shape[:-1], generator=g,
                                                             dtype=torch.float64)

    x = torch.rand(n, d, generator=g, dtype=torch.float64)
    y = f(x)
    xc = torch.rand(n_cand, d, generator=g, dtype=torch.float64)
    hyper = RBFHyper(torch.full((d,), 0.15), 1.0, 0.0025)
    exact = n_cand * n * 8 * 1.25 <= 2e9
    t0 = time.perf_counter()
    if exact:
        gp = CachedExactGP(xc, hyper)
        gp.x, gp.y = x, y
        gp.rebuild()
    else:
        z = torch.rand(512, d, generator=g, dtype=torch.float64)
        gp = NystromGP(xc, z, hyper)
        gp.fit_batch(x, y)
    build_s = time.perf_counter() - t0
    model = CandidatePosteriorModel(gp)
    idx = torch.arange(n_cand, dtype=torch.float64).reshape(-1, 1, 1)
    lat = []
    best = float(y.max())
    for i in range(decisions + 1):  # the first decision warms BoTorch up and is not timed
        j = int(torch.randint(n_cand, (1,), generator=g))  # a catalog target is observed
        xn = xc[j:j + 1]
        yn = float(f(xn)[0])
        t = time.perf_counter()
        if exact:
            gp.add(xn[0], yn, index=j)
        else:
            gp.add(xn[0], yn)
        best = max(best, yn)
        acq = LogExpectedImprovement(model, best_f=best)(idx)
        best_candidates(acq, None, 10)
        if i:
            lat.append(time.perf_counter() - t)

    peak_steer_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    # BoTorch's default path with the same hyperparameters
    def default_decision(n_sub: int) -> float:
        xx = torch.cat([x, torch.rand(1, d, generator=g, dtype=torch.float64)])
        yy = f(xx)
        t = time.perf_counter()
        covar = ScaleKernel(RBFKernel(ard_num_dims=d))
        m = SingleTaskGP(xx, yy.unsqueeze(-1), covar_module=covar, outcome_transform=None)
        covar.base_kernel.lengthscale = hyper.lengthscale
        covar.outputscale = hyper.outputscale
        m.likelihood.noise = hyper.noise
        m = m.to(torch.float64).eval()
        acq_f = LogExpectedImprovement(m, best_f=float(yy.max()))
        vals = []
        with torch.no_grad():
            for s in range(0, n_sub, 10000):
                vals.append(acq_f(xc[s:s + 10000].unsqueeze(-2)))
        torch.topk(torch.cat(vals), 10)
        return time.perf_counter() - t

    probe_n = min(n_cand, 10000)
    probe = default_decision(probe_n)
    estimate = probe * n_cand / probe_n
    extrapolated = estimate > max_baseline_s and n_cand > probe_n
    if extrapolated:
        base = [estimate]
    else:
        base = [default_decision(n_cand) for _ in range(2 if estimate < 5 else 1)]
    lat_a = np.asarray(lat)
    return {"n": n, "N": n_cand, "engine": "exact-cached" if exact else "nystrom-512",
            "build_s": build_s, "p50_s": float(np.percentile(lat_a, 50)),
            "p95_s": float(np.percentile(lat_a, 95)), "decisions": decisions,
            "botorch_default_s": float(np.median(base)), "botorch_extrapolated": extrapolated,
            "speedup": float(np.median(base) / np.percentile(lat_a, 50)),
            "peak_rss_mb_steer": peak_steer_mb,
            "peak_rss_mb_with_baseline": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small grid, for a smoke run")
    ap.add_argument("--decisions", type=int, default=20)
    ap.add_argument("--max-baseline-s", type=float, default=60.0)
    ap.add_argument("--out", default="benchmarks/results/latency.json")
    ap.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_one(args.one[0], args.one[1], args.decisions, args.max_baseline_s)))
        return 0
    ns = (100, 1000) if args.quick else (100, 1000, 10000)
    big_n = (1000, 100000) if args.quick else (1000, 100000, 1000000)
    rows = []
    for n in ns:
        for n_cand in big_n:
            proc = subprocess.run([sys.executable, __file__, "--one", str(n), str(n_cand),
                                   "--decisions", str(args.decisions), "--max-baseline-s",
                                   str(args.max_baseline_s)], capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"n={n:>6} N={n_cand:>8} {row['engine']:>13}: p50 {row['p50_s']:.3f} s "
                  f"p95 {row['p95_s']:.3f} s (build {row['build_s']:.1f} s, peak "
                  f"{row['peak_rss_mb_steer']:.0f} MB) | BoTorch default "
                  f"{row['botorch_default_s']:.2f} s"
                  f"{' (extrapolated)' if row['botorch_extrapolated'] else ''} | "
                  f"x{row['speedup']:.0f}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows, "python": sys.version.split()[0],
                                          "machine": platform.machine(),
                                          "when_unix": time.time()}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
