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

    from steer.report import Section

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
        SummaryRow("new characterised / per hour",
                   ("characterised_tonight", "characterised_tonight_per_h"), "{:.0f} / {:.2f}"),
        SummaryRow("open-shutter fraction", ("open_shutter_fraction",), "{:.3f}"),
        SummaryRow("visits", ("visits",), "{:.0f}"),
        SummaryRow("idle: dome closed/none up (h)", ("idle_s",), "{:.2f}", scale=1 / 3600),
        SummaryRow("slew median / p95 (s)", ("slew_median_s", "slew_p95_s"),
                   "{:.1f} / {:.1f}"),
    )
    table_metrics: ClassVar[tuple[str, ...]] = (
        "science_score", "lc_rmse_mag", "frac_characterised", "characterised_tonight",
        "open_shutter_fraction", "visits", "slew_median_s", "slew_p95_s", "airmass_median")
    campaign_metrics: ClassVar[tuple[str, ...]] = (
        "characterised_campaign", "characterised_campaign_per_h", "frac_characterised",
        "period_recovery_rate", "new_transients_characterised", "transient_days_to_characterise",
        "lc_rmse_mag", "science_score", "open_shutter_fraction_dome_open", "visits",
        "targets_visited")
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

    def explain(self, record: DecisionRecord) -> dict[str, Any]:
        """Targets by id and exposure, the time split of the visit, the reason in words."""
        out = super().explain(record)
        proposal = record.proposal or {}
        expl = proposal.get("explanation") or {}
        out["choice"] = _label(proposal.get("action") or {})
        out["runners"] = [(_label(alt), finite(alt.get("score")))
                          for alt in expl.get("runners_up") or [] if isinstance(alt, dict)]
        m = record.measurement or {}
        over = m.get("overheads_s") or {}
        if over:
            out["cost_s"] = {"slew + settle": (finite(over.get("slew")) or 0.0)
                             + (finite(over.get("settle")) or 0.0),
                             "filter change": finite(over.get("filter")) or 0.0,
                             "exposure": finite(over.get("exposure")) or 0.0,
                             "readout": finite(over.get("readout")) or 0.0}
        numbers = {k: v for k, v in out["numbers"].items() if k in _EXPLAINED}
        numbers.update({k: v for k, v in out["numbers"].items() if k not in numbers})
        n_feasible = finite((record.observation or {}).get("n_feasible"))
        if n_feasible is not None:
            numbers = {"targets observable": n_feasible, **numbers}
        out["numbers"] = numbers
        out["reason"] = _reason(record, out)
        if m:
            cond = m.get("conditions") or {}
            out["outcome"] = (f"{finite(m.get('value_mag')) or float('nan'):.3f} ± "
                              f"{finite(m.get('error_mag')) or float('nan'):.3f} mag at airmass "
                              f"{finite(cond.get('airmass')) or float('nan'):.2f}, seeing "
                              f"{finite(cond.get('seeing_fwhm_arcsec')) or float('nan'):.2f}\", "
                              f"reward {record.reward:.3g}")
        return out

    def report_sections(self, records: Sequence[DecisionRecord],
                        extras: dict[str, Any]) -> list[Section]:
        """Sky, timeline, light curves (:mod:`steer.envs.night_report`), the decision
        explorer and the decision latency."""
        from steer.envs.night_report import night_sections
        from steer.report_explorer import explorer_section, latency_section

        night = night_sections(records, extras)
        return [*night[:2], explorer_section(records, self), night[2], latency_section(records)]


#: Explanation numbers the explorer lists first (posterior and expected gain of ``bo``).
_EXPLAINED = ("posterior_mean_mag", "posterior_std_mag", "predicted_error_mag",
              "expected_ipv_reduction_mag2", "expected_information_nats", "cost_s",
              "predicted_m5_mag")


def _label(action: dict[str, Any]) -> str:
    """``T0017, 60 s`` (the target id and exposure of an action or a runner-up)."""
    target = action.get("target_id") or f"target {action.get('target_index')}"
    exptime = finite(action.get("exptime_s"))
    return f"{target}, {exptime:.0f} s" if exptime is not None else str(target)


def _variability_words(expl: dict[str, Any]) -> str:
    """``"; its data say periodic 0.62, constant 0.38, likeliest period 0.431 d (probability
    0.20)"`` from a
    decision's explanation (kinds under 0.005 left out; the likeliest period or peak when
    that kind is likelier than 1 in 5), else ``""``."""
    kinds = expl.get("variability")
    if not isinstance(kinds, dict) or not kinds:
        return ""
    words = "; its data say " + ", ".join(
        f"{k} {v:.2f}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]) if v >= 0.005)
    period, peak = finite(expl.get("period_d")), finite(expl.get("peak_mjd"))
    if period is not None and (finite(kinds.get("periodic")) or 0.0) >= 0.2:
        words += (f", likeliest period {period:.3g} d (probability "
                  f"{finite(expl.get('period_probability')) or 0.0:.2f})")
    if peak is not None and (finite(kinds.get("transient")) or 0.0) >= 0.2:
        words += f", an outburst peaking near MJD {peak:.1f}"
    return words


def _reason(record: DecisionRecord, out: dict[str, Any]) -> str:
    """The decision in words, from what the policy recorded."""
    if record.status != "ok":
        why = (record.safety or {}).get("reason") or out.get("reason") or "no reason given"
        return f"{out['choice']} was {record.status}: {why}"
    expl = (record.proposal or {}).get("explanation") or {}
    n = finite((record.observation or {}).get("n_feasible"))
    among = f" among {n:.0f} observable targets" if n is not None else ""
    score = out.get("score")
    words = f"{out['choice']} had the best score{among}"
    if record.decided_by != "policy":
        words = f"{out['choice']} was chosen by the {record.decided_by}"
    gain, cost = finite(expl.get("expected_ipv_reduction_mag2")), finite(expl.get("cost_s"))
    info, precision = finite(expl.get("expected_information_nats")), finite(expl.get("precision_mag"))
    if info is not None and precision is not None:
        gain, gain_words = info, (f"information on the light curve to {precision:g} mag "
                                  f"({info:.3g} nats)")
    elif gain is not None:
        gain_words = f"light-curve variance reduction ({gain:.3g} mag²)"
    period = finite(expl.get("period_information_nats"))
    if gain is not None and period is not None:
        weight = finite(expl.get("period_weight")) or 1.0
        peaks = "or peak" in str(expl.get("acquisition", ""))
        gain_words += (f" + {'' if weight == 1 else f'{weight:g} x '}information on its "
                       f"period{' or peak' if peaks else ''} ({period:.3g} nats"
                       f"{_variability_words(expl)})")
    if gain is not None and cost is not None:
        weight, dead = finite(expl.get("overhead_weight")), finite(expl.get("overhead_s"))
        if weight not in (None, 1.0) and dead is not None:
            words += (f": priority x expected {gain_words} per second of exposure and readout, "
                      f"a second of slew, settle and filter change counted as {weight:g} "
                      f"({cost:.0f} s, {dead:.0f} s of them slewing, settling or changing "
                      "filter)")
        else:
            words += (f": priority x expected {gain_words} per second of slew, readout and "
                      f"exposure ({cost:.0f} s)")
        if expl.get("exposure"):
            words += ("; of its exposures, the one that best amortises the visit's dead "
                      "time, readout included")
        ahead = expl.get("lookahead") or {}
        next_cost = finite(ahead.get("next_cost_s"))
        if ahead.get("next_target_id") and next_cost is not None:
            words += (f", counted together with the visit it leaves the telescope ready for "
                      f"({ahead['next_target_id']}, {next_cost:.0f} s from there)")
        mean, std = finite(expl.get("posterior_mean_mag")), finite(expl.get("posterior_std_mag"))
        if mean is not None and std is not None:
            words += f"; the model predicted {mean:.2f} ± {std:.2f} mag"
    elif expl.get("rule"):
        words += f" by the rule '{expl['rule']}'"
    runners = out.get("runners") or []
    if runners and score and runners[0][1] is not None:
        ratio = runners[0][1] / score if score else float("nan")
        words += f". Next best: {runners[0][0]} (score {runners[0][1]:.3g}, {ratio:.0%} of it)"
    return words + "."
