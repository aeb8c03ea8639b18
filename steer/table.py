"""A decision record as a table row and as per-step metrics, shaped by the env's presenter.

The core supplies the columns every environment shares (step, attempt,
status, score, reward, time, decision time, reason, who decided, runners-up);
the environment's :class:`~steer.presenter.Presenter` adds its own.
"""

from __future__ import annotations

import json
from typing import Any

from steer.presenter import Presenter, finite
from steer.records import DecisionRecord

__all__ = ["decision_table", "table_row", "step_metrics", "short_json", "reason_of"]


def short_json(value: Any, max_items: int = 3, max_chars: int = 300) -> str:
    """A compact JSON string of the first items of a list (for a table cell)."""
    if not value:
        return ""
    text = json.dumps(value[:max_items] if isinstance(value, list) else value,
                      separators=(",", ":"), default=str)
    return text if len(text) <= max_chars else text[: max_chars - 3] + "..."


def reason_of(record: DecisionRecord) -> str:
    """Why a decision ended as it did: the refusal or failure, else the policy's reason."""
    explanation = (record.proposal or {}).get("explanation") or {}
    return str((record.safety or {}).get("reason") or explanation.get("reason")
               or explanation.get("rule") or "")


def table_row(record: DecisionRecord, presenter: Presenter) -> dict[str, Any]:
    """One row of the decision table: the generic columns around the env's own."""
    proposal = record.proposal or {}
    explanation = proposal.get("explanation") or {}
    suggest_s = finite((record.timings_s or {}).get("suggest"))
    return {
        "step": record.step, "attempt": record.attempt, "status": record.status,
        **presenter.table_row(record),
        "score": finite(proposal.get("score")), "reward": finite(record.reward),
        "sim_mjd": finite(record.sim_mjd),
        "decision_ms": None if suggest_s is None else 1000.0 * suggest_s,
        "reason": reason_of(record), "decided_by": record.decided_by,
        "runners_up": short_json(explanation.get("runners_up")),
    }


def decision_table(records: list[DecisionRecord], presenter: Presenter) -> Any:
    """The decision table, one row per record, as a ``pandas.DataFrame``.

    Missing values are ``None`` (not NaN): MLflow writes the table as JSON and
    the UI cannot parse NaN.
    """
    import pandas as pd

    df = pd.DataFrame([table_row(r, presenter) for r in records])
    return df.astype(object).where(df.notna(), None)


def step_metrics(record: DecisionRecord, presenter: Presenter) -> dict[str, float]:
    """Per-decision metric values of one record (non-finite values left out)."""
    values: dict[str, Any] = {"reward": record.reward,
                              "rejected": 1.0 if record.status == "rejected" else 0.0}
    suggest_s = finite((record.timings_s or {}).get("suggest"))
    if suggest_s is not None:
        values["decision_ms"] = 1000.0 * suggest_s
    values.update(presenter.step_metrics(record))
    return {k: f for k, v in values.items() if (f := finite(v)) is not None}
