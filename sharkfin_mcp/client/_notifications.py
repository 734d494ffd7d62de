"""The ``/notifications/subscribe`` feed: one compact notice per new message, however it was sent.

``/ws`` pushes ``message.new`` only for messages sent over WS or MCP; a message posted over REST
(how service bots post) reaches ``/ws`` clients never (PROTOCOL.md §4.6, §6, §16.6). The daemon's
internal bus, which drives this feed, carries every new message. So this feed is how a consumer
learns that *something* arrived in a channel; it then reads the message itself with ``history``.

The notices carry no message id (PROTOCOL.md §9): ``Mention in #<channel>``, ``DM from <sender>``
or ``New message in #<channel>``, never for the subscriber's own messages. The connection is held
with websockets' own reconnecting ``connect()`` iterator; every (re)connection is reported as a
:class:`FeedConnected` item, because notices sent while the socket was down are gone and the
consumer must resynchronise.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import AsyncIterator, Generator
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from ._auth import WIRE_LOG, auth_headers
from ._backoff import Backoff, ExponentialBackoff
from ._urls import notifications_url

__all__ = ["FeedConnected", "Notification", "notification_feed"]

log = logging.getLogger("sharkfin_mcp.client")


_PREFIXES: tuple[tuple[str, Literal["mention", "dm", "message"]], ...] = (
    ("Mention in #", "mention"),
    ("New message in #", "message"),
    ("DM from ", "dm"),
)


class Notification(BaseModel):
    """One notice from ``/notifications/subscribe`` (PROTOCOL.md §9).

    ``title`` is ``Mention in #<channel>`` (urgency ``active``), ``DM from <sender>`` (``active``)
    or ``New message in #<channel>`` (``passive``); ``body`` holds the first 100 code points of the
    message for mentions and DMs, and is empty otherwise.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    title: str
    body: str = ""
    urgency: str = ""
    route: str = ""

    @property
    def kind(self) -> Literal["mention", "dm", "message", "other"]:
        for prefix, kind in _PREFIXES:
            if self.title.startswith(prefix):
                return kind
        return "other"

    @property
    def channel(self) -> str | None:
        """The channel named by a mention or channel notice; ``None`` for DMs (which name the sender)."""
        for prefix, kind in _PREFIXES:
            if kind != "dm" and self.title.startswith(prefix):
                return self.title[len(prefix) :]
        return None

    @property
    def sender(self) -> str | None:
        """The sender of a DM notice; ``None`` for the other kinds (their titles do not say)."""
        return self.title.removeprefix("DM from ") if self.kind == "dm" else None


class FeedConnected(BaseModel):
    """The feed's own: the socket is (again) open. Notices sent while it was down are lost."""

    model_config = ConfigDict(frozen=True)

    attempt: int
    """0 for the first connection, then counting reconnections."""


async def notification_feed(
    url: str, *, api_key: str | None = None, open_timeout: float = 10.0, backoff: Backoff | None = None
) -> AsyncIterator[Notification | FeedConnected]:
    """Yield notices for the identity behind ``api_key`` until cancelled, reconnecting forever.

    ``url`` is any form the client accepts (``ws://host:port/ws`` or ``http://host:port``).
    Transient failures (refused connection, 5xx, timeouts, a dropped socket) are retried by
    websockets' own reconnect loop, waiting as ``backoff`` says (default: 0.25 s doubling to 10 s,
    jittered; websockets' default starts at up to 5 s, too slow to resume a feed after a daemon
    restart). A backoff that gives up is treated as "keep trying at its last delay". A rejected
    key (401/403) ends the feed with websockets' ``InvalidStatus``, whose text holds no header.
    Malformed frames are logged and skipped.
    """
    policy = backoff or ExponentialBackoff()

    def delays() -> Generator[float]:
        last = 0.0
        for attempt in itertools.count(1):
            delay = policy(attempt)
            last = last if delay is None else delay
            yield last

    attempt = 0
    async for ws in ws_connect(
        notifications_url(url),
        additional_headers=auth_headers(api_key),
        open_timeout=open_timeout,
        close_timeout=0.1,
        compression=None,
        logger=WIRE_LOG,  # its reconnect lines are INFO; quietening them is the host's call
        reconnect_delays=delays,
    ):
        yield FeedConnected(attempt=attempt)
        attempt += 1
        try:
            async for frame in ws:
                try:
                    yield Notification.model_validate(json.loads(frame))
                except (ValueError, ValidationError):
                    log.debug("skipping a malformed notification frame")
        except ConnectionClosed as exc:
            log.debug("notification feed dropped: %s", exc)
