"""INDI drivers: a local ``indiserver`` with simulators, a robust client, photometry.

``IndiObservatory`` runs a simulated night's actions on INDI devices (registered
as instrument ``"indi"`` in :data:`steer.instruments.INSTRUMENTS`).
"""

from __future__ import annotations

from steer.instruments.indi.client import IndiClient
from steer.instruments.indi.observatory import IndiObservatory, jnow_from_j2000
from steer.instruments.indi.server import IndiServer, ServerState, free_port

__all__ = ["IndiClient", "IndiObservatory", "IndiServer", "ServerState", "free_port",
           "jnow_from_j2000"]
