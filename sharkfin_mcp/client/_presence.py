"""Hold Sharkfin's ``/presence`` socket, which is what makes an identity ``online`` in
``user_list`` (a ``/ws`` connection alone does not, PROTOCOL.md §5.8)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Generator

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ._auth import WIRE_LOG, auth_headers, forget_secret, redact, remember_secret
from ._backoff import Backoff, ExponentialBackoff
from ._client import CLOSE_TIMEOUT
from ._urls import presence_url

__all__ = ["PresenceKeeper"]

log = logging.getLogger("sharkfin_mcp.client")


class PresenceKeeper:
    """Keeps one ``/presence`` connection open, reconnecting with backoff, until closed.

    Reconnection is websockets' own (``async for ws in connect(...)``), told by ``backoff`` how long
    to wait and when to give up. The daemon pushes a compact notification per mention or DM on this
    socket; they are counted (``notifications``) but the full messages arrive on ``/ws`` anyway.
    """

    def __init__(self, url: str, *, api_key: str | None = None, backoff: Backoff | None = None) -> None:
        self.url = presence_url(url)
        self._headers = auth_headers(api_key)
        self._backoff = backoff or ExponentialBackoff()
        self._task: asyncio.Task[None] | None = None
        self._api_key = api_key
        remember_secret(api_key)
        self.online = False
        self.notifications = 0
        self._failures = 0
        self._next_delay = 0.0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sharkfin-presence")

    async def close(self) -> None:
        """Leave at once: our close frame is sent, the daemon's reply is not awaited."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            forget_secret(self._api_key)
        self.online = False

    def _retry(self, exc: Exception) -> Exception | None:
        """websockets' ``process_exception``: None (retry after ``_next_delay``) while the backoff
        allows, else the exception, which ends the loop. Every handshake failure counts as
        transient, as it did for the daemon's restarts and key rotations before."""
        if not isinstance(exc, OSError | TimeoutError | InvalidHandshake):
            return exc
        self._failures += 1
        delay = self._backoff(self._failures)
        log.debug("presence socket: %s", redact(str(exc) or type(exc).__name__))
        if delay is None:
            return exc
        self._next_delay = delay
        return None

    def _delays(self) -> Generator[float]:
        while True:
            yield self._next_delay

    async def _run(self) -> None:
        first = self._backoff(0)
        if first is None:
            return
        await asyncio.sleep(first)
        try:
            async for ws in ws_connect(
                self.url,
                additional_headers=self._headers,
                open_timeout=10,
                close_timeout=CLOSE_TIMEOUT,
                compression=None,
                logger=WIRE_LOG,
                process_exception=self._retry,
                reconnect_delays=self._delays,
            ):
                self.online, self._failures = True, 0
                try:
                    async for _ in ws:
                        self.notifications += 1
                except ConnectionClosed as exc:
                    log.debug("presence socket closed: %s", redact(str(exc)))
                finally:
                    self.online = False
                # A connection that opened and then closed is not a failed attempt: wait the
                # backoff's first step before the next, so a daemon that drops us at once is not
                # hammered.
                delay = self._backoff(1)
                if delay is None:
                    return
                await asyncio.sleep(delay)
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            log.debug("presence socket: giving up: %s", redact(str(exc) or type(exc).__name__))
        finally:
            self.online = False
