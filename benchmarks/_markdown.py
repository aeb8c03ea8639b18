"""The Markdown table the policy benchmarks print: each policy's mean and the paired
difference against the reference policy."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def paired_table(policies: Sequence[str], ref: str, metrics: Sequence[str],
                 mean: Callable[[str, str], float | None],
                 diff: Callable[[str, str], tuple[float, float, float]]) -> str:
    """Rows of ``metrics``, a column per policy: ``mean (diff [low, high])``.

    Args:
        mean: ``(policy, metric)`` -> the mean, ``None`` where not reported.
        diff: ``(policy, metric)`` -> ``policy - ref``: mean, low, high (95%).
    """
    lines = ["| metric | " + " | ".join(policies) + " |", "|---|" + "---|" * len(policies)]
    for k in metrics:
        cells = []
        for p in policies:
            m = mean(p, k)
            if m is None:
                cells.append("")
                continue
            cell = f"{m:.3g}"
            if p != ref:
                d, lo, hi = diff(p, k)
                cell += f" ({d:+.3g} [{lo:+.3g}, {hi:+.3g}])"
            cells.append(cell)
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
