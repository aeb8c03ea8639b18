"""Safety under fuzzing: generated actions at every environment and at the INDI driver.

Hypothesis throws at least 10,000 generated actions at each environment
through the real closed loop (out-of-range targets and exposures, NaNs,
infinities, wrong shapes and types, targets below the horizon, a spent
budget) and checks, counted at the driver, that no refused action reaches
the instrument and that every refusal is journaled as ``rejected``. The INDI
driver gets 10,000 more straight at ``execute``: a refused action opens no
connection and sends no command.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steer.callbacks import LoopCallback
from steer.config import parse_experiment
from steer.envs.hooks import PointAction
from steer.envs.pool import PoolAction
from steer.errors import UnsafeActionError
from steer.instruments.telescope import Action
from steer.loop import run_episode
from steer.policies.base import BasePolicy
from steer.session import make_env
from steer.testing import ListSink
from steer.types import Proposal

BATCH = 60  # actions per generated example (one episode each)
CATALOG_BATCH = 200  # a night costs more to score: fewer, longer episodes
EXAMPLES = 300  # examples per environment: 300 x 60 = 18,000 actions generated


def _settings(examples: int = EXAMPLES) -> settings:
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])


FUZZ = _settings()

ENVS = {
    "catalog": """
[experiment]
env = "steer/TargetSelection-v0"
[env]
n_targets = 30
exptimes_s = [30.0, 60.0]
max_night_hours = 0.5
cloudiness = 0.0
""",
    "blackbox": """
[experiment]
env = "steer/BlackBox-v0"
[env]
function = "branin"
budget = 40
""",
    "autofocus": """
[experiment]
env = "steer/Autofocus-v0"
[env]
max_exposures = 40
""",
    "pool": """
[experiment]
env = "steer/CandidatePool-v0"
[env]
function = "branin"
pool_size = 200
budget = 40
infeasible_fraction = 0.3
""",
}

wild_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
junk = st.one_of(st.none(), st.text(max_size=3), st.integers(-10**12, 10**12), wild_float,
                 st.lists(wild_float, max_size=3))


def _actions(kind: str, n_targets: int = 30) -> st.SearchStrategy:
    if kind == "catalog":
        # mostly wrong exposures (so a ranked batch is mostly checked before one passes)
        action = st.builds(Action, st.one_of(st.integers(-3, n_targets + 3),
                                             st.integers(-10**9, 10**9)),
                           st.one_of(st.sampled_from([30.0, 60.0]), *[wild_float] * 9),
                           st.one_of(st.just(""), st.text(max_size=4)))
    elif kind == "pool":
        # mostly outside the pool (so a ranked batch is mostly checked before one passes)
        action = st.builds(PoolAction, st.one_of(st.integers(-5, 205),
                                                 *[st.integers(-10**9, 10**9)] * 8),
                           st.tuples(wild_float))
    else:
        dim = 2 if kind == "blackbox" else 1
        coords = st.lists(st.one_of(st.floats(-0.2, 1.2), wild_float), min_size=dim - 1,
                          max_size=dim + 1).map(tuple)
        action = coords.map(lambda x: PointAction(x, x))
    size = CATALOG_BATCH if kind == "catalog" else BATCH
    return st.lists(st.one_of(action, action, action, junk), min_size=size, max_size=size)


class FuzzPolicy(BasePolicy):
    """Proposes the generated actions in order, then nothing."""

    name = "fuzz"
    drives = ("catalog", "point", "pool")

    def __init__(self, actions: list[Any]) -> None:
        super().__init__()
        self.queue = list(actions)

    def _suggest(self, observation: Any, info: dict[str, Any], n: int) -> list[Proposal]:
        out = [Proposal(_Wrapped(a), 0.0, {"rule": "fuzz"}) for a in self.queue[:n]]
        del self.queue[:n]
        return out


class _Wrapped:
    """Lets the loop record any generated object (junk has no ``to_dict``)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def to_dict(self) -> dict[str, Any]:
        to_dict = getattr(self.inner, "to_dict", None)
        return to_dict() if callable(to_dict) else {"junk": repr(self.inner)}


class DriverSpy(LoopCallback):
    """Counts, at the driver, what reaches the instrument, and every refusal raised."""

    def __init__(self) -> None:
        self.executed = 0  # commands that reached the instrument (env.step / observatory)
        self.refused = 0
        self.checked = 0  # actions the loop put to the safety check

    def on_episode_start(self, env, policy, seed, run_id) -> None:
        base = env.unwrapped
        env_action, check, step = base.env_action, base.check_action, base.step

        def counted_env_action(action: Any) -> Any:
            self.checked += 1
            try:
                return env_action(action.inner if isinstance(action, _Wrapped) else action)
            except UnsafeActionError:
                self.refused += 1
                raise

        def counted_check(action: Any) -> Any:
            try:
                return check(action)
            except UnsafeActionError:
                self.refused += 1
                raise

        def counted_step(action: Any) -> Any:
            self.executed += 1
            return step(action)

        base.env_action, base.check_action, base.step = counted_env_action, counted_check, \
            counted_step


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(ENVS))
def test_generated_actions_never_reach_the_instrument_when_refused(kind: str) -> None:
    totals = {"checked": 0, "refused": 0, "executed": 0, "episodes": 0}

    # a night's env costs ~0.3 s to build: one for every episode (each resets it)
    shared = make_env(parse_experiment(ENVS[kind], f"<{kind}>")) if kind == "catalog" else None

    # 180: the count of checks per example depends on what ran before in the process
    # (9,804 at 140 examples after the whole suite, 15,968 alone: not yet explained)
    @_settings(180 if kind == "catalog" else 2 * EXAMPLES)  # a ranked pool drops more
    @given(actions=_actions(kind))
    def fuzz(actions: list[Any]) -> None:
        env = shared or make_env(parse_experiment(ENVS[kind], f"<{kind}>"))
        spy, sink = DriverSpy(), ListSink()
        policy = FuzzPolicy(actions)
        run_episode(env, policy, 0, [sink], "fuzz", max_rejections_per_step=len(actions),
                    max_decisions=200, callbacks=[spy])
        if shared is None:
            env.close()
        rejected = [r for r in sink.records if r.status == "rejected"]
        ok = [r for r in sink.records if r.status == "ok"]
        # every refusal raised by the checks is journaled, and nothing refused was sent
        assert len(rejected) == spy.refused
        assert spy.executed == len(ok)
        assert all(r.measurement is None and not r.safety["allowed"] for r in rejected)
        totals["checked"] += spy.checked
        totals["episodes"] += 1
        totals["refused"] += spy.refused
        totals["executed"] += spy.executed

    fuzz()
    if shared is not None:
        shared.close()
    print(f"{kind}: {totals}")
    assert totals["checked"] >= 10_000 and totals["refused"] > 5_000


def test_a_closed_dome_refuses_everything() -> None:
    env = make_env(parse_experiment(ENVS["catalog"].replace("cloudiness = 0.0",
                                                            "cloudiness = 0.0\nmax_steps = 10"),
                                    "<dome>"))
    env.reset(seed=0)
    base = env.unwrapped
    base.observatory.weather.cloud_fraction = lambda mjd: 1.0  # overcast: the dome shuts
    for i in range(30):
        with pytest.raises(UnsafeActionError, match="dome"):
            base.check_action(np.array([i, 0]))
    env.close()


@pytest.mark.slow
def test_indi_driver_refuses_generated_actions_without_sending(tmp_path) -> None:
    from steer.instruments.indi.observatory import IndiObservatory
    from steer.instruments.indi.server import free_port
    from steer.instruments.sim import Catalog, SimulatedObservatory, get_preset

    cfg = get_preset("small-robotic")
    from steer.instruments.sim import Almanac

    alm = Almanac.for_night("2026-03-20", cfg.site_lat_deg, cfg.site_lon_deg, cfg.site_height_m,
                            sun_alt_max_deg=cfg.sun_alt_max_deg)
    catalog = Catalog.synthetic(30, np.random.default_rng(0), alm, cfg.site_lat_deg)
    sim = SimulatedObservatory(cfg, catalog, "2026-03-20", 0, cloudiness=0.0, almanac=alm)
    driver = IndiObservatory(sim, port=free_port(), timeout_s=1.0,
                             gsc_state_path=str(tmp_path / "gsc.json"))
    sent: list[Any] = []
    connects: list[Any] = []
    driver.client.send = lambda *a, **k: sent.append(a)  # count every command at the client
    driver.client.connect = lambda *a, **k: connects.append(a)
    counts = {"refused": 0, "valid": 0}

    @_settings(60)  # 60 x 200 = 12,000 actions, each checked at the driver
    @given(actions=_actions("catalog"))
    def fuzz(actions: list[Any]) -> None:
        for action in actions:
            try:
                driver.check(action)
            except (UnsafeActionError, AttributeError, TypeError):
                with pytest.raises((UnsafeActionError, AttributeError, TypeError)):
                    driver.execute(action)
                counts["refused"] += 1
            else:
                counts["valid"] += 1  # a valid action would be sent: not executed here
        assert sent == [] and connects == []

    fuzz()
    print(f"indi driver: {counts}, commands sent {len(sent)}")
    assert counts["refused"] + counts["valid"] >= 10_000 and counts["refused"] > 5_000
    assert math.isfinite(sim.mjd)
