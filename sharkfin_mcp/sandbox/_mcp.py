"""``/mcp``: the daemon's stateful Streamable HTTP JSON-RPC endpoint, written directly (PROTOCOL.md §10.1).

Reproduces mcp-go v0.44.1's ``StreamableHTTPServer`` with ``WithStateful(true)`` as the daemon
wires it (after the auth middleware, so a bad key is the usual 401 JSON):

* ``POST`` — ``Content-Type`` must parse as ``application/json`` (else 400 ``Invalid content
  type: must be 'application/json'``); a body that is not a JSON object → 400 with a JSON-RPC
  ``-32700`` ``request body is not valid json``. ``initialize`` mints ``mcp-session-<uuid4>``
  (returned in ``Mcp-Session-Id``); every other message needs that header: missing, malformed or
  unknown → 404 ``Invalid session ID``, ended by ``DELETE`` → 404 ``Session terminated``.
  Notifications (no ``id``) → 202 with no body. Responses are ``application/json`` (Go's
  encoder: ``<>&`` escaped, trailing newline) whatever the ``Accept`` header says, exactly like
  the daemon, which never streams a POST reply for these tools.
* ``GET`` — opens a ``text/event-stream`` that never carries an event (the daemon sends none and
  has no heartbeat configured) and stays open until the client goes away. Like mcp-go, the
  session header is not validated on GET.
* ``DELETE`` — ends the session; always 200 with an empty body (unknown ids are a no-op).
* any other method → 404 ``404 page not found``.

JSON-RPC: ``initialize`` (protocol version echoed when known, else ``2025-11-25``; empty →
``2025-03-26``), ``ping``, ``tools/list`` (sorted by name, base64 name cursor), ``tools/call``
(:mod:`._mcp_tools`); resources/prompts/logging/tasks/completion → ``-32601 <x> not supported``;
anything else ``-32601 Method <m> not found``; a ``jsonrpc`` other than ``"2.0"`` → ``-32600
Invalid JSON-RPC version``; an unknown tool → ``-32602 tool '<name>' not found: tool not found``.

Sandbox-only knob: :attr:`McpEndpoint.sse_responses` answers every POST that has a reply as
one ``event: message`` SSE event (mcp-go's format), so clients' SSE parsing can be tested.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import uuid
from typing import Any

import anyio
from starlette.types import Receive, Scope, Send

from ._auth import Identity
from ._json import MISSING, ci_get, dumps
from ._mcp_tools import TOOLS, InternalError, ToolError, Tools
from ._ws import Hub

SESSION_HEADER = "mcp-session-id"
SESSION_PREFIX = "mcp-session-"
PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = (
    -32700,
    -32600,
    -32601,
    -32602,
    -32603,
)
_UNSUPPORTED = {
    "logging/setLevel": "logging",
    "resources/list": "resources",
    "resources/templates/list": "resources",
    "resources/read": "resources",
    "prompts/list": "prompts",
    "prompts/get": "prompts",
    "tasks/get": "tasks",
    "tasks/list": "tasks",
    "tasks/result": "tasks",
    "tasks/cancel": "tasks",
    "completion/complete": "completions",
}
_SORTED_TOOLS = sorted(TOOLS, key=lambda t: t.name)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _go_type(value: Any) -> str:
    """The JSON type name Go's decoder puts in ``cannot unmarshal <type> into …``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _empty(value: Any) -> bool:
    """mcp-go's ``isJSONEmpty``: absent, ``null``, ``{}`` or ``[]``."""
    return value is MISSING or value is None or value == {} or value == []


class _Unparsable(Exception):
    """A typed request that Go could not unmarshal (→ ``-32600 unparsable <method> request: …``)."""


def _field(params: dict[str, Any], name: str, want: type[str] | type[dict[str, Any]], go_path: str) -> Any:
    value = ci_get(params, name)
    if value is MISSING or value is None:
        return None
    if not isinstance(value, want):
        go_name = "string" if want is str else "map[string]interface {}"
        raise _Unparsable(
            f"json: cannot unmarshal {_go_type(value)} into Go struct field {go_path} of type {go_name}"
        )
    return value


def _params(message: dict[str, Any], struct: str) -> dict[str, Any]:
    params = ci_get(message, "params")
    if params is MISSING or params is None:
        return {}
    if not isinstance(params, dict):
        kind, field = _go_type(params), f"{struct}.params"
        raise _Unparsable(
            f"json: cannot unmarshal {kind} into Go struct field {field} of type {struct}Params"
        )
    return params


class McpEndpoint:
    """Sessions and request handling of ``/mcp``; :meth:`reset` is a daemon restart (all forgotten)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.tools = Tools(hub)
        self.sessions: set[str] = set()
        self.terminated: set[str] = set()
        self.sse_responses = False
        self._streams: set[anyio.CancelScope] = set()

    def reset(self) -> None:
        """Forget every session and end every open GET stream (what a daemon restart does)."""
        self.sessions.clear()
        self.terminated.clear()
        for scope in list(self._streams):
            scope.cancel()

    # ---- HTTP ----------------------------------------------------------------------------------

    async def __call__(
        self, who: Identity, headers: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        method = scope["method"]
        if method == "POST":
            await self._post(who, headers, receive, send)
        elif method == "GET":
            await self._get(receive, send)
        elif method == "DELETE":
            session = headers.get(SESSION_HEADER, "")
            if session in self.sessions:
                self.sessions.discard(session)
                self.terminated.add(session)
            await _respond(send, 200, b"")
        else:
            await _text(send, "404 page not found", 404)

    async def _get(self, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
            }
        )
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        with anyio.CancelScope() as stream:
            self._streams.add(stream)
            try:
                while (await receive())["type"] != "http.disconnect":
                    pass
            finally:
                self._streams.discard(stream)
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _post(self, who: Identity, headers: dict[str, str], receive: Receive, send: Send) -> None:
        if not _is_json_media_type(headers.get("content-type", "")):
            return await _text(send, "Invalid content type: must be 'application/json'", 400)
        raw = b""
        while True:
            chunk = await receive()
            raw += chunk.get("body", b"")
            if not chunk.get("more_body"):
                break
        try:
            message = json.loads(raw.decode("utf-8", "replace"), parse_constant=_reject_constant)
        except ValueError:
            message = MISSING
        method = ci_get(message, "method") if isinstance(message, dict) else None
        if (
            message is MISSING
            or not (message is None or isinstance(message, dict))
            or not (method is MISSING or method is None or isinstance(method, str))
        ):
            body = _rpc_error(None, PARSE_ERROR, "request body is not valid json")
            return await _respond(send, 400, body, "application/json")
        message = message or {}
        method = method if isinstance(method, str) else ""
        id_ = ci_get(message, "id")
        if method == "" and id_ is not MISSING:
            result, error = ci_get(message, "result"), ci_get(message, "error")
            if _empty(result) and _empty(error):
                return await _respond(send, 200, b"")  # a client's answer to a server ping
            return await self._client_response(headers, id_, send)
        initialize = method == "initialize"
        if initialize:
            session = SESSION_PREFIX + str(uuid.uuid4())
            self.sessions.add(session)
        else:
            session = headers.get(SESSION_HEADER, "")
            if session in self.terminated:
                return await _text(send, "Session terminated", 404)
            if session not in self.sessions:
                return await _text(send, "Invalid session ID", 404)
        reply = self._handle(message, method, who)
        if reply is None:
            return await _respond(send, 202, b"")
        extra = [(b"mcp-session-id", session.encode())] if initialize else []
        if self.sse_responses:
            event = b"event: message\ndata: " + dumps(reply).encode() + b"\n\n"
            return await _respond(send, 200, event, "text/event-stream", extra)
        await _respond(send, 200, (dumps(reply) + "\n").encode(), "application/json", extra)

    async def _client_response(self, headers: dict[str, str], id_: Any, send: Send) -> None:
        """A response to a server request (sampling/roots); the daemon never sends those."""
        session = headers.get(SESSION_HEADER, "")
        if not session:
            return await _text(send, "Missing session ID for sampling response", 400)
        if session in self.terminated:
            return await _text(send, "Session terminated", 404)
        if session not in self.sessions:
            return await _text(send, "Invalid session ID", 404)
        if isinstance(id_, bool) or not isinstance(id_, int):
            return await _text(send, "Invalid request ID in sampling response", 400)
        await _text(send, "Failed to deliver response", 500)

    # ---- JSON-RPC ------------------------------------------------------------------------------

    def _handle(self, message: dict[str, Any], method: str, who: Identity) -> dict[str, Any] | None:
        """The reply object, or None where the daemon answers 202 (notifications, responses)."""
        version, id_ = ci_get(message, "jsonrpc"), ci_get(message, "id")
        id_ = None if id_ is MISSING else id_
        if version is not MISSING and version is not None and not isinstance(version, str):
            return _rpc_error(None, PARSE_ERROR, "Failed to parse message")
        if version != "2.0":
            return _rpc_error(id_, INVALID_REQUEST, "Invalid JSON-RPC version")
        if id_ is None:
            return None  # a notification: handled (nothing to do), 202
        if ci_get(message, "result") not in (MISSING, None):
            return None  # Go's ``Result any`` is non-nil for {} and [] too: "a response", 202
        try:
            if method == "initialize":
                return _rpc_result(id_, self._initialize(_params(message, "Initialize")))
            if method == "ping":
                return _rpc_result(id_, {})
            if method == "tools/list":
                return self._tools_list(id_, _params(message, "ListTools"))
            if method == "tools/call":
                return self._tools_call(id_, _params(message, "CallTool"), who)
        except _Unparsable as exc:
            return _rpc_error(id_, INVALID_REQUEST, f"unparsable {method} request: {exc}")
        if method in _UNSUPPORTED:
            return _rpc_error(id_, METHOD_NOT_FOUND, f"{_UNSUPPORTED[method]} not supported")
        return _rpc_error(id_, METHOD_NOT_FOUND, f"Method {method} not found")

    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        asked = _field(params, "protocolVersion", str, "InitializeParams.params.protocolVersion") or ""
        _field(params, "capabilities", dict, "InitializeParams.params.capabilities")
        _field(params, "clientInfo", dict, "InitializeParams.params.clientInfo")
        version = asked or "2025-03-26"
        return {
            "protocolVersion": version if version in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0],
            "capabilities": {"tools": {"listChanged": True}},
            "serverInfo": {"name": "sharkfin", "version": self.hub.version},
        }

    def _tools_list(self, id_: Any, params: dict[str, Any]) -> dict[str, Any]:
        cursor = _field(params, "cursor", str, "PaginatedParams.params.cursor") or ""
        tools = _SORTED_TOOLS
        if cursor:
            try:
                after = base64.b64decode(cursor, validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                return _rpc_error(id_, INVALID_PARAMS, "illegal base64 data at input byte 0")
            tools = [t for t in tools if t.name > after]
        return _rpc_result(id_, {"tools": [t.schema() for t in tools]})

    def _tools_call(self, id_: Any, params: dict[str, Any], who: Identity) -> dict[str, Any]:
        name = _field(params, "name", str, "CallToolParams.params.name") or ""
        arguments = ci_get(params, "arguments")
        args = arguments if isinstance(arguments, dict) else {}
        try:
            outcome = self.tools.call(name, args, who.username, who.type)
        except KeyError:
            return _rpc_error(id_, INVALID_PARAMS, f"tool '{name}' not found: tool not found")
        except InternalError as exc:
            return _rpc_error(id_, INTERNAL_ERROR, str(exc))
        result: dict[str, Any] = {"content": [{"type": "text", "text": outcome.text}]}
        if isinstance(outcome, ToolError):
            result["isError"] = True
        return _rpc_result(id_, result)


def _rpc_result(id_: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "result": result}


def _rpc_error(id_: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}}


def _is_json_media_type(header: str) -> bool:
    """Go's ``mime.ParseMediaType(h)`` succeeds and yields ``application/json``."""
    media_type, _, rest = header.partition(";")
    if media_type.strip().lower() != "application/json":
        return False
    for parameter in rest.split(";") if rest else ():
        key, eq, _value = parameter.partition("=")
        if not parameter.strip():
            continue
        if not eq or not key.strip():
            return False
    return True


async def _respond(
    send: Send,
    status: int,
    body: bytes | dict[str, Any],
    content_type: str | None = None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    if isinstance(body, dict):
        body = (dumps(body) + "\n").encode()
    headers = [(b"content-length", str(len(body)).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    headers += extra or []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _text(send: Send, message: str, status: int) -> None:
    """Go's ``http.Error``: plain text with a newline and ``nosniff``."""
    await _respond(
        send,
        status,
        (message + "\n").encode(),
        "text/plain; charset=utf-8",
        [(b"x-content-type-options", b"nosniff")],
    )
