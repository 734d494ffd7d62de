"""Resources: channels, unread counts, recent history, users and identity, as JSON.

Subscriptions work in both protocol eras: the modern era through the SDK's subscription bus
(``subscriptions/listen``), the handshake era through ``resources/subscribe``, which ``MCPServer``
does not serve by itself, so handlers are registered on its low-level server.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer, ServerRequestContext
from mcp.server.mcpserver import Context, ResourceSecurity
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from ..client import NotFound
from ._compat import lowlevel_server
from ._errors import Refusal
from ._render import clean
from ._results import message_row
from ._runtime import Runtime
from ._uris import CHANNELS_URI, HISTORY_TEMPLATE, ME_URI, UNREAD_URI, USERS_URI

__all__ = ["RuntimeRef", "register_resources"]

JSON = "application/json"


class RuntimeRef:
    """Static resources get no Context in mcp 2.3, so they reach the runtime through this holder,
    which the lifespan fills (one holder per built server)."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None

    def get(self) -> Runtime:
        if self.runtime is None:
            raise ResourceError("the server is still starting; read the resource again")
        return self.runtime


async def _value(rt: Runtime, operation: Any) -> Any:
    """``rt.call(operation)``, its refusal turned into the resource error that explains it."""
    try:
        return await rt.call(operation)
    except Refusal as exc:
        # Runtime.call raises "from None", which keeps the client's error as __context__.
        if isinstance(exc.__context__, NotFound):
            raise ResourceNotFoundError(clean(str(exc))) from None
        raise ResourceError(clean(str(exc))) from None


async def _read(rt: Runtime, operation: Any) -> str:
    return json.dumps(await _value(rt, operation), separators=(",", ":"), default=str)


def register_resources(mcp: MCPServer[Any], ref: RuntimeRef) -> None:
    @mcp.resource(CHANNELS_URI, mime_type=JSON, description="Channels with public/member flags")
    async def channels() -> str:
        return await _read(ref.get(), lambda c: _dump(c.channels()))

    @mcp.resource(UNREAD_URI, mime_type=JSON, description="Unread and mention counts per channel")
    async def unread() -> str:
        return await _read(ref.get(), lambda c: _dump(c.unread_counts()))

    @mcp.resource(USERS_URI, mime_type=JSON, description="Users with online state")
    async def users() -> str:
        return await _read(ref.get(), lambda c: _dump(c.users()))

    @mcp.resource(ME_URI, mime_type=JSON, description="Who this server acts as, and its permissions")
    async def me() -> str:
        rt = ref.get()
        try:
            who = await rt.me()
        except Refusal as exc:
            raise ResourceError(clean(str(exc))) from None
        perms = await _value(rt, lambda c: c.capabilities())
        return json.dumps({**who.__dict__, "permissions": perms, "url": rt.client.url})

    @mcp.resource(
        HISTORY_TEMPLATE,
        mime_type=JSON,
        description="The 50 most recent messages of a channel you are a member of, oldest first "
        "(the channel name percent-encoded as one path segment)",
        # Channel names are names, not file paths: ".." or "a/b" (sent as a%2Fb) are legitimate.
        security=ResourceSecurity(exempt_params={"channel"}),
    )
    async def channel_history(channel: str, ctx: Context[Runtime, Any]) -> str:
        rt = ctx.request_context.lifespan_context
        channel = channel.removeprefix("#")
        return await _read(rt, lambda c: _messages(c.history(channel, limit=50)))

    low = lowlevel_server(mcp)  # no public hook for handshake-era subscribe in mcp 2.3

    async def subscribe(ctx: ServerRequestContext[Runtime], params: SubscribeRequestParams) -> EmptyResult:
        ctx.lifespan_context.notifier.subscribe(str(params.uri), ctx.session)
        return EmptyResult()

    async def unsubscribe(
        ctx: ServerRequestContext[Runtime], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        ctx.lifespan_context.notifier.unsubscribe(str(params.uri), ctx.session)
        return EmptyResult()

    low.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)


async def _messages(awaitable: Any) -> Any:
    """Messages as every tool shows them (``_results.message_row``)."""
    return [message_row(m) for m in await awaitable]


async def _dump(awaitable: Any) -> Any:
    items = await awaitable
    return [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in items]
