"""bo's value to a stated precision: information about the light curve, floored at P^2."""

from __future__ import annotations

import numpy as np
import pytest

from steer.errors import ConfigError
from steer.policies.precision_value import floored_information

FLOOR = 0.005**2


def test_halving_a_large_variance_is_worth_half_log_two_and_one_below_the_precision_nothing():
    """Two targets, one grid point each, a measurement at the grid time with noise equal to
    the variance there (the variance halves): log 2 / 2 nats where the variance is far above
    P^2, almost nothing where it is already below."""
    v = np.array([0.04, 1e-6])  # a variable star's magnitude; a mean known to 0.001 mag
    cov = v.reshape(1, 2, 1, 1)  # t* is the grid time
    info = floored_information(cov, v.reshape(1, 2, 1), v.reshape(2, 1), v.reshape(1, 2, 1),
                               FLOOR)[0, :, 0]
    assert info[0] == pytest.approx(0.5 * np.log((0.04 + FLOOR) / (0.02 + FLOOR)), rel=1e-12)
    assert info[0] == pytest.approx(0.5 * np.log(2.0), rel=2e-3)
    assert info[1] == pytest.approx(0.5 * np.log((1e-6 + FLOOR) / (0.5e-6 + FLOOR)), rel=1e-9)
    assert info[1] < 0.03 * info[0]  # 2.8%: the mean is known beyond the precision


def test_a_smaller_error_is_worth_more_and_the_value_is_the_grid_average():
    """Per exposure (a smaller error) the information grows; uncorrelated grid points add
    nothing but still count in the average."""
    v_star = np.array([[[0.01, 0.01]]])  # `1 x 1 x E`
    noise = np.array([[0.004, 0.001]])  # 30 s and 120 s
    cov = np.zeros((1, 1, 2, 2))
    cov[0, 0, 0, :] = 0.01  # grid point 0 is t*; grid point 1 is far from it
    grid_var = np.array([[[0.01, 0.01]]])
    info = floored_information(cov, v_star, noise, grid_var, FLOOR)[0, 0]
    assert info[1] > info[0] > 0
    alone = floored_information(cov[:, :, :1], v_star, noise, grid_var[:, :, :1], FLOOR)[0, 0]
    np.testing.assert_allclose(info, alone / 2.0, rtol=1e-12)


def _night(tmp_path, **bo):
    from steer.envs.testing import tiny_night

    return tiny_night(tmp_path, "bo", 0, **bo)


def test_bo_with_a_precision_says_so_and_chooses_otherwise(tmp_path):
    """A real tiny night with ``precision_mag = 0.005`` (the default): every decision names
    the value it maximised and the run is version 8 (6 with the overhead weight); the same night by the IPV reduction
    (``precision_mag = 0``, version 5) makes other choices (the setting changes the
    decisions, not only the words)."""
    with_precision = _night(tmp_path / "p")
    by_ipv = _night(tmp_path / "ipv", precision_mag=0)
    assert {r.policy_version for r in by_ipv} == {"5"}
    assert len(with_precision) >= 3
    for record in with_precision:
        expl = record.proposal["explanation"]
        assert record.policy_version == "8"
        assert "information (nats) on the light curve to 0.005 mag" in expl["acquisition"]
        assert expl["expected_information_nats"] >= 0
        assert "expected_ipv_reduction_mag2" not in expl and expl["precision_mag"] == 0.005
    from steer.report_explorer import explorer_data
    from steer.session import presenter_for

    presenter = presenter_for("steer/TargetSelection-v0")
    reason = explorer_data(with_precision[:1], presenter)[0]["reason"]
    assert "expected information on the light curve to 0.005 mag (" in reason
    assert "variance reduction" in explorer_data(by_ipv[:1], presenter)[0]["reason"]
    chosen = [(r.proposal["action"]["target_id"], r.proposal["action"]["exptime_s"])
              for r in with_precision]
    assert chosen != [(r.proposal["action"]["target_id"], r.proposal["action"]["exptime_s"])
                      for r in by_ipv]


@pytest.mark.parametrize(("settings", "words"), [
    ({"precision_mag": -0.01}, "precision_mag = -0.01 is not a magnitude >= 0"),
    ({"precision_mag": "0.01"}, "precision_mag = '0.01' is not a magnitude >= 0"),
    ({"precision_mag": 0.01, "posterior": "botorch", "lengthscales_d": []},
     "precision_mag needs posterior = 'cached'"),
])
def test_a_bad_precision_is_refused_in_one_line(settings, words):
    from steer.policies import make_policy

    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        make_policy("bo", **settings)
