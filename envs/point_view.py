"""How the point and pool environments describe themselves to the core.

* :class:`PointPresenter`: a point of a box per decision (``x = [...]``), one
  point per ``suggest`` (``n > 1`` is a batch), no waiting;
* :class:`BlackBoxPresenter` (``steer/BlackBox-v0``): regret figures and rows;
* :class:`FocusPresenter` (``steer/Autofocus-v0`` and the INDI autofocus):
  focus figures and rows;
* :class:`PoolPresenter` (``steer/CandidatePool-v0``): a candidate index per
  decision, ranked alternatives per ``suggest``, regret figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from steer.envs.point_figures import focus_figures, regret_figures
from steer.presenter import Presenter, SummaryRow, finite
from steer.records import DecisionRecord
from steer.table import short_json

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from steer.report import Section

__all__ = ["PointPresenter", "BlackBoxPresenter", "FocusPresenter", "PoolPresenter"]

_INSTRUMENT_TIME = SummaryRow("instrument time (s)", ("elapsed_s",), "{:.0f}")
_REGRET_ROWS = (
    SummaryRow("evaluations", ("evaluations",), "{:.0f}"),
    SummaryRow("best value measured", ("best_value",), "{:.5g}"),
    SummaryRow("simple regret (truth)", ("simple_regret",), "{:.4g}"),
    SummaryRow("regret of the incumbent (truth)", ("incumbent_regret",), "{:.4g}"),
    _INSTRUMENT_TIME,
)


def _measured_numbers(record: DecisionRecord) -> dict[str, float]:
    """Every top-level number of the measurement (the value, regrets, FWHM, position...)."""
    m = record.measurement or {}
    return {k: f for k, v in m.items() if not isinstance(v, dict | str)
            and (f := finite(v)) is not None}


class PointPresenter(Presenter):
    """A point of a box per decision."""

    kind: ClassVar[str] = "point"
    ranked: ClassVar[bool] = False
    idle_s: ClassVar[float | None] = None  # a black box or a focus run does not wait
    retry_idle_s: ClassVar[float | None] = None
    summary_rows: ClassVar[tuple[SummaryRow, ...]] = (_INSTRUMENT_TIME,)
    table_metrics: ClassVar[tuple[str, ...]] = ("elapsed_s",)

    def action_text(self, action: dict[str, Any]) -> str:
        """``x = [0.1, 0.2]``."""
        if "x" in action:
            return "x = [" + ", ".join(f"{v:.6g}" for v in action["x"]) + "]"
        return super().action_text(action)

    def runner_up_text(self, runner_up: dict[str, Any]) -> str:
        """A runner-up point (listed by its unit-box coordinates) in words."""
        if "x_unit" in runner_up and "x" not in runner_up and "index" not in runner_up:
            return self.action_text({"x": runner_up["x_unit"]})
        return super().runner_up_text(runner_up)

    def table_row(self, record: DecisionRecord) -> dict[str, Any]:
        """The point and every measured number."""
        action = (record.proposal or {}).get("action") or {}
        return {"x": short_json(action.get("x"), max_items=12),
                "measured": short_json(_measured_numbers(record) or None)}

    def step_metrics(self, record: DecisionRecord) -> dict[str, float]:
        """Every measured number of the evaluation."""
        return _measured_numbers(record)


class BlackBoxPresenter(PointPresenter):
    """``steer/BlackBox-v0``: the value, its best so far and the true regret."""

    summary_rows: ClassVar[tuple[SummaryRow, ...]] = _REGRET_ROWS
    table_metrics: ClassVar[tuple[str, ...]] = (
        "best_value", "simple_regret", "incumbent_regret", "elapsed_s")
    key_metric: ClassVar[str] = "simple_regret"
    figure_names: ClassVar[tuple[str, ...]] = ("regret",)

    def figures(self, records: Sequence[DecisionRecord], title: str = "") -> dict[str, Figure]:
        """:func:`steer.envs.point_figures.regret_figures`."""
        return regret_figures(records, title)

    def report_sections(self, records: Sequence[DecisionRecord],
                        extras: dict[str, Any]) -> list[Section]:
        """Objective, regret and points (:func:`steer.envs.point_report.regret_sections`),
        then the decision explorer and latency."""
        from steer.envs.point_report import regret_sections

        return [*regret_sections(records), *super().report_sections(records, extras)]


class FocusPresenter(PointPresenter):
    """Autofocus: FWHM per exposure, focuser positions, focus judged against truth."""

    summary_rows: ClassVar[tuple[SummaryRow, ...]] = (
        SummaryRow("exposures", ("exposures",), "{:.0f}"),
        SummaryRow("best FWHM measured (arcsec)", ("best_fwhm_arcsec",), "{:.3f}"),
        SummaryRow("final FWHM measured / true", ("final_fwhm_arcsec", "final_true_fwhm_arcsec"),
                   "{:.3f} / {:.3f}"),
        SummaryRow("seeing floor (arcsec)", ("seeing_floor_arcsec",), "{:.3f}"),
        SummaryRow("exposures to focus (truth)", ("exposures_to_focus",), "{:.0f}"),
        SummaryRow("in focus afterwards", ("in_focus_after_fraction",), "{:.0%}"),
        SummaryRow("final focus error (steps)", ("final_focus_error_steps",), "{:.0f}"),
        _INSTRUMENT_TIME,
    )
    table_metrics: ClassVar[tuple[str, ...]] = (
        "best_fwhm_arcsec", "final_true_fwhm_arcsec", "exposures_to_focus",
        "in_focus_after_fraction", "final_focus_error_steps", "elapsed_s")
    key_metric: ClassVar[str] = "best_fwhm_arcsec"
    figure_names: ClassVar[tuple[str, ...]] = ("focus",)

    def figures(self, records: Sequence[DecisionRecord], title: str = "") -> dict[str, Figure]:
        """:func:`steer.envs.point_figures.focus_figures`."""
        return focus_figures(records, title)

    def report_sections(self, records: Sequence[DecisionRecord],
                        extras: dict[str, Any]) -> list[Section]:
        """Focus per exposure and the V-curve (:func:`steer.envs.point_report.focus_sections`),
        then the decision explorer and latency."""
        from steer.envs.point_report import focus_sections

        return [*focus_sections(records), *super().report_sections(records, extras)]


class PoolPresenter(BlackBoxPresenter):
    """``steer/CandidatePool-v0``: a candidate index per decision, ranked alternatives."""

    kind: ClassVar[str] = "pool"
    ranked: ClassVar[bool] = True
    table_metrics: ClassVar[tuple[str, ...]] = ("best_value", "simple_regret", "elapsed_s")

    def action_text(self, action: dict[str, Any]) -> str:
        """``candidate 123``."""
        if "index" in action:
            return f"candidate {action['index']}"
        return super().action_text(action)

    def table_row(self, record: DecisionRecord) -> dict[str, Any]:
        """The candidate's index and unit coordinates, and every measured number."""
        action = (record.proposal or {}).get("action") or {}
        return {"candidate": action.get("index"),
                "x": short_json(action.get("x_unit"), max_items=12),
                "measured": short_json(_measured_numbers(record) or None)}
