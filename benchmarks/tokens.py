"""What the model pays for, in bytes and estimated tokens (bytes / 4): the tool catalog a client
sends with every turn (name + description + input schema, compact JSON) for each tool profile, and
the structured and text results of ``history(limit=20)`` on a reference page.

The reference page: 20 messages from ``alice`` in ``general``, body ``status update N: build
#10NN passed on main, deploying to staging next @bob`` (N = 0…19). The same page read as a raw
WebSocket ``history`` reply is measured in the same run as the floor; Sharkfin's own Go MCP bridge
measured 7,939 catalog bytes and 3,272 result bytes on it against the real daemon (issue 11), which
are printed beside ours as fixed reference figures (the bridge cannot run here).
"""

from __future__ import annotations

import json
from typing import Any

from mcp import Client
from websockets.asyncio.client import connect

from sharkfin_mcp.client import SharkfinClient
from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server import Settings, build_server

BRIDGE_CATALOG_BYTES = 7_939
BRIDGE_HISTORY_BYTES = 3_272
TARGETS = {"catalog_all": 7_900, "catalog_core": 4_000, "history_structured": 3_272, "history_text": 2_450}
PAGE = [
    f"status update {n}: build #10{n:02d} passed on main, deploying to staging next @bob" for n in range(20)
]


def compact(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


async def catalog_bytes(settings: Settings) -> tuple[int, int]:
    """(bytes, tool count) of the catalog a client shows its model."""
    async with Client(build_server(settings), mode="legacy") as client:
        tools = (await client.list_tools()).tools
    catalog = [{"name": t.name, "description": t.description, "inputSchema": t.input_schema} for t in tools]
    return compact(catalog), len(tools)


async def run() -> dict[str, Any]:
    async with Sandbox() as sb:
        async with await SharkfinClient.connect(sb.ws_url, api_key=sb.key("alice")) as alice:
            await alice.join_channel("general")
            for body in PAGE:
                await alice.send_message("general", body)
        base = Settings(url=sb.ws_url, api_key=sb.key("agent"), api_key_source="test", log_level="ERROR")
        out: dict[str, Any] = {}
        for profile in ("all", "core"):
            size, count = await catalog_bytes(base.model_copy(update={"tool_profile": profile}))
            out[f"catalog_{profile}"] = {"bytes": size, "tools": count}
        headers = {"Authorization": f"ApiKey-v1 {sb.key('bob')}"}
        async with connect(sb.ws_url, additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "channel_join", "ref": "j", "d": {"channel": "general"}}))
            await ws.recv()
            page = {"channel": "general", "limit": 20}
            await ws.send(json.dumps({"type": "history", "ref": "h", "d": page}))
            while True:
                frame = json.loads(await ws.recv())
                if frame.get("ref") == "h":
                    break
        out["raw_ws_history"] = {"bytes": compact(frame)}
        async with Client(build_server(base), mode="legacy") as client:
            await client.call_tool("channel_join", {"channel": "general"})
            result = await client.call_tool("history", {"channel": "general", "limit": 20})
        assert not result.is_error and result.structured_content is not None
        out["history_structured"] = {"bytes": compact(result.structured_content)}
        text = result.content[0].text if result.content and result.content[0].type == "text" else ""
        out["history_text"] = {"bytes": len(text.encode())}
    for key, target in TARGETS.items():
        out[key]["target"] = target
        out[key]["met"] = out[key]["bytes"] <= target
    for entry in out.values():
        entry["tokens"] = round(entry["bytes"] / 4)
    out["bridge_reference"] = {"catalog_bytes": BRIDGE_CATALOG_BYTES, "history_bytes": BRIDGE_HISTORY_BYTES}
    return out
