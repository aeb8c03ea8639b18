import pytest

from steer.config import load_experiment, parse_experiment
from steer.errors import ConfigError


def test_demo_experiment_loads():
    cfg = load_experiment("experiments/demo.toml")
    assert cfg.name == "demo"
    assert cfg.env_id == "steer/TargetSelection-v0"
    assert cfg.env_kwargs["n_targets"] == 150
    assert cfg.policy_params("bo")["refit_every"] == 25
    assert cfg.policy_params("random") == {}


@pytest.mark.parametrize("text,needle", [
    ("[experiment\nname='x'", "not valid TOML"),
    ("[experiment]\nseed = 'zero'", "experiment.seed = 'zero'"),
    ("[experiment]\nseed = -3", "seed = -3"),
    ("[bogus]\nx = 1", "unknown section"),
    ("[policy]\nbo = 3", "[policy.bo]"),
    ("[experiment]\nenv = 'steer/TargetSelection-v0'\nseeed = 3",
     "unknown [experiment] setting 'seeed'"),
    ("[experiment]\nenv = 'steer/TargetSelection-v0'\n[policy.bo-turbo]\nx = 1",
     "[policy.bo-turbo] names no registered policy"),
    ("[experiment]\nname = 'x'", "names no environment"),
])
def test_malformed_experiments_name_the_value(text, needle):
    with pytest.raises(ConfigError) as err:
        parse_experiment(text, "bad.toml")
    assert needle in str(err.value)
    assert "bad.toml" in str(err.value)


def test_missing_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_experiment("experiments/nope.toml")
