"""A synchronous INDI driver on top of ``indipyclient``, with timeouts and recovery.

``indipyclient`` is asyncio; it runs here in a background thread with its own
event loop, and every public call of :class:`IndiClient` blocks for at most a
configured number of seconds. The driver adds what the library lacks
(instruments.md, "Known client weakness"):

* an end-of-file watchdog: the library keeps saying "connected" after the
  server died (its reader loops on EOF); the watchdog polls the stream every
  ``eof_poll_s`` and marks the link dead within ~50 ms;
* dropped sends: the library silently drops a send while disconnected or to an
  unknown vector; the driver checks the link and the vector before sending and
  waits for the driver's reply, so a lost command becomes an error, not a hang;
* reconnect on demand with a fresh client, BLOBs re-enabled on the new link.

Every failure raises :class:`~steer.errors.InstrumentError`;
:class:`~steer.errors.InstrumentTimeoutError` when the server does not answer
in time (e.g. a SIGSTOPped server).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from steer.errors import InstrumentError, InstrumentTimeoutError, MissingDependencyError

__all__ = ["IndiClient", "VectorState"]

log = logging.getLogger(__name__)


@dataclass
class VectorState:
    """The last known state of one property vector.

    Attributes:
        seq: Incremented on every define/set received for the vector.
        state: ``Idle``, ``Ok``, ``Busy`` or ``Alert``.
        values: Member values as received (strings; bytes for BLOBs).
        message: The last message attached to the vector, if any.
        kind: ``SwitchVector``, ``NumberVector``, ``TextVector``, ``BLOBVector``...
    """

    seq: int = 0
    state: str = "Idle"
    values: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    kind: str = ""


def _to_float(value: Any) -> float:
    """INDI numbers arrive as strings, possibly sexagesimal (``12:30:00``)."""
    text = str(value).strip()
    if ":" in text or " " in text:
        parts = [float(p) for p in text.replace(":", " ").split()]
        sign = -1.0 if text.startswith("-") else 1.0
        out = 0.0
        for i, p in enumerate(parts):
            out += abs(p) / 60.0**i
        return sign * out
    return float(text)


class IndiClient:
    """Blocking INDI client with timeouts, an EOF watchdog and reconnect.

    Args:
        host: Server address (use ``127.0.0.1``).
        port: Server TCP port.
        timeout_s: Default seconds any call may block before
            :class:`InstrumentTimeoutError`.
        eof_poll_s: Period of the end-of-file watchdog.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 7624, timeout_s: float = 10.0,
                 eof_poll_s: float = 0.05) -> None:
        self.host = host
        self.port = int(port)
        self.timeout_s = float(timeout_s)
        self.eof_poll_s = float(eof_poll_s)
        self._cond = threading.Condition()
        self._vectors: dict[tuple[str, str], VectorState] = {}
        self._devices: set[str] = set()
        self._dead: str | None = "not connected"
        self._client: Any = None
        self._tasks: list[asyncio.Future[Any]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="indi-client",
                                        daemon=True)
        self._thread.start()
        self.reconnects = 0

    # ------------------------------------------------------------ event loop
    def _call(self, coro: Any, timeout_s: float | None = None, what: str = "call") -> Any:
        """Run ``coro`` on the client loop; raise InstrumentTimeoutError after ``timeout_s``."""
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        t = self.timeout_s if timeout_s is None else timeout_s
        try:
            return fut.result(t)
        except FutureTimeout as exc:
            fut.cancel()
            raise InstrumentTimeoutError(
                f"INDI {what} did not complete within {t:.1f} s on {self.host}:{self.port}",
                "the server may be hung; it is reconnected on the next action") from exc

    def _on_event(self, event: Any) -> None:
        """Record an indipyclient event (runs on the loop thread)."""
        etype = getattr(event, "eventtype", "")
        dev, vec = getattr(event, "devicename", None), getattr(event, "vectorname", None)
        with self._cond:
            if etype == "ConnectionLost":
                self._dead = self._dead or "connection lost"
            elif dev and vec and etype in ("Define", "DefineBLOB", "Set", "SetBLOB"):
                self._devices.add(dev)
                vs = self._vectors.setdefault((dev, vec), VectorState())
                vs.seq += 1
                state = getattr(event, "state", None)
                if state:
                    vs.state = str(state)
                vs.values.update(dict(event.items()))
                vs.message = str(getattr(event, "message", "") or "")
                vector = getattr(event, "vector", None)
                vs.kind = getattr(vector, "vectortype", vs.kind) or vs.kind
            elif dev and vec and etype == "Delete":
                self._vectors.pop((dev, vec), None)
            elif dev and etype == "Delete":
                for key in [k for k in self._vectors if k[0] == dev]:
                    self._vectors.pop(key, None)
            self._cond.notify_all()

    async def _watchdog(self, client: Any) -> None:
        """Mark the link dead as soon as the stream hits end-of-file."""
        while True:
            await asyncio.sleep(self.eof_poll_s)
            reader = client._reader  # noqa: SLF001  (indipyclient has no public EOF hook)
            if self._client is not client:
                return
            if reader is not None and reader.at_eof():
                reason = f"INDI server {self.host}:{self.port} closed the connection (EOF)"
            elif reader is None and client._writer is None and self._dead is None:  # noqa: SLF001
                reason = f"INDI connection to {self.host}:{self.port} was dropped"
            else:
                continue
            with self._cond:
                self._dead = reason
                self._cond.notify_all()
            client.shutdown()  # no silent 5 s auto-reconnect: recovery is explicit
            return

    # ------------------------------------------------------------ connection
    def connect(self, devices: Sequence[str] = (), timeout_s: float | None = None) -> None:
        """Open a fresh connection and wait until ``devices`` have defined CONNECTION.

        BLOBs are enabled (``Also``) for every device on the new link.

        Raises:
            MissingDependencyError: indipyclient is not installed.
            InstrumentError: connection refused; InstrumentTimeoutError: no answer.
        """
        try:
            import indipyclient
        except ImportError as exc:
            raise MissingDependencyError("indipyclient is not installed",
                                         "pip install indipyclient") from exc
        self._shutdown_client()
        t = self.timeout_s if timeout_s is None else float(timeout_s)
        outer = self

        class _Client(indipyclient.IPyClient):  # type: ignore[misc, name-defined]
            async def rxevent(self, event: Any) -> None:
                outer._on_event(event)

        async def _open() -> Any:
            client = _Client(indihost=self.host, indiport=self.port)
            client.enableBLOBdefault = "Also"  # re-sent by the library on every defBLOBVector
            client.set_vector_timeouts(timeout_enable=False)
            client.enable_reports = False
            # fail fast when refused: the library would retry every 5 s forever
            reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.close()
            return client

        try:
            client = self._call(_open(), t, "connect")
        except OSError as exc:
            raise InstrumentError(f"cannot connect to INDI server {self.host}:{self.port}: {exc}",
                                  "is the server running? steer indi-sim status") from exc
        with self._cond:
            self._vectors.clear()
            self._devices.clear()
            self._dead = None
            self._client = client
        self._tasks = [asyncio.run_coroutine_threadsafe(client.asyncrun(), self._loop),
                       asyncio.run_coroutine_threadsafe(self._watchdog(client), self._loop)]
        deadline = time.monotonic() + t
        for dev in devices:
            self.wait_for(lambda d=dev: (d, "CONNECTION") in self._vectors,
                          deadline - time.monotonic(), f"device {dev!r} to be defined")
        for dev in devices:
            self.enable_blobs(dev)

    def reconnect(self, devices: Sequence[str] = (), timeout_s: float | None = None) -> None:
        """Drop the current link (if any) and :meth:`connect` again."""
        self.reconnects += 1
        self.connect(devices, timeout_s)

    def enable_blobs(self, device: str) -> None:
        """Ask the server to send ``device``'s BLOBs to this client (``Also``)."""
        self._require_alive()
        self._call(self._client.send_enableBLOB("Also", device), what="enableBLOB")

    def _shutdown_client(self) -> None:
        client = self._client
        with self._cond:
            self._client = None
            self._dead = self._dead or "closed"
            self._cond.notify_all()
        if client is not None:
            client.shutdown()
            for fut in self._tasks:
                fut.cancel()
            try:  # let the cancelled tasks unwind on the loop before it stops
                self._call(asyncio.sleep(0.05), 1.0, "shutdown")
            except InstrumentError:
                pass

            async def _close() -> None:
                writer = client._writer  # noqa: SLF001
                if writer is not None:
                    writer.close()

            try:
                self._call(_close(), 1.0, "close")
            except InstrumentError:
                pass
        self._tasks = []

    def close(self) -> None:
        """Disconnect and stop the client thread."""
        self._shutdown_client()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2.0)

    @property
    def alive(self) -> bool:
        """True while the link is up (as far as the watchdog knows)."""
        return self._dead is None and self._client is not None

    @property
    def dead_reason(self) -> str | None:
        """Why the link is down, or None."""
        return self._dead

    def _require_alive(self) -> None:
        if self._dead is not None or self._client is None:
            raise InstrumentError(f"INDI link to {self.host}:{self.port} is down: {self._dead}",
                                  "reconnect()")

    # ------------------------------------------------------------ properties
    def vector(self, device: str, name: str) -> VectorState | None:
        """A copy of the last known state of ``device.name`` (None if undefined)."""
        with self._cond:
            vs = self._vectors.get((device, name))
            if vs is None:
                return None
            return VectorState(vs.seq, vs.state, dict(vs.values), vs.message, vs.kind)

    def numbers(self, device: str, name: str) -> dict[str, float]:
        """Member values of a number vector as floats.

        Raises:
            InstrumentError: the vector is not defined.
        """
        vs = self.vector(device, name)
        if vs is None:
            raise InstrumentError(f"{device}.{name} is not defined on the server")
        return {k: _to_float(v) for k, v in vs.values.items()}

    def switch_on(self, device: str, name: str, member: str) -> bool:
        """True if ``member`` of switch vector ``device.name`` is On."""
        vs = self.vector(device, name)
        return vs is not None and str(vs.values.get(member, "")).strip() == "On"

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Block until ``predicate()`` (evaluated under the lock) is true.

        Raises:
            InstrumentError: the link died while waiting (detected by the watchdog).
            InstrumentTimeoutError: ``timeout_s`` passed.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._cond:
            while True:
                if predicate():
                    return
                if self._dead is not None:
                    raise InstrumentError(f"while waiting for {what}: {self._dead}",
                                          "the server died or dropped the link; reconnect")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise InstrumentTimeoutError(
                        f"no answer from {self.host}:{self.port} within {timeout_s:.1f} s "
                        f"while waiting for {what}", "the server or driver may be hung")
                self._cond.wait(min(left, 0.1))

    # ------------------------------------------------------------------ send
    def send(self, device: str, name: str, members: Mapping[str, Any]) -> int:
        """Send new member values; return the vector's sequence number before sending.

        Raises:
            InstrumentError: link down, vector unknown, or the send was dropped.
        """
        self._require_alive()
        vs = self.vector(device, name)
        if vs is None:
            raise InstrumentError(f"{device}.{name} is not defined on the server",
                                  "is the device connected and its driver running?")
        client = self._client
        members_s = {k: (v if isinstance(v, str) else repr(float(v))) for k, v in members.items()}
        self._call(client.send_newVector(device, name, members=members_s), what=f"send {name}")
        if self._dead is not None or not client.connected:
            raise InstrumentError(f"send of {device}.{name} was dropped: {self._dead or 'link down'}",
                                  "reconnect and send again")
        return vs.seq

    def set_and_wait(self, device: str, name: str, members: Mapping[str, Any],
                     done: Callable[[VectorState], bool] | None = None,
                     timeout_s: float | None = None,
                     ok_states: tuple[str, ...] = ("Ok",)) -> VectorState:
        """Send ``members`` and wait for a reply with state Ok (and ``done``) or Alert.

        Args:
            device, name: The vector.
            members: Member name -> value (``"On"``/``"Off"`` for switches).
            done: Extra completion test on the vector (e.g. a read-back check).
            timeout_s: Seconds to wait (default: the client's ``timeout_s``).
            ok_states: States that count as done (tracking reports ``Busy``).

        Raises:
            InstrumentError: Alert, link lost; InstrumentTimeoutError: no reply.
        """
        t = self.timeout_s if timeout_s is None else float(timeout_s)
        seq0 = self.send(device, name, members)

        def finished() -> bool:
            vs = self._vectors.get((device, name))
            if vs is None or vs.seq <= seq0:
                return False
            return vs.state == "Alert" or (vs.state in ok_states and (done is None or done(vs)))

        self.wait_for(finished, t, f"{device}.{name} to reach Ok")
        vs = self.vector(device, name)
        if vs is None:
            raise InstrumentError(f"{device}.{name} was deleted while waiting for it")
        if vs.state == "Alert":
            raise InstrumentError(f"{device}.{name} went to Alert: {vs.message or 'no message'}",
                                  "check the driver's limits and state")
        return vs
