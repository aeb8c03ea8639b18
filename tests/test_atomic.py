"""Whole-or-nothing writes (steer.atomic): used by reports, control files and RL models."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from steer.atomic import replacing, write_text_atomic


def test_a_finished_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "report.html"
    write_text_atomic(path, "first")
    with replacing(path) as tmp:
        assert tmp.parent == path.parent and tmp.suffix == ".html" and tmp != path
        tmp.write_text("second", encoding="utf-8")
        assert path.read_text(encoding="utf-8") == "first"  # not yet replaced
    assert path.read_text(encoding="utf-8") == "second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.html"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_interrupted_write_keeps_the_previous_file(tmp_path: Path,
                                                       error: type[BaseException]) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"previous")
    with pytest.raises(error):
        with replacing(path) as tmp:
            tmp.write_bytes(b"half a fi")
            raise error()
    assert path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]
