"""The ASGI application: Go-ServeMux-like routing, auth before upgrade, WebSocket endpoints.

Order of checks mirrors the daemon (PROTOCOL.md §1, §2.2, §4.1): unknown path → 404,
wrong method → 405 with ``Allow`` (both before auth), then auth (401 JSON, sent as an
HTTP denial response on WebSocket scopes, so clients see a failed handshake), then
identity upsert (``/ws``, ``/notifications/subscribe``, REST; not ``/presence``), then
the origin check and the upgrade. ``/mcp`` takes any method and goes, after auth, to
:class:`._mcp.McpEndpoint` (which upserts on ``tools/call`` only, like the daemon).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from . import _rest
from ._auth import Identity, authenticate
from ._json import dumps
from ._mcp import McpEndpoint
from ._ws import Conn, Hub

_ROUTES: list[tuple[tuple[str, ...], frozenset[str], str]] = [
    (("ws",), frozenset({"GET"}), "ws"),
    (("presence",), frozenset({"GET"}), "presence"),
    (("notifications", "subscribe"), frozenset({"GET"}), "notifications"),
    (("api", "v1", "auth", "register"), frozenset({"POST"}), "register"),
    (("api", "v1", "channels"), frozenset({"GET", "POST"}), "channels"),
    (("api", "v1", "channels", "*", "join"), frozenset({"POST"}), "join"),
    (("api", "v1", "channels", "*", "messages"), frozenset({"GET", "POST"}), "messages"),
    (("api", "v1", "webhooks"), frozenset({"GET", "POST"}), "webhooks"),
    (("api", "v1", "webhooks", "*"), frozenset({"DELETE"}), "webhook"),
    (("ui", "health"), frozenset({"GET"}), "health"),
    (("mcp",), frozenset(), "mcp"),  # any method (mcp-go answers the ones it does not serve)
]
HEALTH = {
    "status": "ok",
    "name": "sharkfin",
    "label": "Chat",
    "route": "/chat",
    "ws_paths": ["/ws", "/presence"],
    "notification_path": "/notifications/subscribe",
}


def _match(scope: Scope) -> tuple[str, list[str], frozenset[str]] | None:
    raw = scope.get("raw_path")
    path = raw.decode("latin-1").split("?", 1)[0] if raw else scope["path"]
    segments = path.split("/")[1:]
    for pattern, methods, name in _ROUTES:
        if len(pattern) != len(segments):
            continue
        params: list[str] = []
        for want, got in zip(pattern, segments, strict=True):
            if want == "*" and got:
                params.append(unquote(got))
            elif want != got:
                break
        else:
            return name, params, methods
    return None


class App:
    """ASGI callable; ``keys`` maps API key → identity and is read live on each request."""

    def __init__(
        self,
        hub: Hub,
        keys: Mapping[str, Identity],
        track: Callable[[Conn], None],
        mcp: McpEndpoint,
    ) -> None:
        self.hub = hub
        self.keys = keys
        self.track = track
        self.mcp = mcp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return
        is_ws = scope["type"] == "websocket"
        method = "GET" if is_ws else scope["method"]
        found = _match(scope)
        if found is None:
            return await _rest.text_error("404 page not found", 404)(scope, receive, send)
        route, params, methods = found
        allowed = methods | ({"HEAD"} if "GET" in methods else set())
        if method not in allowed and route != "mcp":
            response = _rest.text_error("Method Not Allowed", 405)
            response.headers["Allow"] = ", ".join(sorted(allowed))
            return await response(scope, receive, send)
        if route == "health":
            return await _rest.raw_json(dumps(HEALTH), 200)(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        who = authenticate(headers.get("authorization"), self.keys)
        if isinstance(who, bytes):
            return await Response(who, 401, media_type="application/json")(scope, receive, send)
        if route in ("ws", "presence", "notifications"):
            return await self._socket(route, who, scope, receive, send, headers, is_ws)
        if is_ws:
            return await _rest.text_error("Bad Request", 400)(scope, receive, send)
        if route == "mcp":
            return await self.mcp(who, headers, scope, receive, send)
        response = await _rest.handle(self.hub, who, route, params, Request(scope, receive))
        await response(scope, receive, send)

    async def _socket(
        self,
        route: str,
        who: Identity,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
        is_ws: bool,
    ) -> None:
        if route != "presence":
            self.hub.state.upsert_identity(who.username, who.type)
        if not is_ws:
            return await _rest.text_error("Bad Request", 400)(scope, receive, send)
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
            return await _rest.text_error("Forbidden", 403)(scope, receive, send)
        ws = WebSocket(scope, receive, send)
        await ws.accept()
        query: dict[str, Any] = dict(ws.query_params)
        conn = Conn(self.hub, ws, who.username, notifications_only=query.get("notifications_only") == "true")
        self.track(conn)
        hub = self.hub
        try:
            if route == "ws":
                hub.ws_connected(conn)
                try:
                    await conn.run(lambda text: hub.handle(conn, text))
                finally:
                    hub.ws_disconnected(conn)
            elif route == "presence":
                hub.presence[who.username] = conn
                try:
                    await conn.run(None)
                finally:
                    if hub.presence.get(who.username) is conn:
                        del hub.presence[who.username]
            else:
                hub.subscribers.add(conn)
                try:
                    await conn.run(None)
                finally:
                    hub.subscribers.discard(conn)
        finally:
            hub.all_conns.discard(conn)
            conn.done.set()
