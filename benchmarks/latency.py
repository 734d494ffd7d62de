"""Section 1: tool-call latency over stdio next to the raw WebSocket round trip of the same operation.

Three processes: this client, ``sharkfin-mcp`` (spawned by the SDK's ``stdio_client``, handshake
era) and the sandbox (``python -m sharkfin_mcp.sandbox``). The raw paths act as bob, not as the
server's identity, so they never steal the server's broadcast slot (one push target per username).
Calls are made in interleaved rounds (raw, SharkfinClient, MCP, repeat) so that background noise
on the shared machine hits all three paths alike.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import stdio_client
from websockets.asyncio.client import ClientConnection, connect

from sharkfin_mcp.client import SharkfinClient

from ._common import (
    KEYS,
    child_server_pid,
    cpu_seconds,
    sandbox_process,
    server_params,
    structured,
    summary_ms,
)

CHANNEL = "bench"
OVERHEAD_TARGET_MS = 0.40
"""Median MCP-over-stdio time above the raw WebSocket round trip (issue 11)."""
CPU_TARGET_MS = 0.35
"""Server CPU per history(20) call (issue 11)."""
HISTORY_LIMIT = 20


async def setup_channel(ws_url: str, channel: str, seed: int) -> None:
    """Channel made by agent (admin) with alice and bob in it, seeded with ``seed`` messages."""
    async with await SharkfinClient.connect(ws_url, api_key=KEYS["agent"]) as agent:
        await agent.create_channel(channel, True, ["alice", "bob"])
    async with await SharkfinClient.connect(ws_url, api_key=KEYS["alice"]) as alice:
        for i in range(seed):
            await alice.send_message(channel, f"seed message {i} with a little text @bob")


class RawWS:
    """A bare ``websockets`` connection: one request, wait for its ref, skip pushed events."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.refs = itertools.count(1)

    async def request(self, op: str, d: dict[str, Any]) -> dict[str, Any]:
        ref = f"r{next(self.refs)}"
        await self.ws.send(json.dumps({"type": op, "ref": ref, "d": d}))
        while True:
            frame = json.loads(await self.ws.recv())
            if frame.get("ref") == ref:
                if not frame.get("ok"):
                    raise RuntimeError(f"{op} failed: {frame}")
                return dict(frame.get("d") or {})


async def run(calls: int, warmup: int, rounds: int = 5) -> dict[str, Any]:
    per_round = max(1, calls // rounds)
    with sandbox_process() as sb:
        await setup_channel(sb.ws_url, CHANNEL, seed=HISTORY_LIMIT + 10)
        headers = {"Authorization": f"ApiKey-v1 {KEYS['bob']}"}
        async with (
            connect(sb.ws_url, additional_headers=headers, compression=None) as ws,
            await SharkfinClient.connect(sb.ws_url, api_key=KEYS["bob"]) as client,
            stdio_client(server_params(sb.ws_url)) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            pid = child_server_pid()
            server_cpu = 0.0
            raw = RawWS(ws)
            history_args = {"channel": CHANNEL, "limit": HISTORY_LIMIT}
            body = "benchmark message with a little text"
            ops: dict[str, dict[str, Callable[[], Awaitable[Any]]]] = {
                "history": {
                    "raw_ws": lambda: raw.request("history", history_args),
                    "sharkfin_client": lambda: client.history(CHANNEL, limit=HISTORY_LIMIT),
                    "mcp_stdio": lambda: _tool(session, "history", history_args),
                },
                "send_message": {
                    "raw_ws": lambda: raw.request("send_message", {"channel": CHANNEL, "body": body}),
                    "sharkfin_client": lambda: client.send_message(CHANNEL, body),
                    "mcp_stdio": lambda: _tool(session, "send_message", {"channel": CHANNEL, "body": body}),
                },
            }
            await until_ready(session)
            for paths in ops.values():
                for fn in paths.values():
                    for _ in range(warmup):
                        await fn()
            samples: dict[str, dict[str, list[float]]] = {
                op: {path: [] for path in paths} for op, paths in ops.items()
            }
            for _ in range(rounds):
                for op, paths in ops.items():
                    for path, fn in paths.items():
                        measure_cpu = op == "history" and path == "mcp_stdio"
                        cpu0 = cpu_seconds(pid) if measure_cpu else 0.0
                        for _ in range(per_round):
                            t0 = time.perf_counter()
                            await fn()
                            samples[op][path].append(time.perf_counter() - t0)
                        if measure_cpu:
                            server_cpu += cpu_seconds(pid) - cpu0
    out: dict[str, Any] = {
        "calls_per_path": per_round * rounds,
        "history_limit": HISTORY_LIMIT,
        "server_cpu_ms_per_history_call": server_cpu * 1000 / (per_round * rounds),
    }
    for op, paths in samples.items():
        stats = {path: summary_ms(values) for path, values in paths.items()}
        mcp, raw_ = stats["mcp_stdio"], stats["raw_ws"]
        stats["overhead_vs_raw"] = {
            "median_ms": mcp["median_ms"] - raw_["median_ms"],
            "median_ratio": mcp["median_ms"] / raw_["median_ms"],
            "p99_ms": mcp["p99_ms"] - raw_["p99_ms"],
        }
        stats["overhead_vs_client"] = {
            "median_ms": mcp["median_ms"] - stats["sharkfin_client"]["median_ms"],
            "median_ratio": mcp["median_ms"] / stats["sharkfin_client"]["median_ms"],
        }
        stats["target_met"] = stats["overhead_vs_raw"]["median_ms"] <= OVERHEAD_TARGET_MS
        out[op] = stats
    return out


async def _tool(session: ClientSession, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return structured(await session.call_tool(name, args))


async def until_ready(session: ClientSession, channel: str = CHANNEL, within: float = 20.0) -> None:
    """The server connects to the daemon in the background: wait until a call gets through."""
    deadline = time.monotonic() + within
    while True:
        result = await session.call_tool("history", {"channel": channel, "limit": 1})
        if not result.is_error:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"server never reached the sandbox: {result.content}")
        await anyio.sleep(0.05)
