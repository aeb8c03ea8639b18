"""The night report's sky shows the clouds the night had (from the env's extras)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from steer.envs.night_report import sky_section
from steer.envs.testing import tiny_config
from steer.session import play


def test_sky_view_moves_the_clouds_with_the_slider(tmp_path: Path) -> None:
    base = tiny_config()
    config = replace(base, env_kwargs={**base.env_kwargs, "cloudiness": 0.45,
                                       "max_night_hours": 3.0})
    result = play(config, "feature", 1, tmp_path)
    assert sum(r.status == "ok" for r in result.episode.records) > 5
    clouds = result.extras["cloud_map"]
    ext = np.asarray(clouds["extinction_mag"], float)
    assert ext.shape == (len(clouds["mjd"]), len(clouds["alt_deg"])) and (ext > 0.3).any()
    fig = sky_section(result.episode.records, result.extras).figures[0][1]
    (k,) = [i for i, t in enumerate(fig.data) if t.name == "cloud > 0.3 mag"]
    steps = fig.layout.sliders[0].steps
    shown = [len(s.args[0]["r"][-1]) for s in steps]
    assert k in steps[0].args[1] and max(shown) > 0  # cloudy points at some slider times
    assert len(set(shown)) > 1  # and they change through the night
