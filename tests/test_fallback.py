"""A policy whose suggest hangs gives way to the fallback for that decision, recorded as such."""

from __future__ import annotations

import time

import pytest

from steer.callbacks import LoopCallback
from steer.config import parse_experiment
from steer.envs.testing import TINY_EXPERIMENT, tiny_config
from steer.errors import ConfigError
from steer.fallback import TimedPolicy
from steer.loop import run_episode
from steer.policies.baselines import FeaturePolicy, RoundRobinPolicy
from steer.session import build_policy, make_env
from steer.testing import ListSink


class HangsOnce(RoundRobinPolicy):
    """Round-robin whose third suggest hangs for 1.5 s (a stuck fit); counts what it learns."""

    name = "hangs-once"

    def _reset(self) -> None:
        self.calls, self.ingested = 0, 0

    def _suggest(self, observation, info, n):
        self.calls += 1
        if self.calls == 3:
            time.sleep(1.5)
        return super()._suggest(observation, info, n)

    def _ingest(self, action, measurement, reward) -> None:
        self.ingested += measurement is not None


class Slow(LoopCallback):
    def on_decision(self, record) -> None:
        time.sleep(0.25)  # an exposure's worth of wall time, compressed


def test_a_hung_suggest_falls_back_for_that_decision_then_the_policy_returns() -> None:
    primary = HangsOnce()
    policy = TimedPolicy(primary, FeaturePolicy(), budget_s=0.3)
    sink = ListSink()
    run_episode(make_env(tiny_config()), policy, 1, [sink], "t", max_decisions=12,
                callbacks=[Slow()])
    who = [r.decided_by for r in sink.records if r.status == "ok"]
    assert who[:2] == ["policy", "policy"] and who[2] == "fallback"
    late = sink.records[2].proposal["explanation"]
    assert "did not answer within 0.3 s" in late["reason"] and late["fallback"] == "feature"
    assert "fallback" in who[3:] and who[-1] == "policy"  # busy, then back once it answered
    assert policy.timeouts == 1
    # the primary learned every measurement, including those made while it was stuck
    assert primary.ingested == len([r for r in sink.records if r.status == "ok"])


def test_loop_settings_build_the_timed_policy_and_refuse_half_settings() -> None:
    config = tiny_config("\n[loop]\nsuggest_timeout_s = 2.5\nfallback_policy = \"greedy\"\n")
    policy = build_policy(config, "feature")
    assert isinstance(policy, TimedPolicy) and policy.fallback.name == "greedy"
    with pytest.raises(ConfigError, match="set both"):
        parse_experiment(TINY_EXPERIMENT + "\n[loop]\nsuggest_timeout_s = 2.5\n", "<t>")
