"""Two reference servers for the latency section: what a ``history`` call costs below our own code.

    python -m benchmarks.floors sdk    # the MCP SDK serving a tool that does nothing
    python -m benchmarks.floors bare   # no SDK at all: the least a Python server can do per call

``sdk`` is an ``MCPServer`` on the same stdio transport as sharkfin-mcp (``serve_stdio``), with one
tool, ``history``, that returns ``"ok"`` without calling the daemon: its CPU per call is the SDK's
own dispatch, the part our code cannot remove while it uses the SDK.

``bare`` is asyncio, two pipes and one ``websockets`` connection to the daemon (``SHARKFIN_URL``,
``SHARKFIN_API_KEY``). It answers ``initialize`` and ``tools/call`` for ``history`` by doing the
call's real work: the daemon round trip, one row per message, the text lines and both result
forms. No validation, no escaping, no error handling: a lower bound for this machine, not a
server anyone should run.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import anyio
from mcp.server import MCPServer
from websockets.asyncio.client import connect

from sharkfin_mcp.server._stdio import serve_stdio


def sdk_server() -> MCPServer[Any]:
    mcp: MCPServer[Any] = MCPServer("floor-sdk")

    @mcp.tool(structured_output=False)
    async def history(channel: str = "", limit: int = 30) -> str:
        """Does nothing."""
        return "ok"

    return mcp


async def bare_server() -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stdin), os.fdopen(os.dup(0), "rb", buffering=0)
    )
    out, _ = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(os.dup(1), "wb", buffering=0)
    )
    headers = {"Authorization": f"ApiKey-v1 {os.environ['SHARKFIN_API_KEY']}"}
    async with connect(os.environ["SHARKFIN_URL"], additional_headers=headers, compression=None) as ws:
        waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

        async def replies() -> None:
            async for raw in ws:
                frame = json.loads(raw)
                future = waiting.pop(frame.get("ref"), None)
                if future is not None:
                    future.set_result(frame)

        pump = asyncio.create_task(replies())
        refs = 0
        while line := await stdin.readline():
            request = json.loads(line)
            if "id" not in request:
                continue
            if request["method"] == "initialize":
                result: dict[str, Any] = {
                    "protocolVersion": request["params"]["protocolVersion"],
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "floor-bare", "version": "0"},
                }
            else:
                arguments = request["params"]["arguments"]
                refs += 1
                ref = f"r{refs}"
                waiting[ref] = loop.create_future()
                d = {"channel": arguments["channel"], "limit": arguments.get("limit", 30)}
                await ws.send(json.dumps({"type": "history", "ref": ref, "d": d}))
                frame = await waiting[ref]
                rows = [
                    {"id": m["id"], "from": m["from"], "body": m["body"], "sent_at": m["sent_at"]}
                    for m in frame["d"]["messages"]
                ]
                channel = arguments["channel"]
                text = "\n".join(
                    f"[{r['id']}] {r['sent_at']} #{channel} {r['from']}: {r['body']}" for r in rows
                )
                result = {
                    "content": [{"type": "text", "text": text}],
                    "structuredContent": {"messages": rows},
                    "isError": False,
                }
            out.write((json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}) + "\n").encode())
        pump.cancel()


def main(argv: list[str]) -> None:
    if argv == ["sdk"]:
        anyio.run(serve_stdio, sdk_server(), "pipes")
    elif argv == ["bare"]:
        asyncio.run(bare_server())
    else:
        raise SystemExit("usage: python -m benchmarks.floors sdk|bare")


if __name__ == "__main__":
    main(sys.argv[1:])
