"""MLflowSink, run loading and listing against a real SQLite MLflow store."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest

from steer.errors import TrackingError
from steer.records import DecisionRecord, Journal
from steer.runs import list_runs, load_logged_run
from steer.store import default_runs_dir, resolve_tracking_uri, sqlite_db_path
from steer.tracking import MLflowSink

CONFIG_TOML = """\
[experiment]
name = "test-night"
env = "steer/TargetSelection-v0"
policy = "feature"
seed = 7

[env]
preset = "small-robotic"
night_date = "2026-03-20"
"""

START_MJD = 61119.95  # 2026-03-20, evening at a Chilean site


def make_records(n_steps: int = 26, run_id: str = "night-test") -> list[DecisionRecord]:
    """A realistic night: executed visits, refused proposals with a retry, a cloudy visit.

    Every 6th step first proposes a target below the altitude limit (rejected,
    attempt 0) and then executes another one (attempt 1); one visit is clouded
    out (``value_mag`` NaN); the last decision has no timings.
    """
    records: list[DecisionRecord] = []
    mjd, wall = START_MJD, 1_795_000_000.0
    for step in range(n_steps):
        attempts = ["rejected", "ok"] if step % 6 == 3 else ["ok"]
        for attempt, status in enumerate(attempts):
            target = (step * 37 + attempt * 11) % 150
            exptime_s = [30.0, 60.0, 120.0][step % 3]
            alt_deg = 12.0 if status == "rejected" else 30.0 + 2.2 * ((step * 7) % 25)
            az_deg = (step * 47.0 + attempt * 90.0) % 360.0
            runners = [{"target_id": f"T{(target + k) % 150:04d}",
                        "target_index": (target + k) % 150, "exptime_s": exptime_s,
                        "score": 0.9 - 0.1 * k} for k in range(1, 6)]
            proposal = {"action": {"target_index": target, "exptime_s": exptime_s,
                                   "target_id": f"T{target:04d}"},
                        "score": 1.0 - 0.01 * step,
                        "explanation": {"rank": 0, "runners_up": runners, "alt_deg": alt_deg,
                                        "az_deg": az_deg, "fit_s": 0.002}}
            measurement: dict[str, Any] | None = None
            reward = 0.0
            if status == "ok":
                cloudy = step == 10
                seeing = 0.8 + 0.03 * step
                transparency = 0.15 if cloudy else 0.95 - 0.01 * step
                measurement = {
                    "value_mag": math.nan if cloudy else 17.0 + 0.05 * target,
                    "error_mag": 0.02 + 0.001 * step, "mjd_mid": mjd + exptime_s / 2 / 86400.0,
                    "exptime_s": exptime_s,
                    "conditions": {"seeing_fwhm_arcsec": seeing, "transparency": transparency,
                                   "airmass": 1.0 / math.sin(math.radians(alt_deg)),
                                   "alt_deg": alt_deg, "az_deg": az_deg,
                                   "m5_mag": 21.5 - 0.02 * step},
                    "overheads_s": {"slew": 20.0 + step, "settle": 5.0, "exposure": exptime_s,
                                    "readout": 8.0},
                    "saturated": False}
                reward = 0.0 if cloudy else 0.5 + 0.01 * target
            timings = {} if step == n_steps - 1 else {"suggest": 0.004 + 0.0002 * step,
                                                      "check": 1e-4, "execute": 0.01}
            records.append(DecisionRecord(
                run_id=run_id, step=step, attempt=attempt, status=status, seed=7,
                policy="feature", policy_version="1.0", sim_mjd=mjd, wall_time_unix=wall,
                observation={"night_frac": step / n_steps, "n_feasible": 120 - step},
                proposal=proposal,
                safety={"allowed": status != "rejected",
                        "reason": "altitude 12.0 deg below limit 20.0 deg"
                        if status == "rejected" else ""},
                measurement=measurement, reward=reward, timings_s=timings))
            wall += 1.5
            if status == "ok":
                mjd += (exptime_s + 45.0 + step) / 86400.0
    return records


def log_night(tmp: Path, records: list[DecisionRecord], run_name: str = "feature-seed7",
              experiment: str = "test-night", figures: bool = True) -> tuple[str, str]:
    """Log a night the way the loop does; return (tracking_uri, run_id)."""
    from steer.envs.night_figures import night_figures

    uri = resolve_tracking_uri(None, tmp / "runs")
    config = tmp / "experiment.toml"
    config.write_text(CONFIG_TOML, encoding="utf-8")
    journal_path = tmp / "runs" / run_name / "decisions.jsonl"
    journal = Journal(journal_path)
    from steer.session import presenter_for

    sink = MLflowSink(uri, experiment, run_name,
                      {"seed": 7, "policy": "feature", "env_id": "steer/TargetSelection-v0",
                       "env": {"preset": "small-robotic", "n_targets": 150}},
                      tags={"steer.kind": "test"}, batch_size=8,
                      presenter=presenter_for("steer/TargetSelection-v0"))
    for r in records:
        journal.write(r)
        sink.write(r)
    journal.close()
    figs = night_figures(records, title=run_name) if figures else None
    sink.finish({"science_score": 12.5, "n_visits": float(len(records)), "broken": math.nan},
                artifacts={"config.toml": config, "decisions.jsonl": journal_path},
                figures=figs, records=records)
    sink.close()  # idempotent after finish
    return uri, sink.run_id


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("tracking")
    records = make_records()
    uri, run_id = log_night(tmp, records)
    from mlflow.tracking import MlflowClient

    return {"tmp": tmp, "uri": uri, "run_id": run_id, "records": records,
            "client": MlflowClient(tracking_uri=uri)}


def test_run_finished_with_params_and_versions(night: dict[str, Any]) -> None:
    run = night["client"].get_run(night["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "feature-seed7"
    params = run.data.params
    assert params["seed"] == "7" and params["policy"] == "feature"
    assert params["env.preset"] == "small-robotic" and params["env.n_targets"] == "150"
    for pkg in ("steer", "numpy", "mlflow"):
        assert params[f"versions.{pkg}"], pkg
    assert run.data.tags["steer.kind"] == "test"


def test_one_metric_point_per_record(night: dict[str, Any]) -> None:
    client, run_id, records = night["client"], night["run_id"], night["records"]
    reward = client.get_metric_history(run_id, "reward")
    assert len(reward) == len(records)
    assert sorted(m.step for m in reward) == sorted(r.step for r in records)
    cumulative = sorted(client.get_metric_history(run_id, "cumulative_reward"),
                        key=lambda m: (m.step, m.value))
    assert cumulative[-1].value == pytest.approx(sum(r.reward for r in records))
    rejected = client.get_metric_history(run_id, "rejected")
    assert sum(m.value for m in rejected) == sum(r.status == "rejected" for r in records)
    executed = [r for r in records if r.measurement]
    assert len(client.get_metric_history(run_id, "airmass")) == len(executed)
    slew = {m.step: m.value for m in client.get_metric_history(run_id, "slew_s")}
    assert slew[0] == pytest.approx(25.0)
    # The last record has no timings: no decision_ms point, and no NaN anywhere.
    assert len(client.get_metric_history(run_id, "decision_ms")) == len(records) - 1
    run = client.get_run(run_id)
    assert run.data.metrics["science_score"] == pytest.approx(12.5)
    assert "broken" not in run.data.metrics


def test_step_rows_keep_only_the_keys_asked_for() -> None:
    """What compare's workers compute (a subset of keys) is the same rows as all keys
    filtered: same values, steps, timestamps and the running cumulative reward."""
    from steer.session import presenter_for
    from steer.tracking import COMPARE_STEP_METRICS, StepRows

    records, presenter = make_records(), presenter_for("steer/TargetSelection-v0")
    every = StepRows(presenter).all_rows(records)
    some = StepRows(presenter, COMPARE_STEP_METRICS).all_rows(records)
    assert {k for k, *_ in every} > set(COMPARE_STEP_METRICS) == {k for k, *_ in some}
    assert some == [row for row in every if row[0] in COMPARE_STEP_METRICS]


def test_artifacts_under_the_run_folder(night: dict[str, Any]) -> None:
    client, run_id, tmp = night["client"], night["run_id"], night["tmp"]
    names = {f.path for f in client.list_artifacts(run_id)}
    assert {"decisions.json", "decisions.jsonl", "config.toml", "plots"} <= names
    plots = {f.path for f in client.list_artifacts(run_id, "plots")}
    assert {"plots/sky.png", "plots/timeline.png", "plots/cumulative_reward.png",
            "plots/conditions.png"} <= plots
    run = client.get_run(run_id)
    assert run.info.artifact_uri.startswith((tmp / "runs" / "artifacts").as_uri())
    table = json.loads(Path(client.download_artifacts(run_id, "decisions.json",
                                                      str(tmp))).read_text())
    assert len(table["data"]) == len(night["records"])
    cols = table["columns"]
    for col in ("step", "attempt", "status", "target_id", "exptime_s", "reward", "airmass",
                "seeing_fwhm_arcsec", "m5_mag", "decision_ms", "reason", "runners_up"):
        assert col in cols, col
    rows = [dict(zip(cols, row, strict=True)) for row in table["data"]]
    rejected = [r for r in rows if r["status"] == "rejected"]
    assert rejected and "altitude" in rejected[0]["reason"] and rejected[0]["airmass"] is None
    assert json.loads(rows[0]["runners_up"])[0]["target_index"] == 1


def test_load_logged_run_round_trips(night: dict[str, Any]) -> None:
    loaded = load_logged_run(night["run_id"], night["uri"])
    assert loaded.seed == 7 and loaded.policy == "feature"
    assert loaded.config_text == CONFIG_TOML
    assert loaded.params["env.preset"] == "small-robotic"
    assert [r.to_dict() for r in loaded.records] == [r.to_dict() for r in night["records"]]
    clean = [r for r in night["records"] if r.step != 10]  # no NaN: plain equality holds
    assert [r for r in loaded.records if r.step != 10] == clean


def test_list_runs(night: dict[str, Any]) -> None:
    runs = list_runs(night["uri"])
    mine = [r for r in runs if r["run_id"] == night["run_id"]]
    assert len(mine) == 1
    row = mine[0]
    assert row["experiment"] == "test-night" and row["run_name"] == "feature-seed7"
    assert row["status"] == "FINISHED" and row["policy"] == "feature" and row["seed"] == 7
    assert row["key_metric"] == "science_score"  # the night presenter's headline metric
    assert row["key_value"] == pytest.approx(12.5) and row["start_time"].endswith("Z")
    assert list_runs(night["uri"], "test-night")[0]["run_id"] == night["run_id"]
    with pytest.raises(TrackingError, match="no-such-experiment"):
        list_runs(night["uri"], "no-such-experiment")


def test_unknown_run_id(night: dict[str, Any]) -> None:
    with pytest.raises(TrackingError, match="0123456789abcdef") as info:
        load_logged_run("0123456789abcdef0123456789abcdef", night["uri"])
    assert "steer runs" in (info.value.hint or "")


def test_close_without_finish_fails_run_and_sinks_coexist(night: dict[str, Any]) -> None:
    records = make_records(n_steps=5)
    a = MLflowSink(night["uri"], "test-night", "crashed", {"seed": 1, "policy": "a"}, batch_size=3)
    b = MLflowSink(night["uri"], "other-experiment", "parallel", {"seed": 2, "policy": "b"})
    for r in records:  # interleaved: no global active run
        a.write(r)
        b.write(r)
    a.close()
    a.close()
    b.finish({"science_score": 1.0})
    client = night["client"]
    assert client.get_run(a.run_id).info.status == "FAILED"
    assert client.get_run(b.run_id).info.status == "FINISHED"
    assert len(client.get_metric_history(a.run_id, "reward")) == len(records)
    assert len(client.get_metric_history(b.run_id, "reward")) == len(records)
    with pytest.raises(TrackingError, match="closed"):
        a.write(records[0])


def test_nan_params_and_long_values(night: dict[str, Any]) -> None:
    rec = make_records(n_steps=1)[0]
    bad = dataclasses.replace(rec, reward=math.nan, measurement={
        **rec.measurement, "exptime_s": None, "conditions": {"airmass": math.inf}})
    sink = MLflowSink(night["uri"], "test-night", "odd", {"seed": 3, "policy": "x",
                                                          "long": "y" * 10_000,
                                                          "list": [1, 2, 3]})
    sink.write(bad)
    sink.finish({"science_score": math.nan}, status="KILLED")
    client = night["client"]
    run = client.get_run(sink.run_id)
    assert run.info.status == "KILLED"
    assert len(run.data.params["long"]) == 6000 and run.data.params["list"] == "[1, 2, 3]"
    assert client.get_metric_history(sink.run_id, "reward") == []
    assert client.get_metric_history(sink.run_id, "airmass") == []
    assert [m.value for m in client.get_metric_history(sink.run_id, "rejected")] == [0.0]
    with pytest.raises(TrackingError, match="RUNNING"):
        MLflowSink(night["uri"], "test-night", "s", {}).finish({}, status="RUNNING")


def test_missing_artifact_file_fails_the_run(night: dict[str, Any], tmp_path: Path) -> None:
    sink = MLflowSink(night["uri"], "test-night", "missing-artifact", {"seed": 0})
    with pytest.raises(TrackingError, match="nope.toml"):
        sink.finish({}, artifacts={"config.toml": tmp_path / "nope.toml"})
    assert night["client"].get_run(sink.run_id).info.status == "FAILED"


def test_unwritable_runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(TrackingError, match="a-file") as info:
        resolve_tracking_uri(None, blocker / "runs")
    assert "--tracking-uri" in (info.value.hint or "")
    with pytest.raises(TrackingError, match="a-file"):
        MLflowSink(f"sqlite:///{blocker / 'runs' / 'mlflow.db'}", "x", "y", {})


def test_resolve_tracking_uri_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert resolve_tracking_uri("sqlite:////explicit/mlflow.db", tmp_path) == (
        "sqlite:////explicit/mlflow.db")
    assert resolve_tracking_uri(None, tmp_path / "unused") == "http://127.0.0.1:5999"
    assert not (tmp_path / "unused").exists()
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    uri = resolve_tracking_uri(None, tmp_path / "runs")
    assert uri == f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    assert (tmp_path / "runs").is_dir()
    assert sqlite_db_path(uri) == tmp_path / "runs" / "mlflow.db"
    monkeypatch.chdir(tmp_path)
    assert default_runs_dir() == tmp_path / "runs"


_OPEN_AND_LOG = """
import sys, time
from steer.tracking import MLflowSink
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))  # every process opens the new store at once
sink = MLflowSink(sys.argv[1], f"exp-{sys.argv[3]}", f"run-{sys.argv[3]}", {"k": 1})
sink.finish({"x": 1.0})
"""


def test_commands_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    """Four processes opening one new SQLite store at the same instant (MLflow creates its
    tables on first use: unserialised, all but one failed with 'table ... already exists')."""
    import os
    import subprocess
    import sys
    import time

    uri = resolve_tracking_uri(None, tmp_path / "runs")
    start = time.time() + 6.0  # after every interpreter has imported MLflow
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    procs = [subprocess.Popen([sys.executable, "-c", _OPEN_AND_LOG, uri, str(start), str(k)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-600:] for _, err in outs]
    assert sorted(r["run_name"] for r in list_runs(uri)) == [f"run-{k}" for k in range(4)]
