"""The ``rl`` policy's network: one shared encoder scores every target (a deep set).

Target selection is a masked choice over a catalog whose size changes from
night to night, so the network has no weight that depends on the number of
targets: each target's features, with the night's global features, pass
through the same encoder; a mean over the feasible targets gives the context
each target is then scored against (what else is up now); one logit per
exposure comes out of each target. Permuting the catalog permutes the logits,
and a model trained on 150 targets drives 1,000. The value is read from the
pooled embeddings (mean and max over the feasible targets).

Inputs are normalised inside the module (its buffers, saved with the
weights): long-tailed features (hours since the last visit, priority,
overhead) through ``log1p``, the others by a fixed scale.

A saved model is a folder holding ``model.pt`` (the weights and
:class:`NetConfig`) and ``config.json`` (the same configuration, readable).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from steer.atomic import replacing, write_text_atomic
from steer.errors import ConfigError

__all__ = ["NetConfig", "SetScorer", "save_model", "load_model"]

#: Per-feature scale (divide by) or ``"log"`` (``log1p``, then / 3). Unknown names: 1.
_SCALES: dict[str, Any] = {
    "alt_deg": 90.0, "az_deg": 180.0, "airmass": 3.0, "moon_sep_deg": 180.0,
    "depth_margin_mag": 5.0, "depth_loss_mag": 2.0, "hours_since_visit": "log",
    "priority": "log", "uncertainty_mag": 1.0, "overhead_s": "log", "feasible": 1.0,
    "night_frac": 1.0, "hours_left": 12.0, "moon_alt_deg": 90.0, "moon_illumination": 1.0,
    "last_seeing_arcsec": 3.0, "last_transparency": 1.0, "dome_open": 1.0,
}


@dataclass(frozen=True)
class NetConfig:
    """What a model was trained on; checked against the environment it is deployed in.

    Attributes:
        target_features: Names of the per-target feature columns.
        global_features: Names of the global features.
        exptimes_s: The exposures, one logit each per target.
        hidden: Width of the encoder.
        extra: Free-form training facts (algorithm, timesteps, seed, experiment).
    """

    target_features: tuple[str, ...]
    global_features: tuple[str, ...]
    exptimes_s: tuple[float, ...]
    hidden: int = 64
    extra: dict[str, Any] = field(default_factory=dict)


def _scales(names: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    is_log = torch.tensor([_SCALES.get(n, 1.0) == "log" for n in names])
    div = torch.tensor([3.0 if _SCALES.get(n, 1.0) == "log" else float(_SCALES.get(n, 1.0))
                        for n in names], dtype=torch.float32)
    return is_log, div


class SetScorer(nn.Module):
    """Per-target logits (`B x N x E`) and a value (`B`) from a catalog observation.

    Args:
        cfg: Feature names, exposures and width.
    """

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        f, g, h = len(cfg.target_features), len(cfg.global_features), int(cfg.hidden)
        t_log, t_div = _scales(cfg.target_features)
        g_log, g_div = _scales(cfg.global_features)
        self.register_buffer("t_log", t_log)
        self.register_buffer("t_div", t_div)
        self.register_buffer("g_log", g_log)
        self.register_buffer("g_div", g_div)
        self.feasible_col = (cfg.target_features.index("feasible")
                             if "feasible" in cfg.target_features else None)
        self.encode = nn.Sequential(nn.Linear(f + g, h), nn.Tanh(), nn.Linear(h, h), nn.Tanh())
        self.score = nn.Sequential(nn.Linear(2 * h, h), nn.Tanh())
        self.logits = nn.Linear(h, len(cfg.exptimes_s))
        self.value = nn.Sequential(nn.Linear(2 * h, h), nn.Tanh(), nn.Linear(h, 1))

    @staticmethod
    def _norm(x: torch.Tensor, is_log: torch.Tensor, div: torch.Tensor) -> torch.Tensor:
        x = torch.where(is_log, torch.log1p(x.clamp_min(0.0)), x)
        return x / div

    def embed(self, targets: torch.Tensor, globals_: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-target embeddings `B x N x H` and the feasible-target weights `B x N`."""
        t = self._norm(targets.float(), self.t_log, self.t_div)
        g = self._norm(globals_.float(), self.g_log, self.g_div)
        g = g.unsqueeze(-2).expand(*t.shape[:-1], g.shape[-1])
        h = self.encode(torch.cat([t, g], -1))
        if self.feasible_col is None:
            w = torch.ones(h.shape[:-1], dtype=h.dtype)
        else:
            w = (targets[..., self.feasible_col] > 0.5).to(h.dtype)
        return h, w

    @staticmethod
    def _pool(h: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = w.sum(-1, keepdim=True).clamp_min(1.0)
        mean = (h * w.unsqueeze(-1)).sum(-2) / n
        big = torch.where(w.unsqueeze(-1) > 0, h, torch.full_like(h, -1.0))  # tanh >= -1
        return mean, big.max(-2).values

    def forward(self, targets: torch.Tensor, globals_: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits `B x N x E` and values `B` (batched inputs `B x N x F`, `B x G`)."""
        h, w = self.embed(targets, globals_)
        mean, top = self._pool(h, w)
        z = self.score(torch.cat([h, mean.unsqueeze(-2).expand_as(h)], -1))
        return self.logits(z), self.value(torch.cat([mean, top], -1)).squeeze(-1)


def save_model(net: SetScorer, folder: Path) -> Path:
    """Write ``model.pt`` and ``config.json`` into ``folder`` (created); return it.

    Each file is written whole or not at all (:func:`steer.atomic.replacing`), so
    an interrupted save leaves the previous model loadable.
    """
    folder = Path(folder)
    cfg = asdict(net.cfg)
    with replacing(folder / "model.pt") as tmp:
        torch.save({"format": "steer-rl/1", "config": cfg, "state_dict": net.state_dict()}, tmp)
    write_text_atomic(folder / "config.json", json.dumps(cfg, indent=1))
    return folder


def load_model(path: str | Path) -> SetScorer:
    """A saved model (its folder, or the ``model.pt`` in it), in evaluation mode.

    Raises:
        ConfigError: nothing there, or not a steer RL model.
    """
    p = Path(path)
    file = p / "model.pt" if p.is_dir() else p
    if not file.is_file():
        raise ConfigError(f"no RL model at {str(path)!r}",
                          "train one with `steer train EXPERIMENT` and pass the printed "
                          "runs:/<id>/model (or the folder holding model.pt)")
    try:
        blob = torch.load(file, map_location="cpu", weights_only=False)
        cfg = dict(blob["config"])
        if blob.get("format") != "steer-rl/1":
            raise KeyError("format")
        net = SetScorer(NetConfig(tuple(cfg["target_features"]), tuple(cfg["global_features"]),
                                  tuple(float(e) for e in cfg["exptimes_s"]),
                                  int(cfg["hidden"]), dict(cfg.get("extra", {}))))
        net.load_state_dict(blob["state_dict"])
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise ConfigError(f"{str(file)!r} is not a steer RL model ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'})",
                          "pass a model written by `steer train`") from None
    net.eval()
    return net
