"""Running the ``steer`` command as users do: a new process, no inherited tracking store."""

import os
import subprocess
import sys


def _env() -> dict[str, str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def steer_cli(*args: str, cwd, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m steer.cli ARGS`` in ``cwd`` (MLflow telemetry off, no $MLFLOW_TRACKING_URI)."""
    return subprocess.run([sys.executable, "-m", "steer.cli", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def steer_started(*args: str, cwd) -> subprocess.Popen:
    """The same, started and left running (pipes for stdout and stderr) to be signalled.

    Its own session, like a command run from a shell: SIGINT sent to it reaches it alone.
    """
    return subprocess.Popen([sys.executable, "-m", "steer.cli", *args], cwd=cwd, env=_env(),
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
