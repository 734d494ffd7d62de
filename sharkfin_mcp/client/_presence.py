"""Hold Sharkfin's ``/presence`` socket, which is what makes an identity ``online`` in
``user_list`` (a ``/ws`` connection alone does not, PROTOCOL.md §5.8)."""

from __future__ import annotations

import asyncio
import logging

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ._auth import WIRE_LOG, auth_headers, forget_secret, remember_secret
from ._backoff import Backoff, ExponentialBackoff
from ._urls import presence_url

__all__ = ["PresenceKeeper"]

log = logging.getLogger("sharkfin_mcp.client")


class PresenceKeeper:
    """Keeps one ``/presence`` connection open, reconnecting with backoff, until closed.

    The daemon pushes a compact notification per mention or DM on this socket; they are counted
    (``notifications``) but the full messages arrive on ``/ws`` anyway.
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

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sharkfin-presence")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            forget_secret(self._api_key)
        self.online = False

    async def _run(self) -> None:
        attempt = 0
        while True:
            delay = self._backoff(attempt)
            if delay is None:
                return
            await asyncio.sleep(delay)
            try:
                async with ws_connect(
                    self.url,
                    additional_headers=self._headers,
                    open_timeout=10,
                    close_timeout=1.0,
                    compression=None,
                    logger=WIRE_LOG,
                ) as ws:
                    self.online, attempt = True, 0
                    async for _ in ws:
                        self.notifications += 1
            except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
                log.debug("presence socket: %s", exc)
            finally:
                self.online = False
            attempt += 1
