"""Safety drills against alpaca-simulators: rain on the sensor in the middle of a night."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from steer.instruments.alpaca.server import set_simulated_safety

__all__ = ["start_unsafe_drill"]


def start_unsafe_drill(journal_dir: str | Path, server_run_dir: str | Path,
                       after_decisions: int, unsafe_s: float,
                       give_up_s: float = 180.0) -> tuple[threading.Thread, dict[str, float]]:
    """Set the simulated safety monitor unsafe once the night has journaled
    ``after_decisions`` records, for ``unsafe_s`` wall seconds, then safe again.

    Returns:
        The drill's thread (a daemon, already started) and a dict it fills with
        the wall times (``time.time()``) it set ``unsafe`` and ``safe``.
    """
    window: dict[str, float] = {}

    def rain() -> None:
        deadline = time.time() + give_up_s
        while time.time() < deadline:
            files = list(Path(journal_dir).glob("*.jsonl"))
            if files and len(files[0].read_text().splitlines()) >= after_decisions:
                state = json.loads((Path(server_run_dir) / "server.json").read_text())
                set_simulated_safety(state["port"], False)
                window["unsafe"] = time.time()
                time.sleep(unsafe_s)
                window["safe"] = time.time()
                set_simulated_safety(state["port"], True)
                return
            time.sleep(0.05)

    th = threading.Thread(target=rain, daemon=True)
    th.start()
    return th, window
