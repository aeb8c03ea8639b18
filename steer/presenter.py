"""How an environment describes itself to the core: the :class:`Presenter`.

The loop, the records, MLflow tracking, the plots, the runner and the CLI
know no environment by name. Each environment class carries a ``presenter``
(a :class:`Presenter` subclass instance, as Gymnasium leaves each env to
describe its spaces) that says

* what kind of actions it takes (:attr:`Presenter.kind`; policies declare
  the kinds they drive) and whether one ``suggest(n)`` asks for ranked
  alternatives (:attr:`Presenter.ranked`);
* how long the loop waits when nothing can be done (:attr:`Presenter.idle_s`,
  :attr:`Presenter.retry_idle_s`; ``None``: the episode cannot wait and ends);
* how a decision is named (:meth:`Presenter.action_text`), which columns the
  decision table has (:meth:`Presenter.table_row`), which per-step metrics
  it reports (:meth:`Presenter.step_metrics`), which rows the run summary and
  the comparison table show (:attr:`Presenter.summary_rows`,
  :attr:`Presenter.table_metrics`), its headline metric
  (:attr:`Presenter.key_metric`), which figures it draws
  (:meth:`Presenter.figures`), how one decision is explained in words
  (:meth:`Presenter.explain`) and which sections its HTML report has
  (:meth:`Presenter.report_sections`).

The core reads a presenter from the environment's class, without building
the environment (:func:`steer.session.presenter_for`). This module holds the
generic defaults; the columns and metrics every environment shares (step,
status, score, reward, decision time, reason, who decided) are added by the
core, not by presenters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from steer.records import DecisionRecord
    from steer.report import Section

__all__ = ["Presenter", "SummaryRow", "COMPUTE_ROWS", "COMPUTE_METRICS", "finite"]


def finite(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` (None, NaN, inf, bools, non-numbers)."""
    if value is None or isinstance(value, bool | str):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


@dataclass(frozen=True)
class SummaryRow:
    """One row of ``steer run``'s summary, shown when every key is in the metrics.

    Attributes:
        label: What the row says, e.g. ``"visits"``.
        keys: Metric names formatted into ``fmt``, in order.
        fmt: A ``str.format`` template with one field per key.
        scale: Factor applied to every value before formatting (e.g. ``1/3600``
            to show seconds as hours).
    """

    label: str
    keys: tuple[str, ...]
    fmt: str = "{:.4g}"
    scale: float = 1.0

    def render(self, metrics: dict[str, float]) -> str | None:
        """The formatted values, or ``None`` when a key is missing."""
        if not all(k in metrics for k in self.keys):
            return None
        return self.fmt.format(*(float(metrics[k]) * self.scale for k in self.keys))


#: Rows every run summary ends with: the loop's compute metrics.
COMPUTE_ROWS: tuple[SummaryRow, ...] = (
    SummaryRow("ms per decision p50 / p95", ("decision_ms_p50", "decision_ms_p95"),
               "{:.2f} / {:.2f}"),
    SummaryRow("wall time (s)", ("wall_s",), "{:.1f}"),
)

#: Metrics the loop itself reports for every episode.
COMPUTE_METRICS: tuple[str, ...] = ("decision_ms_p50", "decision_ms_p95", "wall_s")


class Presenter:
    """The generic description: an environment that says nothing more about itself.

    Subclass it beside an environment and set the environment class's
    ``presenter`` attribute to an instance.

    Attributes:
        kind: The kind of actions the environment takes (``catalog``,
            ``point``, ``pool``...); a policy drives the environments whose
            kind is in its ``drives`` tuple.
        ranked: ``True`` when one ``suggest(n)`` returns ``n`` ranked
            alternatives (the loop asks once per step and tries them in
            order); ``False`` when ``n > 1`` would be a batch to evaluate
            together, so the loop asks for one action at a time.
        idle_s: Seconds the loop lets pass when every proposal of a step was
            refused; ``None`` when waiting changes nothing (the episode ends).
        retry_idle_s: Seconds the loop lets pass after an action failed all
            its retries; ``None``: the episode ends.
        summary_rows: Rows of the run summary, before :data:`COMPUTE_ROWS`.
        table_metrics: Rows of the comparison table, before
            :data:`COMPUTE_METRICS`.
        campaign_metrics: Rows of a campaign comparison (the environment's
            ``campaign_metrics()``); empty: :attr:`table_metrics`.
        key_metric: The metric ``steer runs`` lists per run (``""``: none).
        figure_names: Keys of the dict :meth:`figures` returns.
    """

    kind: ClassVar[str] = "generic"
    ranked: ClassVar[bool] = False
    idle_s: ClassVar[float | None] = None
    retry_idle_s: ClassVar[float | None] = None
    summary_rows: ClassVar[tuple[SummaryRow, ...]] = ()
    table_metrics: ClassVar[tuple[str, ...]] = ()
    campaign_metrics: ClassVar[tuple[str, ...]] = ()
    key_metric: ClassVar[str] = ""
    figure_names: ClassVar[tuple[str, ...]] = ()

    def action_text(self, action: dict[str, Any]) -> str:
        """A short human description of a recorded action (replay reports, logs)."""
        return json.dumps(action, sort_keys=True)

    def table_row(self, record: DecisionRecord) -> dict[str, Any]:
        """The environment's own columns of the decision table for one record.

        Values must be JSON-able; missing values are ``None``.
        """
        return {}

    def step_metrics(self, record: DecisionRecord) -> dict[str, float]:
        """The environment's own per-decision MLflow metrics for one record.

        The core adds ``reward``, ``rejected``, ``decision_ms`` and
        ``cumulative_reward``; non-finite values are dropped.
        """
        return {}

    def figures(self, records: Sequence[DecisionRecord], title: str = "") -> dict[str, Figure]:
        """The environment's own figures of one episode, keyed by :attr:`figure_names`.

        The core adds the generic ``decision_time`` figure.
        """
        return {}

    def runner_up_text(self, runner_up: dict[str, Any]) -> str:
        """A runner-up of an explanation (its action's fields plus a score) in words."""
        return self.action_text({k: v for k, v in runner_up.items()
                                 if k not in ("score", "acquisition_value")})

    def explain(self, record: DecisionRecord) -> dict[str, Any]:
        """What the report's decision explorer shows for one decision.

        Returns:
            ``choice`` (the action's text), ``score``, ``runners`` (``(text,
            score)`` of the runners-up, best first), ``reason`` (words),
            ``numbers`` (label -> number or text: the explanation's scalars),
            ``cost_s`` (part -> seconds; empty when the env reports none) and
            ``outcome`` (what came back, in words).
        """
        proposal = record.proposal or {}
        explanation = proposal.get("explanation") or {}
        runners = []
        for alt in explanation.get("runners_up") or []:
            if isinstance(alt, dict):
                score = alt.get("score", alt.get("acquisition_value"))
                runners.append((self.runner_up_text(alt), finite(score)))
        numbers = {k: v for k, v in explanation.items()
                   if k not in ("runners_up", "rank") and (finite(v) is not None
                                                           or isinstance(v, str))}
        reason = str((record.safety or {}).get("reason") or explanation.get("reason")
                     or explanation.get("rule") or explanation.get("acquisition") or "")
        if record.status != "ok" and reason:
            reason = f"{record.status}: {reason}"
        outcome = "" if not record.measurement else json.dumps(
            {k: v for k, v in record.measurement.items() if finite(v) is not None}, default=str)
        overheads = (record.measurement or {}).get("overheads_s") or {}
        cost_s = {str(k): f for k, v in overheads.items() if (f := finite(v)) is not None}
        return {"choice": self.action_text(proposal.get("action") or {}),
                "score": finite(proposal.get("score")), "runners": runners, "reason": reason,
                "numbers": numbers, "cost_s": cost_s, "outcome": outcome[:300]}

    def report_sections(self, records: Sequence[DecisionRecord],
                        extras: dict[str, Any]) -> list[Section]:
        """The sections of the run's HTML report (:mod:`steer.report`).

        Args:
            records: The run's decisions, in order.
            extras: The environment's ``episode_extras()`` (``{}`` if none).

        The default fits any environment: the decision explorer and the
        decision latency (:func:`steer.report_explorer.generic_sections`).
        """
        from steer.report_explorer import generic_sections

        return generic_sections(records, self)

    def summary_lines(self, metrics: dict[str, float]) -> list[tuple[str, str]]:
        """``(label, text)`` of every summary row (own rows, then compute rows) the
        metrics fill."""
        out = []
        for row in (*self.summary_rows, *COMPUTE_ROWS):
            text = row.render(metrics)
            if text is not None:
                out.append((row.label, text))
        return out

    def comparison_metrics(self, campaign: bool = False) -> tuple[str, ...]:
        """Rows of the comparison table: :attr:`table_metrics` (a campaign's:
        :attr:`campaign_metrics`), then compute metrics."""
        rows = self.campaign_metrics if campaign and self.campaign_metrics else self.table_metrics
        return (*rows, *COMPUTE_METRICS)
