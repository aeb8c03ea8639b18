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


# ``python -m steer.cli`` with Ctrl-C as a foreground command gets it: a process started
# from a shell's background job (``make test &`` in a script) inherits SIGINT ignored, and
# Python then never raises KeyboardInterrupt; a command a user types does not
_AS_FOREGROUND = ("import runpy, signal, sys; signal.signal(signal.SIGINT, "
                  "signal.default_int_handler); sys.argv[0] = 'steer'; "
                  "runpy.run_module('steer.cli', run_name='__main__', alter_sys=True)")


def steer_started(*args: str, cwd) -> subprocess.Popen:
    """The same, started and left running (pipes for stdout and stderr) to be signalled.

    Its own session, like a command run from a shell: SIGINT sent to it reaches it alone,
    and SIGINT is handled as in a command typed at a terminal, whatever the test run's own
    disposition.
    """
    return subprocess.Popen([sys.executable, "-c", _AS_FOREGROUND, *args], cwd=cwd,
                            env=_env(), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
