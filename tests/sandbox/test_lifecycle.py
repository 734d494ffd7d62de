"""Restart on the same port, fault modes, disconnect_all, clean stop, keepalive and the CLI."""

from __future__ import annotations

import asyncio
import json

import anyio
import anyio.lowlevel
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from sharkfin_mcp.sandbox import DEMO_IDENTITIES, Identity, Sandbox
from sharkfin_mcp.sandbox.__main__ import main
from sharkfin_mcp.sandbox._cli import build_parser

from ._wire import auth, ws

pytestmark = pytest.mark.anyio


async def test_restart_same_port_keeps_state(sandbox: Sandbox) -> None:
    port = sandbox.port
    async with ws(sandbox, "agent") as agent:
        await agent.ok("channel_create", {"name": "ops", "members": ["bob"]})
        await agent.ok("send_message", {"channel": "ops", "body": "before restart"})
        await agent.recv()
        await sandbox.stop()
        with pytest.raises(ConnectionClosed):
            await agent.conn.recv()
    with pytest.raises(OSError):
        async with connect(sandbox.ws_url, additional_headers=auth(sandbox, "bob"), open_timeout=1):
            pass
    await sandbox.start()
    assert sandbox.port == port
    async with ws(sandbox, "bob") as bob:
        history = await bob.ok("history", {"channel": "ops"})
        assert [m["body"] for m in history["messages"]] == ["before restart"]
        assert (await bob.ok("unread_counts"))["counts"][0]["unread_count"] == 1
    assert sandbox.role_of("agent") == "admin"


async def test_stall_mode(sandbox: Sandbox) -> None:
    async with ws(sandbox, "alice") as alice, ws(sandbox, "agent") as agent:
        await alice.recv()
        await agent.ok("channel_create", {"name": "ops", "members": ["alice"]})
        sandbox.stall = True
        await agent.send_raw(json.dumps({"type": "ping", "ref": "p"}))
        await agent.send_raw(
            json.dumps({"type": "send_message", "ref": "s", "d": {"channel": "ops", "body": "x"}})
        )
        assert await agent.silent(0.3)
        assert await alice.silent(0.05)
        assert sandbox.message_count() == 0
        sandbox.stall = False
        assert await agent.req("ping") == {"type": "pong", "ref": "r2", "ok": True}


async def test_drop_replies_executes_but_drops(sandbox: Sandbox) -> None:
    async with ws(sandbox, "agent") as agent, ws(sandbox, "alice") as alice:
        await agent.recv()
        await agent.ok("channel_create", {"name": "ops", "members": ["alice"]})
        sandbox.drop_replies = 1
        await agent.send_raw(
            json.dumps({"type": "send_message", "ref": "s", "d": {"channel": "ops", "body": "x"}})
        )
        event = await agent.recv()  # the reply is gone, the push is not
        assert (event["type"], event["d"]["id"]) == ("message.new", 1)
        assert (await alice.recv())["type"] == "message.new"
        assert sandbox.message_count() == 1
        assert sandbox.drop_replies == 0
        assert sandbox.messages_for_test("ops")[0]["body"] == "x"
        assert await agent.req("ping") == {"type": "pong", "ref": "r2", "ok": True}


async def test_disconnect_all_keeps_serving(sandbox: Sandbox) -> None:
    async with ws(sandbox, "alice") as alice, ws(sandbox, "bob", path="/presence") as presence:
        await sandbox.disconnect_all()
        with pytest.raises(ConnectionClosed):
            await alice.recv()
        with pytest.raises(ConnectionClosed):
            await presence.recv()
    assert not sandbox.is_connected("alice")
    async with ws(sandbox, "alice") as alice:
        assert (await alice.req("ping"))["ok"] is True
        users = (await alice.ok("user_list"))["users"]
        assert all(u["online"] is False for u in users)


async def test_clean_stop_is_fast_and_leaves_no_tasks() -> None:
    before = len(asyncio.all_tasks())
    sb = Sandbox()
    await sb.start()
    async with ws(sb, "alice") as alice, ws(sb, "bob", path="/presence"), httpx.AsyncClient() as http:
        await http.get(sb.http_url + "/ui/health")
        with anyio.fail_after(1.0):
            await sb.stop()
        with pytest.raises(ConnectionClosed):
            await alice.recv()
    await anyio.lowlevel.checkpoint()
    assert len(asyncio.all_tasks()) == before
    await sb.stop()  # idempotent


async def test_keepalive_drops_silent_clients() -> None:
    async with Sandbox(presence_timeout=0.4) as sb:
        conn = await connect(sb.ws_url, additional_headers=auth(sb, "alice"), ping_interval=None)
        try:
            # stop reading: the client's protocol layer still answers pings only while we read,
            # so pause the transport to simulate a client that never pongs.
            conn.transport.pause_reading()
            await anyio.sleep(0.7)
            assert not sb.is_connected("alice")
        finally:
            conn.transport.resume_reading()
            await conn.close()


async def test_cli_parser_and_serve_failure() -> None:
    args = build_parser().parse_args(["--port", "0", "--key", "k1=zed:service", "--key", "k2=amy"])
    assert args.keys == [Identity("zed", "k1", "service"), Identity("amy", "k2", "user")]
    assert DEMO_IDENTITIES[0] == Identity("agent", "demo-agent-key", "agent")
    async with Sandbox() as sb:
        # port in use → exit code 1, no traceback
        assert await anyio.to_thread.run_sync(main, ["--port", str(sb.port)]) == 1


async def test_standalone_keys_are_provisioned_on_first_contact_not_at_start() -> None:
    """As on the real daemon (PROTOCOL.md §2.4): an identity exists once it first connects, and
    the first one to connect becomes admin, whatever order the --key flags were given in."""
    import socket
    import subprocess
    import sys

    from sharkfin_mcp.client import SharkfinClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "sharkfin_mcp.sandbox", "--port", str(port)]
    command += ["--key", "k-zed=zed", "--key", "k-amy=amy:agent"]
    process = await anyio.open_process(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"ws://127.0.0.1:{port}/ws"
        with anyio.fail_after(15):
            while True:
                try:
                    amy = await SharkfinClient.connect(url, api_key="k-amy")
                    break
                except Exception:
                    await anyio.sleep(0.1)
        async with amy:
            assert [u.username for u in await amy.users()] == ["amy"]
            assert "manage_roles" in await amy.capabilities()  # first contact → admin
            async with await SharkfinClient.connect(url, api_key="k-zed") as zed:
                assert sorted(u.username for u in await zed.users()) == ["amy", "zed"]
                assert "manage_roles" not in await zed.capabilities()
    finally:
        process.terminate()
        with anyio.fail_after(10):
            await process.wait()
