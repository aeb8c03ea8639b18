"""Closed loop on a REAL indiserver: steer.session.play with the feature policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("indiserver") is None,
                                 reason="indiserver not installed (apt-get install -y indi-bin)")]

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "indi-sim.toml"


def test_play_ten_decisions_on_indi(tmp_path: Path) -> None:
    from steer.config import parse_experiment
    from steer.session import play

    text = EXPERIMENT.read_text(encoding="utf-8").replace("max_decisions = 25",
                                                          "max_decisions = 10")
    text = text.replace("\nstart_server = true\n",
                        f"\nstart_server = true\nrun_dir = {json.dumps(str(tmp_path / 'srv'))}\n")
    config = parse_experiment(text, str(EXPERIMENT))
    result = play(config, "feature", seed=0, journal_dir=tmp_path)
    lines = result.journal_path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(x) for x in lines]
    assert len(records) == len(result.episode.records)
    ok = [r for r in records if r["status"] == "ok"]
    steps = [r["step"] for r in ok]
    assert steps == list(range(10)), steps  # one executed decision per step, none duplicated
    for r in ok:
        m = r["measurement"]
        assert "transfer" in m["overheads_s"] and m["conditions"]["n_ref_stars"] >= 2
    mags = np.array([r["measurement"]["value_mag"] for r in ok], dtype=float)  # None: NaN
    assert np.isfinite(mags).sum() >= 8
    assert not (tmp_path / "srv" / "server.json").exists()  # the private server was stopped
