"""What an interrupted comparison says it lost."""

from steer.interrupts import lost_episodes, ranges


def test_ranges_compress_runs_of_seeds():
    assert ranges([3]) == "3"
    assert ranges([1, 2, 4, 5, 6, 9]) == "1-2, 4-6, 9"


def test_the_lost_episodes_are_named_by_policy_and_seed():
    done = {("bo", 0): {}, ("feature", 0): {}, ("feature", 1): {}}
    line = lost_episodes(["bo", "feature"], [0, 1, 2, 3], done, 1)
    assert line.startswith("3 of 8 episodes finished and are logged; 5 did not "
                           "(bo seeds 1-3; feature seeds 2-3)")
    assert "marked FAILED" in line and "not journaled" in line
    camp = lost_episodes(["bo"], [5, 6], {("bo", 5): {}}, 30)
    assert camp.startswith("1 of 2 campaigns finished") and "bo seeds 6" in camp
    every = lost_episodes(["bo"], [5], {("bo", 5): {}}, 1)
    assert every.startswith("all 1 episodes finished") and "summary was not" in every
