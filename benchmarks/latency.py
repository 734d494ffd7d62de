"""Section 1: tool-call latency over stdio next to the raw WebSocket round trip of the same operation.

Processes: this client, the sandbox (``python -m sharkfin_mcp.sandbox``) and four stdio servers:

- ``mcp_stdio``: sharkfin-mcp spoken to by a line client as lean as a host's (one JSON line out,
  one in, nothing validated). Claude Code and Codex are Node and Rust programs whose cost per call
  is not ours to count, so this path carries the issue-11 targets and the server CPU figure.
- ``mcp_sdk_client``: sharkfin-mcp again, through the Python SDK's ``ClientSession`` (handshake
  era), which validates every result and costs more than the server it talks to.
- ``floor_sdk`` and ``floor_bare`` (``benchmarks/floors.py``, history only): the SDK serving a tool
  that does nothing, and a server with no SDK that does the call's work and nothing else. They
  show how much of our figure is ours to cut.

The raw paths and the floors act as bob; the two sharkfin-mcp servers as alice and agent (the
daemon pushes to one connection per username). Calls are made in interleaved rounds (every path,
then again) so that background noise on the shared machine hits all paths alike. Server CPU is
utime + stime from ``/proc``,
counted over each server's own calls only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import stdio_client
from websockets.asyncio.client import ClientConnection, connect

from sharkfin_mcp.client import SharkfinClient

from ._common import (
    INITIALIZE_PARAMS,
    KEYS,
    ROOT,
    child_server_pid,
    cpu_seconds,
    sandbox_process,
    server_command,
    server_env,
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
FLOOR = [sys.executable, "-m", "benchmarks.floors"]


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
            LineSession.spawn(server_command(), server_env(sb.ws_url, "alice")) as lean,
            LineSession.spawn([*FLOOR, "sdk"], server_env(sb.ws_url, "bob")) as floor_sdk,
            LineSession.spawn([*FLOOR, "bare"], server_env(sb.ws_url, "bob")) as floor_bare,
            stdio_client(server_params(sb.ws_url)) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            raw = RawWS(ws)
            history_args = {"channel": CHANNEL, "limit": HISTORY_LIMIT}
            body = "benchmark message with a little text"
            send_args = {"channel": CHANNEL, "body": body}
            servers = {
                "mcp_stdio": lean.pid,
                "mcp_sdk_client": child_server_pid(exclude=frozenset({lean.pid})),
                "floor_sdk": floor_sdk.pid,
                "floor_bare": floor_bare.pid,
            }
            ops: dict[str, dict[str, Callable[[], Awaitable[Any]]]] = {
                "history": {
                    "raw_ws": lambda: raw.request("history", history_args),
                    "sharkfin_client": lambda: client.history(CHANNEL, limit=HISTORY_LIMIT),
                    "mcp_stdio": lambda: lean.call_tool("history", history_args),
                    "mcp_sdk_client": lambda: _tool(session, "history", history_args),
                    "floor_sdk": lambda: floor_sdk.call_tool("history", history_args),
                    "floor_bare": lambda: floor_bare.call_tool("history", history_args),
                },
                "send_message": {
                    "raw_ws": lambda: raw.request("send_message", send_args),
                    "sharkfin_client": lambda: client.send_message(CHANNEL, body),
                    "mcp_stdio": lambda: lean.call_tool("send_message", send_args),
                    "mcp_sdk_client": lambda: _tool(session, "send_message", send_args),
                },
            }
            await until_ready(session)
            await until_ready(lean)
            for paths in ops.values():
                for fn in paths.values():
                    for _ in range(warmup):
                        await fn()
            samples: dict[str, dict[str, list[float]]] = {
                op: {path: [] for path in paths} for op, paths in ops.items()
            }
            cpu: dict[str, float] = dict.fromkeys(servers, 0.0)
            for _ in range(rounds):
                for op, paths in ops.items():
                    for path, fn in paths.items():
                        pid = servers.get(path) if op == "history" else None
                        cpu0 = cpu_seconds(pid) if pid else 0.0
                        for _ in range(per_round):
                            t0 = time.perf_counter()
                            await fn()
                            samples[op][path].append(time.perf_counter() - t0)
                        if pid:
                            cpu[path] += cpu_seconds(pid) - cpu0
    calls_per_path = per_round * rounds
    server_cpu = {path: seconds * 1000 / calls_per_path for path, seconds in cpu.items()}
    out: dict[str, Any] = {
        "calls_per_path": calls_per_path,
        "history_limit": HISTORY_LIMIT,
        "server_cpu_ms_per_history_call": server_cpu["mcp_stdio"],
        "cpu_ms_per_history_call": server_cpu,
    }
    for op, paths in samples.items():
        stats = {path: summary_ms(values) for path, values in paths.items()}
        raw_ = stats["raw_ws"]
        for path in ("mcp_stdio", "mcp_sdk_client", "floor_bare"):  # floor_sdk never calls the daemon
            if path in stats:
                stats[path]["over_raw_ms"] = stats[path]["median_ms"] - raw_["median_ms"]
        mcp = stats["mcp_stdio"]
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


class LineSession:
    """A stdio MCP client as lean as a host's: a JSON line out, lines in until the one with our id.

    Nothing is validated, so the time measured is the server's and the pipes', not a client
    library's (the Python SDK's ``ClientSession`` spends more per call than our server does)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._ids = itertools.count(1)
        self.pid = process.pid

    @classmethod
    @contextlib.asynccontextmanager
    async def spawn(cls, argv: list[str], env: dict[str, str]) -> AsyncIterator[LineSession]:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
            limit=1 << 26,
        )
        session = cls(process)
        try:
            await session.request("initialize", INITIALIZE_PARAMS)
            await session._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            yield session
        finally:
            assert process.stdin is not None
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(message).encode() + b"\n")
        await self._process.stdin.drain()

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request_id = next(self._ids)
        await self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        assert self._process.stdout is not None
        while True:
            line = await self._process.stdout.readline()
            if not line:
                raise RuntimeError(f"{method}: the server closed stdout")
            answer = json.loads(line)
            if answer.get("id") == request_id:
                if "error" in answer:
                    raise RuntimeError(f"{method} failed: {answer['error']}")
                return dict(answer["result"])

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.request("tools/call", {"name": name, "arguments": arguments})
        if result.get("isError"):
            raise RuntimeError(f"tool call failed: {result['content']}")
        return result


async def _tool(session: ClientSession, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return structured(await session.call_tool(name, args))


async def until_ready(
    session: ClientSession | LineSession, channel: str = CHANNEL, within: float = 20.0
) -> None:
    """The server connects to the daemon in the background: wait until a call gets through."""
    deadline = time.monotonic() + within
    args = {"channel": channel, "limit": 1}
    while True:
        if isinstance(session, LineSession):
            answer = await session.request("tools/call", {"name": "history", "arguments": args})
            failed = bool(answer.get("isError"))
        else:
            failed = (await session.call_tool("history", args)).is_error
        if not failed:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("server never reached the sandbox")
        await anyio.sleep(0.05)
