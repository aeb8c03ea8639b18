"""How `make test` spreads the suite over processes (pytest-xdist, ``--dist loadgroup``).

Each test module is one group, so a module's expensive module-scoped fixture
(real episodes, an MLflow server, indiserver) runs once, on one worker. The
modules that start Ray (embedded, or a ``ray start`` cluster) share one group
and so run one after another: two Ray instances at once would fight over the
two cores and make the retry and cluster tests' timeouts meaningless.
"""

from __future__ import annotations

import pytest

# Modules whose tests start Ray (through `steer compare|train|tune` or directly).
RAY_MODULES = frozenset({
    "test_ray_cluster.py", "test_ray_loopback.py", "test_ray_retry.py", "test_tune.py",
    "test_rl.py", "test_rl_ray.py", "test_campaign_cli.py", "test_cli.py", "test_contract.py",
    "test_loop_continuous.py",
})


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test an ``xdist_group``: ``ray`` for the Ray modules, else its module."""
    for item in items:
        group = ("ray" if item.path.name in RAY_MODULES
                 else str(item.path.relative_to(config.rootpath)))
        if not any(m.name == "xdist_group" for m in item.iter_markers()):
            item.add_marker(pytest.mark.xdist_group(group))
