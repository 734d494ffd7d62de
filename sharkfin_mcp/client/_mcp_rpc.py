"""Plain JSON-RPC 2.0 to the daemon's ``/mcp`` endpoint over httpx — no MCP SDK (PROTOCOL.md §10.1).

The daemon's ``/mcp`` is mcp-go's stateful Streamable HTTP server, and it is the only surface with
the role-administration tools. What this module handles, and why:

* **Sessions.** ``initialize`` returns ``Mcp-Session-Id``; every later POST carries it, then
  ``notifications/initialized`` is sent (answered 202). One session per :class:`McpRpc`, opened
  lazily under a lock so concurrent first calls share it.
* **Lost sessions.** A daemon restart forgets every session, and a ``DELETE`` ends one; the daemon
  then answers 404 ``Invalid session ID`` / ``Session terminated``. The call re-initialises once
  and is retried; a second loss in the same call raises :class:`NotFound`.
* **Replies** arrive as ``application/json`` or as ``text/event-stream`` (``data:`` lines, one
  JSON-RPC message per event); the message whose ``id`` matches the request is the answer.
* **Errors** map onto the client's tree: HTTP statuses as :func:`server_error_from_http` (401 →
  AuthenticationError), JSON-RPC errors and ``isError`` tool results by the daemon's text as
  :func:`server_error_from_reply` does for ``/ws`` replies (``permission denied: <p>`` →
  PermissionDenied, ``… not found`` → NotFound, UNIQUE → Conflict), else by JSON-RPC code
  (``-32602``/``-32600``/``-32700`` → BadRequest, ``-32601`` → NotFound). Network failures are
  ConnectError / RequestTimeout. Messages carry the daemon's text and the URL, never the API key
  (the key only ever travels in the ``Authorization`` header).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ._auth import auth_headers, forget_secret, remember_secret
from ._errors import (
    BadRequest,
    ConnectError,
    MalformedReply,
    NotFound,
    RequestTimeout,
    ServerError,
    server_error_from_http,
    server_error_from_reply,
)
from ._urls import rest_base_url

if TYPE_CHECKING:
    import httpx

__all__ = ["PROTOCOL_VERSION", "McpRpc", "rpc_error"]

PROTOCOL_VERSION = "2025-03-26"
"""The MCP revision this client asks for; mcp-go echoes every revision it knows."""
_SESSION_GONE = ("Invalid session ID", "Session terminated")
_BY_CODE: dict[int, type[ServerError]] = {
    -32700: BadRequest,
    -32600: BadRequest,
    -32602: BadRequest,
    -32601: NotFound,
}


def rpc_error(code: int, message: str) -> ServerError:
    """A JSON-RPC error (or an ``isError`` text when ``code`` is 0) as the client's exception."""
    error = server_error_from_reply(message)
    if type(error) is ServerError and code in _BY_CODE:
        return _BY_CODE[code](message)
    return error


def _sse_messages(text: str) -> list[Any]:
    """The JSON messages of an SSE body: each event's ``data:`` lines joined by newlines."""
    messages: list[Any] = []
    data: list[str] = []
    for line in [*text.splitlines(), ""]:
        if not line:
            if data:
                with contextlib.suppress(ValueError):
                    messages.append(json.loads("\n".join(data)))
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return messages


class McpRpc:
    """One MCP session with the daemon's ``/mcp``: ``await rpc.call_tool(name, args) -> text``.

    ``base_url`` may be ``http://host:port`` or the ``ws://host:port/ws`` form. Not thread-safe;
    safe for concurrent use from one event loop.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = rest_base_url(base_url)
        self.url = self.base_url + "/mcp"
        self._secret = api_key
        remember_secret(api_key)  # so that redaction finds the whole key, whatever it holds
        self._options: dict[str, Any] = {
            "headers": {**auth_headers(api_key), "Accept": "application/json, text/event-stream"},
            "timeout": timeout,
            "transport": transport,
        }
        self._client: httpx.AsyncClient | None = None
        self._session: str | None = None
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self.server_info: dict[str, Any] = {}
        """``serverInfo`` from the last ``initialize`` (``{"name": "sharkfin", "version": …}``)."""
        self.initializations = 0
        """How many sessions this object has opened (1 + the re-initialisations)."""

    def __repr__(self) -> str:
        return f"McpRpc({self.url!r})"

    @property
    def session_id(self) -> str | None:
        return self._session

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(**self._options)
        return self._client

    async def aclose(self) -> None:
        """End the session (best effort ``DELETE``, like a well-behaved MCP client) and close."""
        forget_secret(self._secret)
        self._secret = None
        if self._client is None:
            return
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._client.delete(self.url, headers={"Mcp-Session-Id": self._session}, timeout=2.0)
            self._session = None
        await self._client.aclose()
        self._client = None

    # ---- requests ------------------------------------------------------------------------------

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> str:
        """Call a daemon tool; return its text. A tool failure (``isError``) raises, mapped by text."""
        result = await self.request("tools/call", {"name": name, "arguments": arguments or {}})
        try:
            items = result["content"]
            text = next(item["text"] for item in items if item.get("type") == "text")
        except (TypeError, KeyError, StopIteration):
            raise MalformedReply(f"the daemon's reply to {name} had no text content") from None
        if not isinstance(text, str):
            raise MalformedReply(f"the daemon's reply to {name} had no text content")
        if result.get("isError"):
            raise rpc_error(0, text)
        return text

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One JSON-RPC request in the session; its ``result``, or the mapped error."""
        session = await self._ensure_session()
        id_ = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            message["params"] = params
        response = await self._post(message, session)
        if _session_gone(response):
            session = await self._renew(session)
            response = await self._post(message, session)
            if _session_gone(response):
                raise NotFound(f"the daemon at {self.url} lost the MCP session again right after a new one")
        return self._answer(response, id_, method)

    async def _ensure_session(self) -> str:
        if self._session is not None:
            return self._session
        async with self._lock:
            if self._session is None:
                await self._initialize()
            assert self._session is not None
            return self._session

    async def _renew(self, lost: str) -> str:
        async with self._lock:
            if self._session in (lost, None):  # another call may have renewed it already
                self._session = None
                await self._initialize()
            assert self._session is not None
            return self._session

    async def _initialize(self) -> None:
        id_ = next(self._ids)
        message = {
            "jsonrpc": "2.0",
            "id": id_,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "sharkfin-mcp", "version": __version__},
            },
        }
        response = await self._post(message, None)
        if response.status_code == 404 and not _session_gone(response):
            raise NotFound(
                f"the daemon at {self.base_url} has no /mcp endpoint (HTTP 404: {response.text.strip()}); "
                "role administration needs a Sharkfin daemon with its MCP endpoint"
            )
        result = self._answer(response, id_, "initialize")
        session = response.headers.get("mcp-session-id")
        if not session:
            raise MalformedReply(f"the daemon at {self.url} did not return an Mcp-Session-Id on initialize")
        info = result.get("serverInfo") if isinstance(result, dict) else None
        self.server_info = info if isinstance(info, dict) else {}
        self._session = session
        self.initializations += 1
        note = await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
        if note.status_code >= 400:
            raise server_error_from_http(note.status_code, note.text)

    async def _post(self, message: dict[str, Any], session: str | None) -> httpx.Response:
        import httpx

        headers = {"Content-Type": "application/json"}
        if session is not None:
            headers["Mcp-Session-Id"] = session
        try:
            return await self._http.post(self.url, content=json.dumps(message), headers=headers)
        except httpx.TimeoutException:
            raise RequestTimeout(f"{message.get('method')}: no answer from {self.url} in time") from None
        except httpx.TransportError as exc:
            raise ConnectError(
                f"cannot reach Sharkfin at {self.base_url}: {type(exc).__name__}: {exc}"
            ) from None

    def _answer(self, response: httpx.Response, id_: int, method: str) -> Any:
        if response.status_code >= 400:
            raise server_error_from_http(response.status_code, response.text)
        content_type = response.headers.get("content-type", "")
        try:
            if content_type.startswith("text/event-stream"):
                candidates = _sse_messages(response.text)
            else:
                candidates = [response.json()]
        except ValueError:
            raise MalformedReply(f"the daemon's reply to {method} was not JSON") from None
        for reply in candidates:
            if isinstance(reply, dict) and reply.get("id") == id_ and ("result" in reply or "error" in reply):
                break
        else:
            raise MalformedReply(f"the daemon's reply to {method} held no answer to request {id_}")
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            code = error.get("code")
            raise rpc_error(code if isinstance(code, int) else 0, str(error.get("message", "")))
        return reply["result"]


def _session_gone(response: httpx.Response) -> bool:
    return response.status_code == 404 and response.text.strip() in _SESSION_GONE
