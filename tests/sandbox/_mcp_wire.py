"""Raw-HTTP helpers for the sandbox's ``/mcp`` (no project client, no MCP SDK involved)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from sharkfin_mcp.sandbox import Sandbox

JSON = {"Content-Type": "application/json"}


class Mcp:
    """One identity's MCP session over plain httpx, speaking JSON-RPC by hand."""

    def __init__(self, sb: Sandbox, user: str, http: httpx.AsyncClient) -> None:
        self.sb = sb
        self.user = user
        self.http = http
        self.session: str | None = None
        self.n = 0

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {"Authorization": "ApiKey-v1 " + self.sb.key(self.user), **JSON, **extra}
        if self.session is not None:
            headers["Mcp-Session-Id"] = self.session
        return headers

    async def post(self, message: Any, **extra: str) -> httpx.Response:
        return await self.http.post("/mcp", headers=self.headers(**extra), content=json.dumps(message))

    async def initialize(self) -> httpx.Response:
        self.session = None
        response = await self.rpc_raw("initialize", {"protocolVersion": "2025-03-26", "capabilities": {}})
        self.session = response.headers["mcp-session-id"]
        note = await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert note.status_code == 202, note.text
        return response

    async def rpc_raw(self, method: str, params: Any = None) -> httpx.Response:
        self.n += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self.n, "method": method}
        if params is not None:
            message["params"] = params
        return await self.post(message)

    async def rpc(self, method: str, params: Any = None) -> dict[str, Any]:
        response = await self.rpc_raw(method, params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        body: dict[str, Any] = response.json()
        assert body["jsonrpc"] == "2.0" and body["id"] == self.n
        return body

    async def call(self, tool: str, args: dict[str, Any] | None = None) -> tuple[str, Any]:
        """("ok", text) | ("error", text) for isError results | ("rpc", (code, message))."""
        body = await self.rpc("tools/call", {"name": tool, "arguments": args or {}})
        if "error" in body:
            return "rpc", (body["error"]["code"], body["error"]["message"])
        result = body["result"]
        assert [c["type"] for c in result["content"]] == ["text"]
        return ("error" if result.get("isError") else "ok"), result["content"][0]["text"]

    async def ok(self, tool: str, args: dict[str, Any] | None = None) -> str:
        kind, text = await self.call(tool, args)
        assert kind == "ok", (tool, args, text)
        return str(text)
