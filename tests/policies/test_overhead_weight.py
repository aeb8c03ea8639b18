"""``bo``'s overhead weight (version 7): a second of slew, settle and filter change costs
as much as ``overhead_weight`` seconds of exposure in its rate."""

from __future__ import annotations

import pytest

from steer.errors import ConfigError


def _night(tmp_path, **bo):
    from steer.envs.testing import tiny_night

    return tiny_night(tmp_path, "bo", 0, **bo)


def test_the_weight_prices_dead_time_says_so_and_makes_longer_visits(tmp_path):
    """A real tiny night by version 7 and by ``overhead_weight = 1`` (version 6): each decision's score is its value over the weighted seconds, which the explanation
    gives with the seconds themselves; the weighted night spends a larger share of its
    time with the shutter open; the decision explorer says how dead time was counted."""
    weighted = _night(tmp_path / "w", amortise_readout=False, period_weight=0)
    plain = _night(tmp_path / "p", overhead_weight=1)
    assert {r.policy_version for r in weighted} == {"7"}
    assert {r.policy_version for r in plain} == {"6"}
    for record in weighted:
        expl = record.proposal["explanation"]
        assert expl["overhead_weight"] == 32
        assert expl["weighted_cost_s"] == pytest.approx(
            expl["cost_s"] + 31 * expl["overhead_s"], rel=1e-9)
        assert "32 x (slew+settle+filter change)+readout+exposure" in expl["acquisition"]
    for record in plain:
        expl = record.proposal["explanation"]
        assert expl["weighted_cost_s"] == pytest.approx(expl["cost_s"], rel=1e-12)
        assert "/ (slew+readout+exposure) s" in expl["acquisition"]

    def shutter_share(records):
        exposed = sum(r.measurement["exptime_s"] for r in records)
        spent = sum(r.measurement["exptime_s"] + sum(r.measurement["overheads_s"].values())
                    for r in records)
        return exposed / spent

    assert shutter_share(weighted) > shutter_share(plain)
    from steer.report_explorer import explorer_data
    from steer.session import presenter_for

    presenter = presenter_for("steer/TargetSelection-v0")
    assert "a second of slew, settle and filter change counted as 32" in explorer_data(
        weighted[:1], presenter)[0]["reason"]
    assert "per second of slew, readout and exposure" in explorer_data(
        plain[:1], presenter)[0]["reason"]


def test_an_earlier_version_is_restored_by_its_settings():
    from steer.policies import make_policy
    from steer.policies.bo import BOPolicy

    for version, settings in BOPolicy.earlier_versions.items():
        assert make_policy("bo", **settings).version == version
    assert make_policy("bo").version == "8"
    assert make_policy("bo", precision_mag=0).version == "5"  # the weight builds on it


@pytest.mark.parametrize(("weight", "words"), [
    (0.5, "overhead_weight = 0.5 is not a number >= 1"),
    ("32", "overhead_weight = '32' is not a number >= 1"),
    (float("nan"), "overhead_weight = nan is not a number >= 1"),
])
def test_a_bad_weight_is_refused_in_one_line(weight, words):
    from steer.policies import make_policy

    with pytest.raises(ConfigError) as err:
        make_policy("bo", overhead_weight=weight)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_version_6_run_replays_as_version_6_with_its_options_on():
    """Replay and --resume of a version 6 night restore ``overhead_weight = 1``, a night
    made with the lookahead on (version "6+lookahead") too; a version no setting
    restores gets the note that its decisions may differ."""
    from types import SimpleNamespace

    from steer.envs.testing import tiny_config
    from steer.runs import as_logged_version

    config = tiny_config("\n[policy.bo]\nlookahead = 4\n")
    made = [SimpleNamespace(policy="bo", policy_version="6+lookahead")]
    restored, note = as_logged_version(config, "bo", made)
    assert restored.policy_params("bo") == {"lookahead": 4, "overhead_weight": 1}
    assert "made by bo version 6+lookahead" in note and "overhead_weight = 1" in note
    plain = tiny_config()
    restored, note = as_logged_version(plain, "bo", [SimpleNamespace(policy="bo",
                                                                     policy_version="6")])
    assert restored.policy_params("bo") == {"overhead_weight": 1}
    unknown = [SimpleNamespace(policy="bo", policy_version="6+precision")]
    restored, note = as_logged_version(plain, "bo", unknown)
    assert restored is plain and "its decisions may differ" in note
