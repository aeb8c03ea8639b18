"""``steer suggest`` and ``steer plan``: what to observe now, and tonight.

Wire into :func:`steer.cli.build_parser` with ``add_parser(sub)``. Every
command returns an exit code; user mistakes raise
:class:`~steer.errors.SteerError` subclasses, which the CLI prints as one line
``steer: error: ...`` (exit 2). Nothing is written unless the whole command
succeeded.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from steer.errors import ConfigError

__all__ = ["add_parser", "cmd_suggest", "cmd_plan"]

#: Table columns: (key, header, cell format).
_SUGGEST_COLS = (("rank", "#", "{:>2}"), ("target_id", "target", "{:<16}"),
                 ("ra_deg", "ra", "{:>8.3f}"), ("dec_deg", "dec", "{:>8.3f}"),
                 ("alt_deg", "alt", "{:>5.1f}"), ("az_deg", "az", "{:>5.1f}"),
                 ("airmass", "X", "{:>5.2f}"), ("moon_sep_deg", "moon", "{:>5.1f}"),
                 ("hour_angle_h", "HA_h", "{:>5.2f}"), ("up_h", "up_h", "{:>5.1f}"),
                 ("exptime_s", "exp_s", "{:>5.0f}"), ("m5_mag", "m5", "{:>5.2f}"),
                 ("mag_err", "err", "{:>6.3f}"), ("score", "score", "{:>9.4g}"))
_PLAN_COLS = (("start_utc", "start_utc", "{:<20}"), ("target_id", "target", "{:<16}"),
              ("exptime_s", "exp_s", "{:>5.0f}"), ("alt_deg", "alt", "{:>5.1f}"),
              ("airmass", "X", "{:>5.2f}"), ("moon_sep_deg", "moon", "{:>5.1f}"),
              ("slew_s", "slew_s", "{:>6.1f}"))
_PLAN_UNITS = {"exptime_s": "s", "alt_deg": "deg", "az_deg": "deg", "moon_sep_deg": "deg",
               "slew_s": "s", "ra_deg": "deg", "dec_deg": "deg", "start_mjd": "d", "end_mjd": "d"}


def _site(args: argparse.Namespace) -> Any:
    from steer.instruments.sim.sites import resolve_site, site_from_coords

    coords = (args.lat, args.lon, args.height)
    if args.site and any(c is not None for c in coords):
        raise ConfigError("give either --site or --lat/--lon/--height, not both")
    if args.site:
        return resolve_site(args.site)
    if any(c is None for c in coords):
        raise ConfigError("no site: pass --site NAME (or a site .toml) or all of --lat, --lon "
                          "and --height", "e.g. --site lasilla")
    return site_from_coords(args.lat, args.lon, args.height)


def _one_thread() -> None:
    """Torch on one thread when a policy imported it (2 shared cores)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _policy_params(args: argparse.Namespace, policy: str) -> dict[str, Any]:
    """``--model`` as the ``rl`` policy's model (``runs:/<id>/model`` fetched once)."""
    if not args.model:
        return {}
    if policy != "rl":
        raise ConfigError(f"--model is the rl policy's model; the policy here is {policy!r}",
                          "add --policy rl, or drop --model")
    from steer.policies.rl_cli import fetch_model
    from steer.store import resolve_tracking_uri

    runs_dir = Path(args.runs_dir).resolve()
    return {"model": fetch_model(args.model, runs_dir,
                                 resolve_tracking_uri(args.tracking_uri, runs_dir))}


def _warm(policy: str, params: dict[str, Any]) -> None:
    """Import what the night and the policy need, then stop the collector scanning it.

    The policy is built once here (an unknown or unsuitable name fails before any
    work) and torch, when it imports it, set to one thread. ``gc.freeze()`` moves
    the ~10^6 objects the imports made (astropy, torch) out of the collector's
    reach: without it the full collections that building a 10,000-target night
    triggers rescan them all, 0.4 s of a 0.9 s answer.
    """
    import gc

    from steer.envs.planner import make_catalog_policy
    from steer.instruments.sim.almanac import Almanac  # noqa: F401 - astropy's time, coords

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    make_catalog_policy(policy, **params)
    _one_thread()
    import astropy.coordinates  # noqa: F401
    import astropy.time  # noqa: F401

    gc.freeze()


def _inputs(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    """Catalog, site, history (or None) and its report, all checked before any work."""
    from steer.instruments.sim.catalog_io import read_catalog

    site = _site(args)
    catalog = read_catalog(args.catalog)
    history, report = None, None
    if args.history:
        from steer.envs.history import read_history

        history, report = read_history(args.history, catalog)
        for line in report.warnings():
            print(f"steer: warning: {line}", file=sys.stderr)
    return catalog, site, history, report


def _conditions(args: argparse.Namespace) -> Any:
    from steer.envs.planner import Conditions

    return Conditions(float(args.seeing), float(args.transparency))


def _width(spec: str) -> int:
    return int(re.search(r"[<>](\d+)", spec).group(1))


def _fmt(value: Any, spec: str) -> str:
    """One table cell; ``None`` (a saturated target's error) prints as ``sat.``."""
    if value is None:
        return "sat.".rjust(_width(spec))
    return spec.format(value)


def _render(rows: list[dict[str, Any]], cols: tuple[tuple[str, str, str], ...], fmt: str,
            reasons: bool = False) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=1)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else [c for c, _, _ in cols],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue().rstrip("\n")
    head = " ".join(title.rjust(_width(spec)) if ">" in spec else title.ljust(_width(spec))
                    for _, title, spec in cols)
    lines = [head]
    for r in rows:
        lines.append(" ".join(_fmt(r[key], spec) for key, _, spec in cols))
        if reasons:
            lines.append(f"    {r['reason']}")
    return "\n".join(lines)


def cmd_suggest(args: argparse.Namespace) -> int:
    """The N best targets to observe at a time, ranked, with a reason each."""
    from steer.envs.planner import (
        default_policy,
        mjd_to_iso,
        night_date_for,
        open_night,
        parse_time,
        suggest,
    )

    if args.n < 1:
        raise ConfigError(f"--n {args.n} must be at least 1")
    when_mjd = parse_time(args.time)
    conditions = _conditions(args)
    catalog, site, history, _ = _inputs(args)
    policy = args.policy or default_policy(history)
    params = _policy_params(args, policy)
    _warm(policy, params)
    env = open_night(catalog, args.catalog, site, night_date_for(when_mjd, site.lon_deg),
                     history, conditions, args.min_alt)
    rows = suggest(env, policy, when_mjd, args.n, policy_params=params)
    if args.format == "table":
        b = env.unwrapped
        print(f"{len(rows)} best of {len(catalog)} targets at {mjd_to_iso(when_mjd)}, "
              f"{site.name} ({site.lat_deg:+.4f}, {site.lon_deg:+.4f}, {site.height_m:.0f} m), "
              f"policy {policy}")
        print(f"night of {b.night_date}: Sun below {b.config.sun_alt_max_deg:g} deg "
              f"{mjd_to_iso(b.observatory.night_start_mjd)} to {mjd_to_iso(b.end_mjd)}; "
              f"altitude limit {b.config.alt_min_deg:g} deg; seeing {conditions.seeing_arcsec:g}"
              f"\", transparency {conditions.transparency:g}; slews from the park position")
    print(_render(rows, _SUGGEST_COLS, args.format, reasons=True))
    return 0


def _write_plan(path: Path, result: Any, meta: dict[str, Any]) -> None:
    suffix = path.suffix.lower()
    if suffix == ".json":
        path.write_text(json.dumps({"meta": meta, "visits": result.visits}, indent=1),
                        encoding="utf-8")
        return
    if suffix not in (".ecsv", ".csv"):
        raise ConfigError(f"--out {str(path)!r}: unknown format {path.suffix!r}",
                          "use .ecsv, .json or .csv")
    from astropy.table import Table

    names = list(result.visits[0]) if result.visits else ["start_utc", "target_id"]
    t = Table(rows=[[v[k] for k in names] for v in result.visits] or None, names=names,
              meta=meta if suffix == ".ecsv" else {})
    for k, unit in _PLAN_UNITS.items():
        if k in t.colnames and suffix == ".ecsv":
            t[k].unit = unit
    t.write(path, format="ascii.ecsv" if suffix == ".ecsv" else "ascii.csv", overwrite=True)


def cmd_plan(args: argparse.Namespace) -> int:
    """The whole night's sequence, a visibility chart and an ECSV/JSON of the plan."""
    from steer.envs.night_plan import plan
    from steer.envs.planner import default_policy, mjd_to_iso, open_night, parse_night

    night = parse_night(args.night)
    conditions = _conditions(args)
    out = Path(args.out) if args.out else None
    chart = Path(args.chart) if args.chart else (out.with_suffix(".png") if out else None)
    for p in (out, chart):
        if p is not None and not p.parent.exists():
            raise ConfigError(f"folder {str(p.parent)!r} does not exist", "create it first")
    if out is not None and out.suffix.lower() not in (".ecsv", ".json", ".csv"):
        raise ConfigError(f"--out {str(out)!r}: unknown format {out.suffix!r}",
                          "use .ecsv, .json or .csv")
    catalog, site, history, _ = _inputs(args)
    policy = args.policy or default_policy(history)
    params = _policy_params(args, policy)
    _warm(policy, params)
    env = open_night(catalog, args.catalog, site, night, history, conditions, args.min_alt)
    result = plan(env, policy, policy_params=params)
    b = env.unwrapped
    if not result.visits:
        raise ConfigError(f"no visit fits in the night of {night} at {site.name}: every "
                          "proposal would leave the altitude limit or the night")
    meta = {"night_date": night, "site": site.to_dict(), "policy": policy,
            "night_start_utc": mjd_to_iso(result.night_start_mjd),
            "night_end_utc": mjd_to_iso(result.night_end_mjd),
            "alt_min_deg": b.config.alt_min_deg, "airmass_max": b.config.airmass_max,
            "sun_alt_max_deg": b.config.sun_alt_max_deg, "seeing_arcsec":
            conditions.seeing_arcsec, "transparency": conditions.transparency,
            "catalog": str(args.catalog), "visits": len(result.visits),
            "skipped_proposals": result.skipped, "idle_s": result.idle_s}
    if args.format == "table":
        n_t = len({v["target_id"] for v in result.visits})
        print(f"plan for the night of {night} at {site.name}, policy {policy}: "
              f"{len(result.visits)} visits to {n_t} targets, {meta['night_start_utc']} to "
              f"{meta['night_end_utc']} (Sun below {b.config.sun_alt_max_deg:g} deg), "
              f"altitude limit {b.config.alt_min_deg:g} deg")
    print(_render(result.visits, _PLAN_COLS, args.format))
    if out is not None:
        _write_plan(out, result, meta)
        print(f"wrote {out}", file=sys.stderr)
    if chart is not None:
        from steer.envs.plan_chart import visibility_chart

        visibility_chart(b, result, chart, f"{site.name}, night of {night}: "
                         f"{len(result.visits)} visits ({policy})")
        print(f"wrote {chart}", file=sys.stderr)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("catalog", help="targets: CSV, ECSV, FITS or VOTable with an id and "
                   "ra/dec (degrees or sexagesimal); mag, band, priority optional")
    p.add_argument("--site", default=None, help="observatory name (e.g. lasilla, paranal, "
                   "lapalma, maunakea, kittpeak) or a site .toml file")
    p.add_argument("--lat", type=float, default=None, help="site latitude, deg north")
    p.add_argument("--lon", type=float, default=None, help="site longitude, deg east")
    p.add_argument("--height", type=float, default=None, help="site height, m")
    p.add_argument("--policy", default=None, help="feature, bo, greedy, round-robin, random, "
                   "rl (default: bo when the history has a target seen twice, else feature)")
    p.add_argument("--history", default=None, help="past visits: a steer runs folder, or a "
                   "CSV/ECSV of target_id, mjd, mag, mag_err[, band]")
    p.add_argument("--seeing", type=float, default=1.0,
                   help="assumed zenith seeing, arcsec (default 1.0)")
    p.add_argument("--transparency", type=float, default=1.0,
                   help="assumed cloud transmission in (0, 1] (default 1)")
    p.add_argument("--min-alt", type=float, default=None,
                   help="altitude limit, deg (default: the site's, else 30)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.add_argument("--model", default=None, metavar="MODEL_URI",
                   help="with --policy rl: runs:/<id>/model printed by steer train, or its folder")
    p.add_argument("--runs-dir", default="runs",
                   help="where runs:/ models are looked up and kept (default: runs)")
    p.add_argument("--tracking-uri", default=None, help="MLflow tracking URI of --model's run")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``suggest`` and ``plan`` to the CLI's subparsers."""
    s = subparsers.add_parser("suggest", help="the best targets to observe now (or at --time)")
    _common(s)
    s.add_argument("--time", default="now", help="ISO 8601 UTC time, or now (default)")
    s.add_argument("--n", type=int, default=10, help="how many targets (default 10)")
    s.set_defaults(func=cmd_suggest)
    p = subparsers.add_parser("plan", help="the whole night's sequence, with a visibility chart")
    _common(p)
    p.add_argument("--night", required=True, help="local date of the evening, YYYY-MM-DD")
    p.add_argument("--out", default=None, help="write the plan: .ecsv, .json or .csv (and the "
                   "chart beside it as .png)")
    p.add_argument("--chart", default=None, help="visibility chart PNG (default: --out with .png)")
    p.set_defaults(func=cmd_plan)
