"""``steer run/compare --nights N`` as users run them: a campaign run in MLflow (real
sqlite store) with a child run per night, journals on disk, and a real embedded Ray."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steer.envs.testing import TINY_EXPERIMENT
from tests.cli import steer_cli


def _experiment(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_EXPERIMENT + extra, encoding="utf-8")
    return path


def _children(client, experiment_id: str, parent_id: str) -> list:
    runs = client.search_runs([experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")
    return sorted(runs, key=lambda r: int(r.data.tags["steer.night"]))


def test_run_nights_logs_a_campaign_with_a_child_run_per_night(tmp_path):
    from mlflow.tracking import MlflowClient

    exp = _experiment(tmp_path, "\n[campaign]\nnights = 5\n")
    out = steer_cli("run", str(exp), "--nights", "2", cwd=tmp_path)  # --nights wins
    assert out.returncode == 0, out.stderr
    parent_id = out.stdout.split("MLflow campaign run id: ")[1].split()[0]
    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["steer.nights"] == "2"
    kids = _children(client, parent.info.experiment_id, parent_id)
    assert [r.data.tags["steer.night"] for r in kids] == ["0", "1"]
    for k, kid in enumerate(kids):
        assert kid.info.status == "FINISHED" and kid.data.params["night"] == str(k)
        journal = tmp_path / "runs" / "journals" / f"{kid.info.run_id}.jsonl"
        lines = journal.read_text().splitlines()
        assert len(lines) == int(kid.data.metrics["decisions"]) > 0
        assert json.loads(lines[0])["run_id"] == kid.info.run_id
    hist = client.get_metric_history(parent_id, "night.visits")
    assert sorted(m.step for m in hist) == [0, 1]
    assert parent.data.metrics["visits"] == sum(m.value for m in hist)
    assert parent.data.metrics["campaign_nights"] == 2
    path = client.download_artifacts(parent_id, "campaign.json", str(tmp_path / "dl"))
    doc = json.loads(Path(path).read_text())
    assert doc["nights"] == 2 and [n["run_id"] for n in doc["per_night"]] == \
        [r.info.run_id for r in kids]
    # the second night replays identically (the first is re-played for its history)
    rep = steer_cli("replay", kids[1].info.run_id, cwd=tmp_path)
    assert rep.returncode == 0, rep.stdout + rep.stderr
    assert "decisions identical" in rep.stdout and "night 1 of 2" in rep.stdout
    listing = steer_cli("runs", cwd=tmp_path).stdout
    rows = {line.split()[0]: line for line in listing.splitlines()[1:]}
    assert " all 2 " in rows[parent_id] and " 1/2 " in rows[kids[1].info.run_id]


def test_bad_nights_are_refused_before_anything_is_written(tmp_path):
    exp = _experiment(tmp_path)
    for args in (["run", str(exp), "--nights", "0"], ["compare", str(exp), "--policies",
                                                      "feature", "--nights", "-1"]):
        out = steer_cli(*args, cwd=tmp_path)
        assert out.returncode != 0
        assert "--nights" in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    bad = _experiment(tmp_path, "\n[campaign]\nnights = 2\nfirst = 1\n")
    out = steer_cli("run", str(bad), cwd=tmp_path)
    assert out.returncode != 0 and "unknown [campaign] setting 'first'" in out.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_compare_nights_runs_campaigns_on_ray(tmp_path):
    from mlflow.tracking import MlflowClient

    exp = _experiment(tmp_path)
    out = steer_cli("compare", str(exp), "--policies", "feature,greedy", "--seeds", "2",
                    "--nights", "2", "--workers", "2", "--json", "c.json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "2-night campaigns" in out.stdout
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["nights"] == 2
    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    for p in ("feature", "greedy"):
        vals = doc["metrics"][p]["characterised_campaign"]["values"]
        assert len(vals) == 2
        for i, parent_id in enumerate(doc["run_ids"][p]):
            parent = client.get_run(parent_id)
            kids = _children(client, parent.info.experiment_id, parent_id)
            assert [r.info.run_id for r in kids] == doc["night_run_ids"][p][i]
            assert parent.data.metrics["characterised_campaign"] == vals[i]
            assert all((tmp_path / "runs" / "journals" / f"{r.info.run_id}.jsonl").is_file()
                       for r in kids)
    # the same campaign, run alone, decides and scores as in the comparison
    alone = steer_cli("run", str(exp), "--policy", "greedy", "--seed", "2", "--nights", "2",
                      cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    parent_id = alone.stdout.split("MLflow campaign run id: ")[1].split()[0]
    m = client.get_run(parent_id).data.metrics
    assert m["characterised_campaign"] == doc["metrics"]["greedy"]["characterised_campaign"][
        "values"][1]
    assert m["science_score"] == pytest.approx(
        doc["metrics"]["greedy"]["science_score"]["values"][1], rel=1e-12)
