"""The embedded local Ray listens on loopback only (checked with ``ss -ltnp``) and leaves
no temporary folder behind."""

import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")


def test_embedded_ray_binds_every_server_to_loopback():
    from steer.ray_setup import EMBEDDED_TMP, init_ray, shutdown_ray

    ray = init_ray(None)
    session_dir = EMBEDDED_TMP[0]
    try:
        @ray.remote(num_cpus=1)
        def one() -> int:
            return 1

        assert ray.get([one.remote() for _ in range(2)]) == [1, 1]  # workers are up
        lines = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True,
                               check=True).stdout.splitlines()[1:]
    finally:
        shutdown_ray(ray)
    assert not os.path.exists(session_dir)  # the embedded Ray's folder is removed with it
    ours = [ln for ln in lines if any(k in ln for k in ("gcs_server", "raylet", "ray::",
                                                          f"pid={os.getpid()},"))]
    assert ours, "found none of Ray's listening sockets"
    # 127.0.0.1, or its IPv4-mapped form [::ffff:127.0.0.1], or ::1
    outside = [ln for ln in ours if not any(a in ln for a in ("127.0.0.1", "[::1]"))]
    assert not outside, "\n".join(outside)
