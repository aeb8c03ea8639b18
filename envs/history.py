"""Past observations of a catalog's targets, for ``steer suggest`` and ``steer plan``.

:func:`read_history` reads either

* a steer runs folder (``runs/``, its ``journals/`` folder, or one
  ``.jsonl`` journal): every executed decision (status ``ok``) with a finite
  measured magnitude gives a visit (``proposal.action.target_id``,
  ``measurement.mjd_mid``, ``value_mag``, ``error_mag``, band from
  ``measurement.conditions.band``); or
* a table (CSV, ECSV, FITS, VOTable) with the columns ``target_id, mjd, mag,
  mag_err`` and optionally ``band``.

Rows naming targets that are not in the catalog, rows in another band than the
target's catalog band (the light-curve models are per band) and rows without
a finite magnitude or a positive error are skipped and counted in the
:class:`HistoryReport`; if no row is left, :class:`~steer.errors.ConfigError`.
The result is the ``{"target_index", "mjd", "mag", "error_mag"}`` dict that
:class:`steer.envs.target_selection.TargetSelectionEnv` takes as ``history``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from steer.errors import ConfigError

__all__ = ["HistoryReport", "read_history", "empty_history"]


@dataclass
class HistoryReport:
    """What :func:`read_history` kept and skipped.

    Attributes:
        source: The path read.
        rows: Rows (or journal visits) found.
        used: Rows kept.
        unknown_targets: Rows whose target is not in the catalog.
        unknown_examples: Up to three such target ids.
        other_band: Rows in another band than the target's catalog band.
        unusable: Rows without a finite magnitude or a positive error.
        targets: Distinct catalog targets with at least one kept row.
        max_visits: Most kept rows for one target.
    """

    source: str
    rows: int = 0
    used: int = 0
    unknown_targets: int = 0
    unknown_examples: list[str] = field(default_factory=list)
    other_band: int = 0
    unusable: int = 0
    targets: int = 0
    max_visits: int = 0

    def warnings(self) -> list[str]:
        """One line per kind of skipped row (empty when everything was used)."""
        out = []
        if self.unknown_targets:
            ex = ", ".join(repr(t) for t in self.unknown_examples)
            out.append(f"history {self.source}: {self.unknown_targets} of {self.rows} rows name "
                       f"targets not in the catalog (e.g. {ex}); ignored")
        if self.other_band:
            out.append(f"history {self.source}: {self.other_band} of {self.rows} rows are in "
                       "another band than the target's catalog band; ignored")
        if self.unusable:
            out.append(f"history {self.source}: {self.unusable} of {self.rows} rows have no "
                       "finite magnitude or positive error; ignored")
        return out


def empty_history() -> dict[str, np.ndarray]:
    """No earlier visits."""
    return {"target_index": np.zeros(0, int), "mjd": np.zeros(0), "mag": np.zeros(0),
            "error_mag": np.zeros(0)}


def _journal_files(p: Path) -> list[Path]:
    if p.is_file():
        return [p]
    for folder in (p / "journals", p):
        files = sorted(folder.glob("*.jsonl"))
        if files:
            return files
    raise ConfigError(f"history folder {str(p)!r} has no journals (*.jsonl, or journals/*.jsonl)",
                      "pass a steer runs folder or a CSV/ECSV of target_id, mjd, mag, mag_err")


def _from_journals(p: Path) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {k: [] for k in ("target_id", "mjd", "mag", "mag_err", "band")}
    for path in _journal_files(p):
        with open(path, encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    raise ConfigError(f"history journal {str(path)!r}: line {line_no} is not "
                                      "JSON") from None
                m = rec.get("measurement") if isinstance(rec, dict) else None
                action = ((rec.get("proposal") or {}).get("action") or {}) if m else {}
                if rec.get("status") != "ok" or not m or "target_id" not in action:
                    continue
                cols["target_id"].append(str(action["target_id"]))
                cols["mjd"].append(m.get("mjd_mid"))
                cols["mag"].append(m.get("value_mag"))
                cols["mag_err"].append(m.get("error_mag"))
                cols["band"].append((m.get("conditions") or {}).get("band"))
    return cols


def _from_table(p: Path) -> dict[str, list[Any]]:
    from astropy.table import Table

    from steer.instruments.sim.catalog_io import _format_of

    fmt = _format_of(p)
    try:
        t = Table.read(p, format=fmt, **({"comment": r"\s*#"} if fmt == "ascii.csv" else {}))
    except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot read history {str(p)!r} as {fmt}: {first}") from None
    lower = {n.lower(): n for n in t.colnames}
    names = {"target_id": ("target_id", "name", "id"), "mjd": ("mjd",),
             "mag": ("mag",), "mag_err": ("mag_err", "error_mag", "magerr", "e_mag")}
    found = {k: next((lower[c] for c in cands if c in lower), None) for k, cands in names.items()}
    missing = [k for k, v in found.items() if v is None]
    if missing:
        raise ConfigError(f"history {str(p)!r}: missing column(s) {missing}; it has {t.colnames}",
                          "a history table needs target_id, mjd, mag, mag_err[, band]")
    cols: dict[str, list[Any]] = {}
    for k, c in found.items():
        col = t[c]
        mask = np.ma.getmaskarray(col)
        vals = [str(v) for v in col] if k == "target_id" else [
            None if mask[i] else v for i, v in enumerate(np.asarray(col).tolist())]
        cols[k] = vals
    band = lower.get("band")
    if band:
        bmask = np.ma.getmaskarray(t[band])
        cols["band"] = [None if bmask[i] else str(v).strip() for i, v in enumerate(t[band])]
    else:
        cols["band"] = [None] * len(t)
    return cols


def _as_float(values: list[Any]) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            pass
    return out


def read_history(path: str | PathLike[str], catalog: Any) -> tuple[dict[str, np.ndarray],
                                                                    HistoryReport]:
    """Read past visits of ``catalog``'s targets (see the module docstring).

    Args:
        path: A runs folder, a journal, or a CSV/ECSV/FITS/VOTable file.
        catalog: The :class:`~steer.instruments.sim.Catalog` the visits refer to.

    Returns:
        ``(history, report)``; ``history`` sorted by time.

    Raises:
        ConfigError: missing or unreadable file, missing columns, or no usable
            row left (e.g. every target is unknown: probably another catalog).
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"history {str(p)!r} does not exist",
                          "pass a steer runs folder or a CSV/ECSV of target_id, mjd, mag, "
                          "mag_err")
    is_journal = p.is_dir() or p.suffix.lower() == ".jsonl"
    cols = _from_journals(p) if is_journal else _from_table(p)
    report = HistoryReport(source=str(path), rows=len(cols["target_id"]))
    if report.rows == 0:
        raise ConfigError(f"history {str(p)!r} has no visits")
    index = {str(t): i for i, t in enumerate(catalog.target_id)}
    ids = cols["target_id"]
    rows = np.array([index.get(t, -1) for t in ids])
    unknown = rows < 0
    report.unknown_targets = int(unknown.sum())
    report.unknown_examples = list(dict.fromkeys(t for t, u in zip(ids, unknown, strict=True)
                                                 if u))[:3]
    mjd, mag, err = (_as_float(cols[k]) for k in ("mjd", "mag", "mag_err"))
    cat_band = np.asarray(catalog.band)
    other = np.array([b is not None and b not in ("", "None") and not u
                      and str(b).lower() != cat_band[r]
                      for b, u, r in zip(cols["band"], unknown, rows, strict=True)], bool)
    report.other_band = int(other.sum())
    finite = np.isfinite(mjd) & np.isfinite(mag) & np.isfinite(err) & (err > 0)
    bad = ~unknown & ~other & ~finite
    report.unusable = int(bad.sum())
    keep = ~unknown & ~other & finite
    report.used = int(keep.sum())
    if report.used == 0:
        why = "; ".join(report.warnings()) or "no usable rows"
        raise ConfigError(f"nothing usable in history {str(p)!r}: {why}",
                          "is it the history of this catalog?")
    order = np.argsort(mjd[keep], kind="stable")
    hist = {"target_index": rows[keep][order].astype(int), "mjd": mjd[keep][order],
            "mag": mag[keep][order], "error_mag": err[keep][order]}
    counts = np.bincount(hist["target_index"], minlength=len(catalog))
    report.targets = int((counts > 0).sum())
    report.max_visits = int(counts.max())
    return hist, report
