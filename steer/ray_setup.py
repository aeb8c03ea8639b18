"""Ray as steer starts or joins it: the embedded local Ray on loopback, or a cluster.

The embedded Ray (no address) listens on 127.0.0.1 only, its workers get one
thread each and keep their temporary folders inside its own (removed at
shutdown); ``address`` joins an existing cluster (``ray start``), checked
first so that a wrong address fails in a second instead of Ray retrying it
for minutes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from steer.errors import SteerError

__all__ = ["EMBEDDED_TMP", "check_ray_address", "init_ray", "loopback_cluster", "shutdown_ray"]


def _loopback_only() -> None:
    """Make the embedded Ray's node address 127.0.0.1, so that it listens on loopback only.

    Ray takes the machine's address as the node's (``ray.init(_node_ip_address=
    "127.0.0.1")`` is turned back into it), and its GCS, raylet, workers and
    agents then listen on every interface. With single-machine mode, the
    setting Ray documents for macOS and Windows
    (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``), the node's address is loopback
    and every one of them binds 127.0.0.1. It is read when Ray is imported:
    set both the variable (for the processes Ray starts) and, if Ray is
    already imported, the constant it was read into.
    """
    _ENV_BEFORE.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER",
                           os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"))
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if "ray" in sys.modules:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False


EMBEDDED_TMP: list[str] = []  # the embedded Ray's session folder, removed at shutdown
_ENV_BEFORE: dict[str, str | None] = {}  # variables set for the embedded Ray, restored after


def _restore_env() -> None:
    """Put back the variables set for the embedded Ray (a later `ray start` in this
    process's children must not inherit single-machine mode)."""
    for name, value in _ENV_BEFORE.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _ENV_BEFORE.clear()


def shutdown_ray(ray: Any) -> None:
    """Stop Ray; remove the embedded Ray's temporary folder (a cluster's is its own)."""
    ray.shutdown()
    _restore_env()
    while EMBEDDED_TMP:
        shutil.rmtree(EMBEDDED_TMP.pop(), ignore_errors=True)


# Ray's unix sockets live in <temp>/session_<date>_<time>_<pid>/sockets/plasma_store,
# which must fit in 107 bytes: 62 of them are Ray's, 19 the folder's name
_RAY_SOCKET_SUFFIX = 62 + 19


def _ray_temp_dir() -> str:
    """A new folder for the embedded Ray: in the temporary folder, or in /tmp when the
    temporary folder's path is too long for Ray's unix sockets."""
    base = tempfile.gettempdir()
    if len(base) + _RAY_SOCKET_SUFFIX > 107 and os.path.isdir("/tmp"):
        base = "/tmp"
    return tempfile.mkdtemp(prefix="steer-ray-", dir=base)


def check_ray_address(address: str | None, timeout_s: float = 3.0) -> None:
    """Fail fast if nothing listens at a Ray cluster's ``HOST:PORT`` (or ``ray://HOST:PORT``).

    Ray itself retries a wrong address for minutes, printing C++ warnings.
    ``None`` (the embedded Ray) and ``auto`` are not checked.

    Raises:
        SteerError: The address is malformed or nothing answers there.
    """
    import socket

    if not address or address == "auto":
        return
    hint = ("start the cluster first (`ray start --head` prints its address), fix --address, "
            "or omit it for a local Ray")
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise SteerError(f"--address {address!r} is not HOST:PORT", hint)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise SteerError(f"nothing answers at the Ray address {address!r} "
                         f"({exc.strerror or exc})", hint) from exc


def _reload_ray_config() -> None:
    """Make an imported Ray read ``RAY_AUTH_MODE`` again (it caches its config)."""
    if "ray" in sys.modules:
        from ray._raylet import Config

        Config.initialize("")


def init_ray(address: str | None, workers: int | None = None) -> Any:
    if address and "RAY_AUTH_MODE" not in os.environ and (
            Path.home() / ".ray" / "auth_token").is_file():
        # Ray 2.60 clusters use token authentication with the token in ~/.ray/auth_token,
        # but ray.init(address=HOST:PORT) only sends it when token mode is on (address
        # "auto" turns it on by itself): turn it on, before Ray reads its config.
        os.environ["RAY_AUTH_MODE"] = "token"
        _reload_ray_config()
    check_ray_address(address)
    if not address:
        _loopback_only()
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    env_vars = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0",
                "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if address:
        kwargs["address"] = address
        kwargs["runtime_env"] = {"env_vars": env_vars}  # a cluster's workers: set per job
    else:
        # The embedded Ray's workers inherit the raylet's environment, which is ours: set
        # the variables here (restored at shutdown) instead of in a runtime_env, so the
        # workers Ray prestarts serve the first tasks (a runtime_env makes Ray start new
        # ones: about 2 s of every `steer compare`).
        EMBEDDED_TMP[:] = [_ray_temp_dir()]
        # the workers' temporary folders go inside Ray's, removed at shutdown: a worker
        # killed mid-episode leaves nothing behind
        env_vars["TMPDIR"] = EMBEDDED_TMP[0]
        if "RAY_AUTH_MODE" not in os.environ:
            # token authentication, as Ray turns on for a new local cluster by default, but
            # asked for: Ray then does not print its notice on every command
            env_vars["RAY_AUTH_MODE"] = "token"
        for name, value in env_vars.items():
            _ENV_BEFORE.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        if "RAY_AUTH_MODE" in env_vars:
            _reload_ray_config()
        kwargs.update(num_cpus=workers or os.cpu_count() or 2, include_dashboard=False,
                      _temp_dir=EMBEDDED_TMP[0])
    try:
        ray.init(**kwargs)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        _restore_env()
        raise SteerError(f"cannot start or join Ray (address={address!r}): {exc}",
                         "omit --address for a local Ray, or pass a running cluster's "
                         "address such as ray://HOST:10001") from exc
    return ray


@contextlib.contextmanager
def loopback_cluster(env: dict[str, str], head_cpus: int = 1, worker_nodes: int = 0,
                     port: int = 6399) -> Iterator[dict[str, Any]]:
    """A ``ray start`` cluster in a network namespace of its own, where only loopback
    exists (for tests and benchmarks; needs root and iproute2).

    A head node with ``head_cpus`` CPUs and ``worker_nodes`` more nodes of one CPU,
    token authentication on; the workers' temporary folders go in the cluster's
    folder. On exit every process of the namespace is killed by its PID, the
    namespace deleted and the folder removed.

    Args:
        env: The environment ``ray start`` runs with.

    Yields:
        ``{"ns": name, "inside": command prefix that runs in the namespace,
        "address": "127.0.0.1:PORT"}``.
    """
    ns = f"steer-ray-{os.getpid()}"
    inside = ["ip", "netns", "exec", ns]
    ray_bin = str(Path(sys.executable).parent / "ray")
    temp = tempfile.mkdtemp(prefix="sr-", dir="/tmp")  # short: Ray's unix sockets live here
    cluster_env = {**env, "RAY_AUTH_MODE": "token", "TMPDIR": temp}
    address = f"127.0.0.1:{port}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run([*inside, "ip", "link", "set", "lo", "up"], check=True)
        subprocess.run([*inside, ray_bin, "start", "--head", f"--port={port}",
                        f"--num-cpus={head_cpus}", "--include-dashboard=false",
                        f"--temp-dir={temp}"], check=True, env=cluster_env,
                       capture_output=True, timeout=120)
        for _ in range(worker_nodes):
            subprocess.run([*inside, ray_bin, "start", f"--address={address}", "--num-cpus=1"],
                           check=True, env=cluster_env, capture_output=True, timeout=120)
        yield {"ns": ns, "inside": inside, "address": address}
    finally:
        for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                  text=True).stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(temp, ignore_errors=True)
