"""Resource-change notifications, in both protocol eras.

The modern era (2026-07-28) listens through the SDK's subscription bus (``subscriptions/listen``);
the handshake era subscribes with ``resources/subscribe``, which ``MCPServer`` does not serve by
itself (``_resources`` registers the handlers). Each update is announced on every usual spelling
of its URI, so a subscriber hears of it on the URI it subscribed with (``_uris``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated, ServerEvent

from ._sessions import ConnectionTable
from ._uris import canonical, spellings

__all__ = ["Notifier", "QuietBus"]


class QuietBus(InMemorySubscriptionBus):
    """The SDK's in-process bus, skipping the fan-out (and the event-loop turn that ends it)
    while nobody listens: otherwise every message of a burst pays two loop turns for nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.listeners = 0

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        unsubscribe = super().subscribe(listener)
        self.listeners += 1
        done = False

        def once() -> None:
            nonlocal done
            if not done:
                done = True
                self.listeners -= 1
                unsubscribe()

        return once

    async def publish(self, event: ServerEvent) -> None:
        if self.listeners:
            await super().publish(event)


class Notifier:
    def __init__(self, bus: InMemorySubscriptionBus) -> None:
        self.bus = bus
        self._legacy: dict[str, dict[str, ConnectionTable[ServerSession]]] = {}
        """Handshake-era subscribers: per canonical URI, per spelling a client used, a session of
        each subscribed connection (a stored session keeps working after its request ends)."""

    def subscribe(self, uri: str, session: ServerSession) -> None:
        spelled = self._legacy.setdefault(canonical(uri), {})
        spelled.setdefault(uri, ConnectionTable()).set(session, session)

    def unsubscribe(self, uri: str, session: ServerSession) -> None:
        table = self._legacy.get(canonical(uri), {}).get(uri)
        if table is not None:
            table.pop(session)

    async def resources_updated(self, *uris: str) -> None:
        """Tell subscribers in both eras that these resources changed."""
        for uri in uris:
            for form in spellings(uri):
                await self.bus.publish(ResourceUpdated(uri=form))
            for original, table in self._legacy.get(canonical(uri), {}).items():
                for session in table.values():
                    with contextlib.suppress(Exception):  # a closed connection: best effort
                        await session.send_resource_updated(original)
