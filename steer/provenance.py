"""What is logged with every run so it can be reproduced: flat parameters, versions, commit."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from typing import Any

__all__ = ["flat_params", "package_versions", "git_commit"]

_MAX_PARAM_VALUE_CHARS = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
_MAX_KEY_CHARS = 250  # mlflow.utils.validation.MAX_ENTITY_KEY_LENGTH
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")
_VERSIONED_DISTRIBUTIONS = {  # import name -> distribution name
    "steer": "steer-agent", "numpy": "numpy", "torch": "torch", "botorch": "botorch",
    "gpytorch": "gpytorch", "gymnasium": "gymnasium", "mlflow": "mlflow", "astropy": "astropy",
}


def flat_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten nested mappings to dotted keys MLflow accepts, values as bounded strings."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flat_params(value, prefix=f"{name}."))
            continue
        if isinstance(value, list | tuple):
            text = json.dumps(list(value), default=str)
        else:
            text = str(value)
        flat[_BAD_KEY_CHARS.sub("_", name)[:_MAX_KEY_CHARS]] = text[:_MAX_PARAM_VALUE_CHARS]
    return flat


def package_versions() -> dict[str, str]:
    """Installed versions of steer and of the libraries that shape its results."""
    from importlib import metadata

    versions: dict[str, str] = {}
    for name, dist in _VERSIONED_DISTRIBUTIONS.items():
        try:
            versions[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            if name == "steer":
                import steer

                versions[name] = str(getattr(steer, "__version__", "unknown"))
    return versions


def git_commit() -> str | None:
    """The commit of the git working directory, or ``None`` outside a repository."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None
