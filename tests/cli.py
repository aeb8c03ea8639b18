"""Running the ``steer`` command as users do: a new process, no inherited tracking store."""

import os
import subprocess
import sys


def steer_cli(*args: str, cwd, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m steer.cli ARGS`` in ``cwd`` (MLflow telemetry off, no $MLFLOW_TRACKING_URI)."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, "-m", "steer.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
