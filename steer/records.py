"""The decision record and the append-only, fsync'd decision journal."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from steer.errors import TrackingError

__all__ = ["DecisionRecord", "Journal", "read_journal", "RECORD_VERSION", "json_safe"]

RECORD_VERSION = 3
_READABLE_VERSIONS = (1, 2, 3)  # version 1 had no ``failure`` field, 2 no ``events``


def json_safe(value: Any) -> Any:
    """Make a value strict-JSON-safe (NaN/inf become None, numpy to Python)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "value") and hasattr(value, "name") and not isinstance(value, (int, float)):
        return value.value  # enums
    return value


@dataclass(frozen=True)
class DecisionRecord:
    """One decision: what was chosen, what else was considered, why, what came back.

    Attributes:
        run_id: Identifier of the run (journal folder name / MLflow run id).
        step: Decision index within the episode, starting at 0.
        attempt: Attempt number for this step (0 first try, >0 retries).
        status: ``ok``, ``rejected``, ``failed``, ``retried`` or ``skipped``.
        seed: Episode seed.
        policy: Policy id.
        policy_version: Policy version string.
        sim_mjd: Instrument (simulated or real) time at the decision, MJD; NaN
            for an environment without a clock (its ``observation`` has
            ``elapsed_s``, as every environment's does).
        wall_time_unix: Wall-clock time the record was made, Unix seconds.
        observation: Summary of the observation (the env's ``record_summary``:
            the time, global features, counts).
        proposal: The proposal with its explanation (action, score, why).
        safety: The safety verdict ``{"allowed": bool, "reason": str}``: whether
            the action was allowed to reach the instrument, and why not.
        measurement: What came back (``None`` if nothing was executed).
        reward: Reward from the environment (0 for rejected/failed).
        timings_s: Seconds spent by phase (``suggest``, ``check``, ``execute``,
            ``ingest``).
        decided_by: Who decided (``policy``, ``operator``, ``fallback``...).
        failure: What went wrong when the instrument failed to carry out an
            allowed action (status ``failed`` or ``retried``), else ``None``.
        events: What arrived from outside before this decision and was taken
            into account (a target of opportunity: ``{"kind": "too", "step",
            "arrival_unix", "applied_unix", "sim_mjd", "target", "row"}``, or
            ``"refused"`` with why); ``None`` when nothing arrived.
        version: Schema version of this record.
    """

    run_id: str
    step: int
    attempt: int
    status: str
    seed: int
    policy: str
    policy_version: str
    sim_mjd: float
    wall_time_unix: float
    observation: dict[str, Any]
    proposal: dict[str, Any]
    safety: dict[str, Any]
    measurement: dict[str, Any] | None
    reward: float
    timings_s: dict[str, float] = field(default_factory=dict)
    decided_by: str = "policy"
    failure: str | None = None
    events: list[dict[str, Any]] | None = None
    version: int = RECORD_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Return a strict-JSON-safe dict."""
        return json_safe(asdict(self))

    def to_json(self) -> str:
        """Return one line of strict JSON."""
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecisionRecord:
        """Rebuild a record from :meth:`to_dict` output."""
        version = data.get("version", RECORD_VERSION)
        if version not in _READABLE_VERSIONS:
            raise TrackingError(
                f"decision record version {version!r} is not supported",
                f"this steer reads versions {list(_READABLE_VERSIONS)}; upgrade steer",
            )
        if data.get("sim_mjd") is None:  # NaN is written as null
            data = {**data, "sim_mjd": math.nan}
        return cls(**data)

    @property
    def decision_key(self) -> tuple[Any, ...]:
        """What must be identical between a run and its replay: step, attempt, status
        and the action (every field of it: a target and exposure, or a point)."""
        action = self.proposal.get("action", {}) or {}
        return (self.step, self.attempt, self.status, json.dumps(json_safe(action), sort_keys=True))


class Journal:
    """Append-only JSON-lines decision journal, flushed and fsync'd per record.

    A killed process loses nothing that :meth:`write` returned from.

    Args:
        path: File to append to (created with its parent folders).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise TrackingError(
                f"cannot write the decision journal {str(self.path)!r}: {exc.strerror}",
                "choose a writable run folder (--runs-dir) or fix its permissions",
            ) from exc

    def write(self, record: DecisionRecord) -> None:
        """Append one record and force it to disk."""
        self._fh.write(record.to_json() + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the file."""
        if not self._fh.closed:
            self._fh.close()


def read_journal(path: str | os.PathLike[str]) -> Iterator[DecisionRecord]:
    """Yield the records of a journal; a torn last line (killed mid-write) is skipped."""
    p = Path(path)
    if not p.exists():
        raise TrackingError(f"no decision journal at {str(p)!r}", "check the run folder path")
    with open(p, encoding="utf-8") as fh:
        lines = fh.readlines()
    for i, line in enumerate(lines):
        line = line.strip()
        if not line:
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            if i == len(lines) - 1:
                return  # torn final write from a killed process
            raise TrackingError(f"corrupt journal line {i + 1} in {str(p)!r}") from exc
        yield DecisionRecord.from_dict(data)
