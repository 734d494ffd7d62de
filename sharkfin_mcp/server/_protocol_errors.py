"""The JSON-RPC error codes MCP specifies, where the SDK would answer otherwise.

* ``prompts/get`` for an unknown prompt, or without a required argument: ``-32602`` (Invalid
  params) with a sentence saying what is missing. The SDK raises a plain ``ValueError`` there,
  which reaches the client as code ``0`` ("Internal server error" in the 2026 era) and logs a
  traceback.
* ``resources/read`` of a resource that does not exist: MCP's resource-not-found code, which is
  ``-32002`` up to protocol 2025-11-25 and ``-32602`` from 2026-07-28 on (SEP-2164). The SDK
  answers ``-32602`` in both eras.

Installed as a server middleware, the SDK's public hook for refusing or rewriting a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, Prompt
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

__all__ = ["LEGACY_RESOURCE_NOT_FOUND", "install_protocol_errors"]

LEGACY_RESOURCE_NOT_FOUND = -32002
"""Resource not found in MCP 2025-11-25 and earlier."""


class _ProtocolErrors:
    def __init__(self, mcp: MCPServer[Any]) -> None:
        self._mcp = mcp
        self._prompts: dict[str, Prompt] | None = None

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "prompts/get":
            await self._check_prompt(ctx.params)
        elif ctx.method == "resources/read" and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            try:
                return await call_next(ctx)
            except MCPError as exc:
                data = exc.error.data
                if exc.error.code == INVALID_PARAMS and isinstance(data, Mapping) and "uri" in data:
                    raise MCPError(LEGACY_RESOURCE_NOT_FOUND, exc.error.message, data) from None
                raise
        return await call_next(ctx)

    async def _check_prompt(self, params: Mapping[str, Any] | None) -> None:
        name = (params or {}).get("name")
        if not isinstance(name, str):
            return  # the SDK's own params validation answers -32602 for this
        if self._prompts is None:
            self._prompts = {p.name: p for p in await self._mcp.list_prompts()}
        prompt = self._prompts.get(name)
        if prompt is None:
            known = ", ".join(sorted(self._prompts)) or "none"
            raise MCPError(INVALID_PARAMS, f"Unknown prompt: {name} (prompts/list shows them: {known})")
        given = (params or {}).get("arguments") or {}
        if not isinstance(given, Mapping):
            return
        missing = [a.name for a in prompt.arguments or [] if a.required and not given.get(a.name)]
        if missing:
            raise MCPError(
                INVALID_PARAMS,
                f"Prompt {name} needs the argument{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            )


def install_protocol_errors(mcp: MCPServer[Any]) -> None:
    """Add the middleware to ``mcp`` (after its prompts are registered)."""
    mcp.middleware.append(_ProtocolErrors(mcp))
