import json
import math
import os
import subprocess
import sys

from steer.records import DecisionRecord, Journal, read_journal


def _rec(step: int, **kw) -> DecisionRecord:
    base = dict(run_id="r", step=step, attempt=0, status="ok", seed=3, policy="feature",
                policy_version="1", sim_mjd=61000.1 + step, wall_time_unix=1.0,
                observation={"mjd": 61000.1, "x": math.nan}, proposal={
                    "action": {"target_index": step, "exptime_s": 30.0, "target_id": "T"},
                    "score": 1.0, "explanation": {}},
                safety={"allowed": True, "reason": ""}, measurement=None, reward=0.5)
    base.update(kw)
    return DecisionRecord(**base)


def test_record_json_is_strict_and_round_trips(tmp_path):
    rec = _rec(0)
    line = rec.to_json()
    data = json.loads(line)
    assert data["observation"]["x"] is None  # NaN is not valid JSON
    back = DecisionRecord.from_dict(data)
    assert back.decision_key == rec.decision_key


def test_journal_survives_a_killed_writer(tmp_path):
    path = tmp_path / "j.jsonl"
    code = (
        "import os, sys\n"
        "from steer.records import Journal, DecisionRecord\n"
        f"sys.path.insert(0, {os.getcwd()!r})\n"
        "from tests.test_records import _rec\n"
        f"j = Journal({str(path)!r})\n"
        "for i in range(5):\n"
        "    j.write(_rec(i))\n"
        "fh = open(j.path, 'a'); fh.write('{\"torn'); fh.flush()\n"
        "os._exit(9)\n"  # no close, no atexit: like a SIGKILL after the writes
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=os.getcwd())
    assert proc.returncode == 9
    recs = list(read_journal(path))
    assert [r.step for r in recs] == [0, 1, 2, 3, 4]


def test_journal_appends(tmp_path):
    j = Journal(tmp_path / "a" / "j.jsonl")
    j.write(_rec(0))
    j.close()
    j = Journal(tmp_path / "a" / "j.jsonl")
    j.write(_rec(1))
    j.close()
    assert [r.step for r in read_journal(tmp_path / "a" / "j.jsonl")] == [0, 1]
