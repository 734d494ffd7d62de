"""JSON-RPC framing for the stdio transport: every line the client sends gets an answer.

The SDK's stdio transport hands a line it cannot validate to the session as an exception, which
drops it at DEBUG level: the client then waits for a reply until its own timeout. Here, a line
that the SDK's parser (used first, unchanged, so the common case costs nothing extra) rejects is
looked at again:

* not JSON: ``-32700`` with ``id: null``;
* lone UTF-16 surrogates (``"\\ud800"``, which the SDK's parser refuses): repaired to U+FFFD and
  served, since JSON text that Python can read should not cost the agent its request;
* a JSON-RPC batch: served, with one array of replies, where the negotiated version has batches
  (only MCP 2025-03-26: added there, removed in 2025-06-18, absent from the 2026 era); else
  ``-32600`` with ``id: null``;
* JSON that is not a JSON-RPC message: ``-32600``, with the request's id when it has a usable one.

On the way out, a result that cannot be encoded as UTF-8 (a lone surrogate from the daemon) is
repaired the same way instead of ending the transport.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import mcp_types as types
from mcp.shared.message import SessionMessage
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

__all__ = ["BATCH_VERSIONS", "jsonrpc_streams", "repair"]

log = logging.getLogger("sharkfin_mcp.server")

BATCH_VERSIONS = frozenset({"2025-03-26"})
"""The MCP versions whose base protocol includes JSON-RPC batches."""
PARSE_ERROR = -32700
INVALID_REQUEST = -32600


class Stdout(Protocol):
    async def write(self, text: str) -> None: ...

    async def flush(self) -> None: ...


def repair(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys included) replaced by U+FFFD."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, list):
        return [repair(item) for item in value]
    if isinstance(value, dict):
        return {repair(k): repair(v) for k, v in value.items()}
    return value


@dataclass
class _Batch:
    waiting: set[types.RequestId]
    replies: list[dict[str, Any]] = field(default_factory=list)


class _Wire:
    def __init__(self, stdout: Stdout) -> None:
        self._stdout = stdout
        self.version: str | None = None
        """The protocol version ``initialize`` settled on (handshake era only)."""
        self._initialize_ids: set[types.RequestId] = set()
        self._batches: list[_Batch] = []

    # -- in ------------------------------------------------------------------------------------------

    async def inbound(self, line: str) -> list[types.JSONRPCMessage]:
        try:
            message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        except ValidationError:
            return await self._reconsider(line)
        if isinstance(message, types.JSONRPCNotification) and '"id"' in line:
            return await self._reconsider(line)  # a request whose id the parser could not use
        return self._accepted(message)

    async def _reconsider(self, line: str) -> list[types.JSONRPCMessage]:
        text = line.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as exc:
            reason = getattr(exc, "msg", "too deeply nested")
            await self._error(
                None, PARSE_ERROR, f"Parse error: not JSON ({reason}); send one JSON-RPC message per line"
            )
            return []
        value = repair(value)
        if not isinstance(value, list):
            message, problem = _validated(value)
            if isinstance(message, types.JSONRPCNotification) and isinstance(value, dict) and "id" in value:
                message, problem = None, "Invalid Request: id must be a string or an integer"
            if message is not None:
                return self._accepted(message)
            if problem is not None:
                await self._error(_usable_id(value), INVALID_REQUEST, problem)
            return []
        if self.version not in BATCH_VERSIONS:
            era = f"MCP {self.version}" if self.version else "this protocol version"
            await self._error(
                None,
                INVALID_REQUEST,
                f"Invalid Request: {era} has no JSON-RPC batches; send each request on its own line",
            )
            return []
        return await self._batch(value)

    def _accepted(self, message: types.JSONRPCMessage) -> list[types.JSONRPCMessage]:
        if isinstance(message, types.JSONRPCRequest) and message.method == "initialize":
            self._initialize_ids.add(message.id)
        return [message]

    async def _batch(self, items: list[Any]) -> list[types.JSONRPCMessage]:
        if not items:
            await self._error(None, INVALID_REQUEST, "Invalid Request: an empty batch")
            return []
        batch = _Batch(waiting=set())
        accepted: list[types.JSONRPCMessage] = []
        for item in items:
            message, problem = _validated(item)
            if message is None:
                if problem is not None:
                    batch.replies.append(_error_object(_usable_id(item), INVALID_REQUEST, problem))
                continue
            if isinstance(message, types.JSONRPCRequest):
                batch.waiting.add(message.id)
            accepted.extend(self._accepted(message))
        if batch.waiting:
            self._batches.append(batch)
        elif batch.replies:
            await self._write(json.dumps(batch.replies, separators=(",", ":"), ensure_ascii=False))
        return accepted

    # -- out -------------------------------------------------------------------------------------------

    async def outbound(self, message: types.JSONRPCMessage) -> None:
        if isinstance(message, types.JSONRPCResponse | types.JSONRPCError):
            if self._initialize_ids and message.id in self._initialize_ids:
                self._initialize_ids.discard(message.id)
                if isinstance(message, types.JSONRPCResponse):
                    version = message.result.get("protocolVersion")
                    self.version = version if isinstance(version, str) else None
            if self._batches and await self._batched(message):
                return
        await self._write(_encoded(message))

    async def _batched(self, message: types.JSONRPCResponse | types.JSONRPCError) -> bool:
        for batch in self._batches:
            if message.id in batch.waiting:
                batch.waiting.discard(message.id)
                batch.replies.append(json.loads(_encoded(message)))
                if not batch.waiting:
                    self._batches.remove(batch)
                    await self._write(json.dumps(batch.replies, separators=(",", ":"), ensure_ascii=False))
                return True
        return False

    async def _error(self, request_id: types.RequestId | None, code: int, message: str) -> None:
        log.debug("answered a malformed line with %d: %s", code, message)
        await self._write(json.dumps(_error_object(request_id, code, message), separators=(",", ":")))

    async def _write(self, text: str) -> None:
        await self._stdout.write(text + "\n")
        await self._stdout.flush()


def _validated(value: Any) -> tuple[types.JSONRPCMessage | None, str | None]:
    """The message, or why it is not one (``None`` for a malformed *response*, which is never
    answered: answering it could start a loop between two confused peers)."""
    try:
        return types.jsonrpc_message_adapter.validate_python(value, by_name=False), None
    except ValidationError as exc:
        if isinstance(value, dict) and "method" not in value and ("result" in value or "error" in value):
            log.warning("ignored a malformed JSON-RPC response from the client")
            return None, None
        if not isinstance(value, dict):
            return None, "Invalid Request: a JSON-RPC message is an object"
        if not isinstance(value.get("method"), str):
            return None, "Invalid Request: method must be a string"
        fields = sorted({str(e["loc"][-1]) for e in exc.errors() if e["loc"]} - {"method"})
        detail = f" (check {', '.join(fields)})" if fields else ""
        return None, f"Invalid Request: not a valid JSON-RPC 2.0 request{detail}"


def _usable_id(value: Any) -> types.RequestId | None:
    request_id = value.get("id") if isinstance(value, dict) else None
    if isinstance(request_id, bool) or not isinstance(request_id, int | str):
        return None
    return request_id


def _error_object(request_id: types.RequestId | None, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def _encoded(message: types.JSONRPCMessage) -> str:
    try:
        return message.model_dump_json(by_alias=True, exclude_unset=True)
    except PydanticSerializationError:
        plain = repair(message.model_dump(mode="python", by_alias=True, exclude_unset=True))
        log.debug("repaired lone surrogates in an outgoing message")
        return json.dumps(plain, separators=(",", ":"), ensure_ascii=False, default=str)


@contextlib.asynccontextmanager
async def jsonrpc_streams(lines: AsyncIterable[str], stdout: Stdout) -> AsyncIterator[tuple[Any, Any]]:
    """``(read_stream, write_stream)`` for ``Server.run``, over text lines in and a writer out."""
    wire = _Wire(stdout)
    read_send, read_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_receive = anyio.create_memory_object_stream[SessionMessage](0)

    async def reader() -> None:
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            async with read_send:
                async for line in lines:
                    for message in await wire.inbound(line):
                        await read_send.send(SessionMessage(message))

    async def writer() -> None:
        with contextlib.suppress(anyio.ClosedResourceError):
            async with write_receive:
                async for item in write_receive:
                    await wire.outbound(item.message)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(reader)
        tasks.start_soon(writer)
        yield read_receive, write_send
