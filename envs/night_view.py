"""How a night of target selection describes itself to the core: :class:`NightPresenter`.

Decisions are named by target and exposure; the decision table has the
target, exposure, pointing, conditions and photometry columns; each decision
logs its exposure, slew and conditions as MLflow step metrics; the summary
and the comparison table show the science, efficiency and slew metrics; the
figures are the sky, the timeline, the cumulative reward and the conditions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from steer.envs.night_figures import NIGHT_FIGURES, night_figures
from steer.presenter import Presenter, SummaryRow, finite
from steer.records import DecisionRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["NightPresenter"]

#: Measurement conditions logged per decision.
_CONDITION_METRICS = ("airmass", "seeing_fwhm_arcsec", "transparency", "m5_mag")


class NightPresenter(Presenter):
    """The presenter of ``steer/TargetSelection-v0`` (and any env of catalog actions)."""

    kind: ClassVar[str] = "catalog"
    ranked: ClassVar[bool] = True
    idle_s: ClassVar[float | None] = 300.0  # nothing acceptable: let five minutes pass
    retry_idle_s: ClassVar[float | None] = 60.0  # the instrument failed: wait a minute
    summary_rows: ClassVar[tuple[SummaryRow, ...]] = (
        SummaryRow("science score", ("science_score",), "{:.4f}"),
        SummaryRow("lc reconstruction rmse (mag)", ("lc_rmse_mag",), "{:.4f}"),
        SummaryRow("priority targets characterised", ("frac_characterised",), "{:.3f}"),
        SummaryRow("open-shutter fraction", ("open_shutter_fraction",), "{:.3f}"),
        SummaryRow("visits", ("visits",), "{:.0f}"),
        SummaryRow("idle: dome closed/none up (h)", ("idle_s",), "{:.2f}", scale=1 / 3600),
        SummaryRow("slew median / p95 (s)", ("slew_median_s", "slew_p95_s"),
                   "{:.1f} / {:.1f}"),
    )
    table_metrics: ClassVar[tuple[str, ...]] = (
        "science_score", "lc_rmse_mag", "frac_characterised", "open_shutter_fraction", "visits",
        "slew_median_s", "slew_p95_s", "airmass_median")
    key_metric: ClassVar[str] = "science_score"
    figure_names: ClassVar[tuple[str, ...]] = NIGHT_FIGURES

    def action_text(self, action: dict[str, Any]) -> str:
        """``target 12 exptime 60.0 s``."""
        return f"target {action.get('target_index')} exptime {action.get('exptime_s')} s"

    def table_row(self, record: DecisionRecord) -> dict[str, Any]:
        """Target, exposure, pointing, conditions and photometry of one decision."""
        action = (record.proposal or {}).get("action") or {}
        m = record.measurement or {}
        cond = m.get("conditions") or {}
        return {
            "target_id": action.get("target_id", ""), "target_index": action.get("target_index"),
            "exptime_s": finite(action.get("exptime_s", m.get("exptime_s"))),
            "alt_deg": finite(cond.get("alt_deg")), "airmass": finite(cond.get("airmass")),
            "seeing_fwhm_arcsec": finite(cond.get("seeing_fwhm_arcsec")),
            "transparency": finite(cond.get("transparency")), "m5_mag": finite(cond.get("m5_mag")),
            "value_mag": finite(m.get("value_mag")), "error_mag": finite(m.get("error_mag")),
        }

    def step_metrics(self, record: DecisionRecord) -> dict[str, float]:
        """The measured magnitude and error, exposure, slew + settle and conditions."""
        m = record.measurement
        if not m:
            return {}
        values: dict[str, Any] = {k: v for k, v in m.items() if k != "mjd_mid"}
        overheads = m.get("overheads_s") or {}
        slew, settle = finite(overheads.get("slew")), finite(overheads.get("settle"))
        if slew is not None or settle is not None:
            values["slew_s"] = (slew or 0.0) + (settle or 0.0)
        conditions = m.get("conditions") or {}
        values.update({key: conditions.get(key) for key in _CONDITION_METRICS})
        return {k: f for k, v in values.items() if (f := finite(v)) is not None}

    def figures(self, records: Sequence[DecisionRecord], title: str = "") -> dict[str, Figure]:
        """:func:`steer.envs.night_figures.night_figures`."""
        return night_figures(list(records), title)
