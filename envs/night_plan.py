"""``steer plan``'s night: the policy plays it from dusk to dawn, every visit checked.

Each step asks the policy for a few proposals and takes the best whose whole
visit (slew start to readout end) stays within the limits; the policy is told
the magnitude and error the planner predicts, under the stated conditions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steer.envs.planner import _S_PER_DAY, _predictions, make_catalog_policy, mjd_to_iso

__all__ = ["PlanResult", "plan"]

_IDLE_S = 60.0  # clock step when every proposal's visit would break a limit


@dataclass
class PlanResult:
    """A planned night.

    Attributes:
        visits: One dict per visit, in time order.
        night_start_mjd: Dusk (Sun below the limit), UTC MJD.
        night_end_mjd: Dawn, UTC MJD.
        skipped: Proposals refused because their visit would break a limit.
        idle_s: Seconds with no visit that fits.
        policy: Policy id.
    """

    visits: list[dict[str, Any]] = field(default_factory=list)
    night_start_mjd: float = float("nan")
    night_end_mjd: float = float("nan")
    skipped: int = 0
    idle_s: float = 0.0
    policy: str = ""


def _visit_fits(base: Any, i: int, exptime_s: float) -> bool:
    """Whether target ``i`` stays within every limit from slew start to readout end."""
    o, c = base.observatory, base.config
    t0 = o.mjd
    t1 = t0 + (float(o.overhead_s(i)) + exptime_s + c.readout_s + c.shutter_s) / _S_PER_DAY
    if t1 > base.end_mjd:
        return False
    for t in (t0, t1):
        alt = float(o.targets_altaz(t)[0][i])
        x = float(o.airmass(t)[i])
        if not (c.alt_min_deg <= alt <= c.alt_max_deg and x <= c.airmass_max):
            return False
        moon_alt, _ = base.almanac.moon_altaz_deg(t)
        if float(moon_alt) > 0.0 and float(o.moon_sep_deg(t)[i]) < c.moon_min_sep_deg:
            return False
    return True


def _believed(base: Any, proposal: Any, m: Any) -> Any:
    """What the planner tells the policy: predicted magnitude and error, stated conditions."""
    i = proposal.action.target_index
    mag = float(proposal.explanation.get("posterior_mean_mag", base.catalog.mag[i]))
    _, err, sat = _predictions(base, np.array([i]), np.array([m.exptime_s]), mjd=m.mjd_mid)
    value = float("nan") if sat[0] else mag
    cond = {**m.conditions, "transparency": base.conditions.transparency,
            "zenith_seeing_arcsec": base.conditions.seeing_arcsec}
    return dataclasses.replace(m, value_mag=value, error_mag=float(err[0]), conditions=cond,
                               saturated=bool(sat[0]))


def plan(env: Any, policy_name: str, seed: int = 0, candidates: int = 8,
         max_visits: int = 100000, policy_params: dict[str, Any] | None = None) -> PlanResult:
    """Play the night from dusk to dawn and return the sequence of visits.

    Args:
        env: From :func:`~steer.envs.planner.open_night` (reset, clock at dusk).
        policy_name: A catalog policy id.
        seed: Policy seed.
        candidates: Proposals asked per step; the best one whose visit fits is taken.
        max_visits: Safety cap on the number of visits.
        policy_params: The policy's settings (e.g. ``rl``'s ``model``).
    """
    from steer.loop import start_policy

    base = env.unwrapped
    o = base.observatory
    policy = make_catalog_policy(policy_name, **(policy_params or {}))
    obs, info = base.idle(1e-3)
    start_policy(policy, env, seed)
    out = PlanResult(night_start_mjd=o.night_start_mjd, night_end_mjd=base.end_mjd,
                     policy=policy_name)
    cat = base.catalog
    while not base.is_over() and len(out.visits) < max_visits:
        chosen = None
        for p in policy.suggest(obs, info, candidates):
            if _visit_fits(base, p.action.target_index, p.action.exptime_s):
                chosen = p
                break
            out.skipped += 1
        if chosen is None:
            step_s = min(_IDLE_S, (base.end_mjd - o.mjd) * _S_PER_DAY + 1e-3)
            obs, info = base.idle(step_s)
            out.idle_s += step_s
            continue
        i = chosen.action.target_index
        t0 = o.mjd
        obs, _, _, _, info = env.step(base.env_action(chosen.action))
        m = info.get("measurement")
        if m is None:  # refused by the environment's own check
            out.skipped += 1
            continue
        ov = m.overheads_s
        pre = ov["slew"] + ov["settle"] + ov["filter"]
        c = m.conditions
        out.visits.append({
            "start_utc": mjd_to_iso(t0), "target_id": str(cat.target_id[i]),
            "exptime_s": float(m.exptime_s), "alt_deg": float(c["alt_deg"]),
            "az_deg": float(c["az_deg"]), "airmass": float(c["airmass"]),
            "moon_sep_deg": float(c["moon_sep_deg"]), "slew_s": float(pre),
            "exposure_start_utc": mjd_to_iso(t0 + pre / _S_PER_DAY),
            "end_utc": mjd_to_iso(o.mjd), "start_mjd": float(t0), "end_mjd": float(o.mjd),
            "target_index": int(i), "ra_deg": float(cat.ra_deg[i]),
            "dec_deg": float(cat.dec_deg[i]), "priority": float(cat.priority[i]),
            "score": float(chosen.score)})
        policy.ingest(chosen.action, _believed(base, chosen, m), 0.0)
    return out
