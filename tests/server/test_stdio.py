"""``sharkfin-mcp`` as a real stdio subprocess (``python -m sharkfin_mcp.cli``) against a sandbox
running in the test process: both protocol eras through the SDK client, two server processes
talking to each other, ``--sandbox`` mode, a daemon that is down or rejects the key, and the raw
wire: stdout carries only JSON-RPC, the key never leaks, and the process exits on stdin EOF."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server.tools import DEFAULT_TOOLS

from .._stdio_wire import ROOT, RawServer
from .conftest import call_err, call_ok, text_of, wait_ready

pytestmark = pytest.mark.anyio


def server_env(url: str | None = None, key: str | None = None, **extra: str) -> dict[str, str]:
    env = {"PYTHONPATH": ROOT, "PYTHONUNBUFFERED": "1", "SHARKFIN_LOG_LEVEL": "WARNING"}
    if url is not None:
        env["SHARKFIN_URL"] = url
    if key is not None:
        env["SHARKFIN_API_KEY"] = key
    env.update(extra)
    return env


def params(env: dict[str, str], *args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "sharkfin_mcp.cli", *args], env=env, cwd=ROOT
    )


@asynccontextmanager
async def stdio_client(
    env: dict[str, str], *args: str, mode: str = "legacy", ready: bool = True
) -> AsyncIterator[Client]:
    async with Client(params(env, *args), mode=mode) as client:  # type: ignore[arg-type]
        if ready:
            await wait_ready(client, deadline=15)
        yield client


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- through the SDK client --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_stdio_tools_in_both_eras(sandbox: Sandbox, mode: str) -> None:
    env = server_env(sandbox.ws_url, sandbox.key("agent"))
    async with stdio_client(env, mode=mode) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        assert len((await client.list_tools()).tools) == len(DEFAULT_TOOLS)
        who = (await call_ok(client, "whoami")).structured_content
        assert who is not None and who["username"] == "agent"
        await call_ok(client, "channel_join", {"channel": "general"})
        sent = await call_ok(client, "send_message", {"channel": "general", "body": "over\nstdio"})
        assert sent.structured_content is not None
        history = await call_ok(client, "history", {"channel": "general"})
        assert text_of(history).startswith(f"[{sent.structured_content['id']}] ")
        assert text_of(history).endswith(r"agent: over\nstdio")
        assert "not found" in await call_err(client, "history", {"channel": "nope"})
        resource = await client.read_resource("sharkfin://me")
        assert json.loads(resource.contents[0].text)["username"] == "agent"  # type: ignore[union-attr]


async def test_two_server_processes_exchange_messages(sandbox: Sandbox) -> None:
    agent_env = server_env(sandbox.ws_url, sandbox.key("agent"))
    bob_env = server_env(sandbox.ws_url, sandbox.key("bob"))
    async with (
        stdio_client(agent_env, mode="legacy") as agent,
        stdio_client(bob_env, mode="auto") as bob,
    ):
        await call_ok(agent, "channel_join", {"channel": "general"})
        await call_ok(bob, "channel_join", {"channel": "general"})
        result: dict[str, Any] = {}

        async def bob_waits() -> None:
            result["bob"] = (
                await call_ok(bob, "wait_for_messages", {"timeout_seconds": 20})
            ).structured_content

        async with anyio.create_task_group() as tg:
            tg.start_soon(bob_waits)
            await anyio.sleep(0.2)
            sent = await call_ok(agent, "send_message", {"channel": "general", "body": "hi @bob"})
        first_id = sent.structured_content["id"]  # type: ignore[index]
        events = result["bob"]["events"]
        assert [(e["type"], e["channel"], e["data"]["id"], e["data"]["from"]) for e in events] == [
            ("message.new", "general", first_id, "agent")
        ]
        assert events[0]["data"]["mentions"] == ["bob"]

        await call_ok(bob, "send_message", {"channel": "general", "body": "hi agent", "thread_id": first_id})
        got = (await call_ok(agent, "wait_for_messages", {"timeout_seconds": 10})).structured_content
        assert got is not None
        replies = [e["data"] for e in got["events"] if e["data"].get("from") == "bob"]
        assert [(r["body"], r["thread_id"]) for r in replies] == [("hi agent", first_id)]
        # and each sees the other online
        users = (await call_ok(agent, "user_list")).structured_content
        assert {u["username"]: u["online"] for u in users["users"]}["bob"] is True  # type: ignore[index]


async def test_sandbox_flag_runs_standalone() -> None:
    async with stdio_client(server_env(), "--sandbox") as client:
        who = (await call_ok(client, "whoami")).structured_content
        assert who is not None and who["username"] == "agent"
        assert who["role"] == "admin"
        unread = (await call_ok(client, "unread_messages")).structured_content
        assert unread is not None
        assert [(g["channel"], [m["from"] for m in g["messages"]]) for g in unread["channels"]] == [
            ("general", ["alice"])
        ]
        assert "@agent" in unread["channels"][0]["messages"][0]["body"]
        sent = await call_ok(client, "send_message", {"channel": "general", "body": "hello sandbox"})
        assert sent.structured_content is not None and sent.structured_content["id"] >= 2


async def test_sandbox_as_another_identity() -> None:
    async with stdio_client(server_env(), "--sandbox", "--sandbox-as", "bob", mode="auto") as client:
        who = (await call_ok(client, "whoami")).structured_content
        assert who is not None and who["username"] == "bob"
        assert "create_channel" in await call_err(client, "channel_create", {"name": "x"})


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_initialize_answered_with_the_daemon_down(mode: str) -> None:
    url = f"ws://127.0.0.1:{closed_port()}/ws"
    started = time.monotonic()
    async with stdio_client(server_env(url, "some-key"), mode=mode, ready=False) as client:
        initialized = time.monotonic() - started
        assert initialized < 5.0  # process start-up (~1 s) plus initialize; never a connect timeout
        assert len((await client.list_tools()).tools) == len(DEFAULT_TOOLS)
        with anyio.fail_after(10):
            while "not reachable" not in (text := await call_err(client, "whoami")):
                await anyio.sleep(0.1)
        assert url in text and "SHARKFIN_URL" in text
        assert "127.0.0.1" in text
        assert "some-key" not in text


async def test_wrong_key_is_reported_over_stdio(sandbox: Sandbox) -> None:
    async with stdio_client(server_env(sandbox.ws_url, "wrong-key"), ready=False) as client:
        with anyio.fail_after(10):
            while "rejected" not in (text := await call_err(client, "whoami")):
                await anyio.sleep(0.1)
        assert "rejected the API key" in text and "env:SHARKFIN_API_KEY" in text
        assert "wrong-key" not in text


# -- the raw wire ---------------------------------------------------------------------------------------


async def test_stdout_carries_only_jsonrpc_and_the_key_never_leaks(sandbox: Sandbox) -> None:
    key = sandbox.key("agent")
    server = RawServer(server_env(sandbox.ws_url, key, SHARKFIN_LOG_LEVEL="DEBUG"))
    try:
        server.initialize()
        init = await server.reply(1)
        assert init["result"]["protocolVersion"] == "2025-11-25"
        assert init["result"]["serverInfo"]["name"] == "sharkfin"
        server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        request_id = 2
        with anyio.fail_after(15):
            while True:  # the daemon connection is made in the background
                server.call(request_id, "whoami", {})
                reply = await server.reply(request_id)
                request_id += 1
                if not reply["result"].get("isError"):
                    break
                await anyio.sleep(0.1)
        server.call(request_id, "channel_join", {"channel": "general"})
        await server.reply(request_id)
        server.call(request_id + 1, "send_message", {"channel": "general", "body": "print('x')"})
        sent = await server.reply(request_id + 1)
        assert sent["result"]["structuredContent"]["channel"] == "general"
        server.call(request_id + 2, "history", {"channel": "nope"})
        failed = await server.reply(request_id + 2)
        assert failed["result"]["isError"] is True
        server.send({"jsonrpc": "2.0", "id": request_id + 3, "method": "no/such/method"})
        unknown = await server.reply(request_id + 3)
        assert unknown["error"]["code"] == -32601
    finally:
        eof_at = time.monotonic()
        code = await anyio.to_thread.run_sync(server.close)
    assert code == 0  # exits cleanly on stdin EOF ...
    assert time.monotonic() - eof_at < 5.0  # ... and promptly
    assert server.all_stdout, "no output at all"
    for raw in server.all_stdout:
        message = json.loads(raw)
        assert message["jsonrpc"] == "2.0", raw
        assert "id" in message or "method" in message, raw
    stderr = b"".join(server.all_stderr).decode(errors="replace")
    stdout = b"".join(server.all_stdout).decode(errors="replace")
    assert "DEBUG" in stderr  # the debug log really was on
    assert key not in stdout and key not in stderr


async def test_exits_on_stdin_eof_with_the_daemon_down() -> None:
    server = RawServer(server_env(f"ws://127.0.0.1:{closed_port()}/ws", "k"))
    server.initialize()
    reply = await server.reply(1, timeout=5)
    assert "result" in reply
    code = await anyio.to_thread.run_sync(server.close)
    assert code == 0


async def test_exits_on_eof_while_a_wait_is_pending(sandbox: Sandbox) -> None:
    server = RawServer(server_env(sandbox.ws_url, sandbox.key("agent")))
    server.initialize()
    await server.reply(1)
    server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    server.call(2, "wait_for_events", {"timeout_seconds": 50})
    await anyio.sleep(0.3)
    code = await anyio.to_thread.run_sync(server.close)
    assert code == 0
