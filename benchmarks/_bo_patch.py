"""Measurement helpers' hook: run a function on ``steer.policies.bo`` right after it loads.

Used by the ``sitecustomize`` of ``screen_site`` and ``refine_site``, so that every
process (``steer compare`` and its Ray workers included) plays a patched ``bo``.
"""

import importlib.abc
import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType


class _PatchBo(importlib.abc.MetaPathFinder):
    """Patches ``steer.policies.bo`` right after it is first executed."""

    def __init__(self, patch: Callable[[ModuleType], None]) -> None:
        self.patch = patch

    def find_spec(self, name, path, target=None):
        if name != "steer.policies.bo":
            return None
        sys.meta_path.remove(self)  # find it the usual way, once
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            self.patch(module)

        spec.loader.exec_module = exec_module
        return spec


def install(patch: Callable[[ModuleType], None]) -> None:
    """Run ``patch(module)`` once ``steer.policies.bo`` is loaded, in this process."""
    sys.meta_path.insert(0, _PatchBo(patch))
