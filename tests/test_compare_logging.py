"""What ``compare``'s driver writes for an episode (the journal, the per-decision metrics
it keeps, the decision table: computed in the Ray worker, only written by the driver) is
what a single ``run`` logs for the same night (real embedded Ray, real MLflow on sqlite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steer.envs.testing import tiny_config
from steer.records import read_journal
from steer.tracking import COMPARE_STEP_METRICS

pytestmark = pytest.mark.slow


def _histories(client, run_id: str) -> dict[str, list[tuple[int, float]]]:
    keys = client.get_run(run_id).data.metrics
    return {k: sorted((m.step, m.value) for m in client.get_metric_history(run_id, k))
            for k in keys}


def _table(client, run_id: str, tmp: Path) -> dict:
    path = client.download_artifacts(run_id, "decisions.json", str(tmp))
    return json.loads(Path(path).read_text())


def _records(path: Path) -> list[tuple]:
    """What a night decided and measured (not its timings or run id)."""
    return [(r.decision_key, r.sim_mjd, r.reward, r.measurement) for r in read_journal(path)]


def test_compare_logs_an_episode_as_a_run_does(tmp_path):
    from mlflow.tracking import MlflowClient

    from steer.runner import compare
    from steer.session import log_to_mlflow, play

    config = tiny_config()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    summary = compare(config, ["feature"], [1], tmp_path / "cmp", uri, workers=1)
    cmp_id = summary["run_ids"]["feature"][0]
    result = play(config, "feature", 1, tmp_path / "run")
    run_id = log_to_mlflow(uri, config, "feature", 1, list(result.episode.records),
                           result.episode.metrics, result.journal_path,
                           extras=result.extras)
    client = MlflowClient(uri)
    a, b = _histories(client, cmp_id), _histories(client, run_id)
    # compare logs per decision only COMPARE_STEP_METRICS (the table has the rest)
    per_decision = {k for k, v in b.items() if len(v) > 1}
    assert {"reward", "airmass", "slew_s"} <= per_decision
    assert set(a) <= set(b) and set(b) - set(a) <= per_decision - set(COMPARE_STEP_METRICS)
    assert "cumulative_reward" in a and "wall_s" in a and "airmass" not in a
    # the rest are summary metrics ("rejected" is also one: compare logs only that point)
    same = {k for k in a if k in COMPARE_STEP_METRICS or k not in per_decision}

    def timed(k: str) -> bool:  # timings differ between two executions
        return k in ("wall_s", "metrics_s") or k.startswith("decision_ms")

    assert len(same) > 10
    assert {k: a[k] for k in same if not timed(k)} == {k: b[k] for k in same if not timed(k)}
    assert [s for s, _ in a["decision_ms"]] == [s for s, _ in b["decision_ms"]]
    ta, tb = _table(client, cmp_id, tmp_path / "ta"), _table(client, run_id, tmp_path / "tb")
    assert ta["columns"] == tb["columns"] and len(ta["data"]) == len(tb["data"]) > 5
    journal = tmp_path / "cmp" / "journals" / f"{cmp_id}.jsonl"
    assert _records(journal) == _records(result.journal_path)
    assert all(r.run_id == cmp_id for r in read_journal(journal))
