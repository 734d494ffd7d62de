"""Cross-tool behaviour through the in-memory MCP client in both eras: unread semantics,
permission errors written for the agent, and a daemon that is down or rejects the key."""

from __future__ import annotations

import socket
from typing import Any

import anyio
import pytest
from mcp import Client

from sharkfin_mcp.client import SharkfinClient
from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server.tools import DEFAULT_TOOLS, TOOLS

from .conftest import ConnectMCP, call_err, call_ok, text_of, wait_ready
from .test_admin_tools import ARGS as ROLE_CALLS

pytestmark = pytest.mark.anyio

# Valid arguments for every tool that needs the daemon (the event tools read the local buffer).
DAEMON_CALLS: dict[str, dict[str, Any]] = {
    "send_message": {"channel": "general", "body": "x"},
    "history": {"channel": "general"},
    "unread_messages": {},
    "unread_counts": {},
    "mark_read": {"channel": "general"},
    "dm_open": {"username": "bob"},
    "dm_list": {},
    "channel_list": {},
    "channel_create": {"name": "ops"},
    "channel_join": {"channel": "general"},
    "channel_invite": {"channel": "general", "username": "bob"},
    "user_list": {},
    "set_state": {"state": "idle"},
    "capabilities": {},
    "whoami": {},
    "mention_group_create": {"slug": "team"},
    "mention_group_delete": {"slug": "team"},
    "mention_group_get": {"slug": "team"},
    "mention_group_list": {},
    "mention_group_add_member": {"slug": "team", "username": "bob"},
    "mention_group_remove_member": {"slug": "team", "username": "bob"},
    "register_webhook": {"url": "http://127.0.0.1:9/hook"},
    "unregister_webhook": {"webhook_id": "abc"},
    "list_webhooks": {},
}
ADMIN_CALLS: dict[str, dict[str, Any]] = {
    "get_settings": {},
    "set_setting": {"key": "k", "value": "v"},
    **ROLE_CALLS,
}
"""The same for the admin profile's tools (listed only with ``SHARKFIN_TOOLS=all,admin``)."""
EVENT_TOOLS = ("poll_events", "wait_for_events", "wait_for_messages")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def counts(client: Client) -> dict[str, tuple[int, int]]:
    rows = (await call_ok(client, "unread_counts")).structured_content["counts"]  # type: ignore[index]
    return {r["channel"]: (r["unread_count"], r["mention_count"]) for r in rows}


async def unread(client: Client, args: dict[str, Any] | None = None) -> tuple[list[tuple[str, int]], int]:
    """unread_messages as (channel, id) pairs in the order given, and ``remaining``. The rows do not
    repeat the channel: the group that holds them names it, and each channel is one group."""
    out = (await call_ok(client, "unread_messages", args)).structured_content
    assert out is not None
    groups = out["channels"]
    assert len({g["channel"] for g in groups}) == len(groups), groups
    assert all(g["messages"] and "channel" not in m for g in groups for m in g["messages"]), groups
    return [(g["channel"], m["id"]) for g in groups for m in g["messages"]], out["remaining"]


async def error_once_settled(client: Client, needle: str, deadline: float = 10.0) -> str:
    """Call whoami until its error text mentions ``needle`` (the first attempt may still be going)."""
    with anyio.fail_after(deadline):
        while True:
            text = await call_err(client, "whoami")
            if needle in text:
                return text
            await anyio.sleep(0.05)


# -- unread ----------------------------------------------------------------------------------------


async def test_unread_reading_does_not_mark_read(mcp: Client, alice: SharkfinClient) -> None:
    ids = [await alice.send_message("general", f"hello {i}") for i in range(3)]
    before = await counts(mcp)
    assert before["general"] == (3, 0)
    for _ in range(2):  # reading twice returns the same, with ids
        out = (await call_ok(mcp, "unread_messages")).structured_content
        assert out is not None
        assert [g["channel"] for g in out["channels"]] == ["general"]
        messages = out["channels"][0]["messages"]
        assert [m["id"] for m in messages] == ids
        assert all(m["from"] == "alice" for m in messages)
    assert await counts(mcp) == before


async def test_unread_then_mark_read_marks_exactly_what_was_returned(
    mcp: Client, alice: SharkfinClient
) -> None:
    ids = [await alice.send_message("general", f"m{i}") for i in range(4)]
    first, remaining = await unread(mcp, {"limit": 2})
    assert first == [("general", i) for i in ids[:2]] and remaining == 2
    await call_ok(mcp, "mark_read", {"channel": "general", "message_id": first[-1][1]})
    assert (await counts(mcp))["general"] == (2, 0)
    assert await unread(mcp) == ([("general", i) for i in ids[2:]], 0)


async def test_unread_messages_only_reads(mcp: Client, alice: SharkfinClient) -> None:
    tools = {t.name: t for t in (await mcp.list_tools()).tools}
    assert tools["unread_messages"].annotations is not None
    assert tools["unread_messages"].annotations.read_only_hint is True
    ids = [await alice.send_message("general", f"m{i}") for i in range(3)]
    for _ in range(2):  # reading twice returns the same messages: nothing was consumed
        assert await unread(mcp) == ([("general", i) for i in ids], 0)
    assert (await counts(mcp))["general"] == (3, 0)


async def test_unread_arriving_between_read_and_mark_is_kept(mcp: Client, alice: SharkfinClient) -> None:
    first = await alice.send_message("general", "early")
    assert await unread(mcp) == ([("general", first)], 0)
    late = await alice.send_message("general", "late")
    await call_ok(mcp, "mark_read", {"channel": "general", "message_id": first})
    assert await unread(mcp) == ([("general", late)], 0)


async def test_unread_skips_own_messages_and_spans_channels(mcp: Client, alice: SharkfinClient) -> None:
    await call_ok(mcp, "channel_create", {"name": "ops", "members": ["alice"]})
    await call_ok(mcp, "send_message", {"channel": "general", "body": "mine"})
    a = await alice.send_message("ops", "in ops")
    b = await alice.send_message("general", "in general")
    assert await unread(mcp) == ([("ops", a), ("general", b)], 0)
    assert await unread(mcp, {"channel": "ops"}) == ([("ops", a)], 0)


# -- permissions -----------------------------------------------------------------------------------


async def test_permission_denied_explains_role_and_admin(connect_mcp: ConnectMCP, mode: str) -> None:
    async with connect_mcp(mode, identity="alice") as client:
        text = await call_err(client, "channel_create", {"name": "alices"})
    assert "create_channel" in text
    assert "permission" in text
    assert "admin" in text and "grant" in text
    assert "'alice'" in text and "'user'" in text  # who and which role
    assert "do not retry" in text


async def test_private_channel_membership_errors_are_errors(connect_mcp: ConnectMCP, mode: str) -> None:
    async with connect_mcp(mode, identity="bob") as client:
        text = await call_err(client, "history", {"channel": "general"})
    assert "member" in text or "participant" in text, text


async def test_channel_join_refuses_private_channels_and_dms(
    connect_mcp: ConnectMCP, mode: str, sandbox: Sandbox
) -> None:
    async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("alice")) as alice:
        dm = (await alice.dm_open("bob")).channel
        await alice.send_message(dm, "just between us")
    sandbox.state.create_channel("secret", public=False, creator=None)
    async with connect_mcp(mode) as client:
        assert await call_err(client, "channel_join", {"channel": "secret"})
        assert await call_err(client, "channel_join", {"channel": dm})


# -- the daemon down or rejecting us ---------------------------------------------------------------


def test_every_tool_is_called_by_the_unreachable_daemon_test() -> None:
    assert set(DAEMON_CALLS) | set(EVENT_TOOLS) == set(DEFAULT_TOOLS)
    assert set(ADMIN_CALLS) == {spec.name for spec in TOOLS if spec.admin}


@pytest.mark.parametrize("profile", ["all", "all,admin"])
async def test_every_daemon_tool_reports_an_unreachable_daemon(
    connect_mcp: ConnectMCP, mode: str, profile: str
) -> None:
    url = f"ws://127.0.0.1:{closed_port()}/ws"
    calls = DAEMON_CALLS | (ADMIN_CALLS if profile == "all,admin" else {})
    async with connect_mcp(mode, ready=False, url=url, presence=False, tool_profile=profile) as client:
        with anyio.fail_after(1):  # listing never waits for the daemon
            listed = {t.name for t in (await client.list_tools()).tools}
        assert listed == set(calls) | set(EVENT_TOOLS)
        await error_once_settled(client, "not reachable")
        for tool, args in calls.items():
            text = await call_err(client, tool, args)
            assert "not reachable" in text and url in text, (tool, text)
            assert "SHARKFIN_URL" in text and "again" in text, (tool, text)
        for tool in EVENT_TOOLS:
            out = await call_ok(client, tool, {"timeout_seconds": 0} if tool != "poll_events" else {})
            assert out.structured_content is not None and out.structured_content["events"] == []


async def test_wrong_key_is_reported_as_rejected(
    connect_mcp: ConnectMCP, mode: str, sandbox: Sandbox
) -> None:
    async with connect_mcp(mode, ready=False, api_key="not-a-key", presence=False) as client:
        text = await error_once_settled(client, "rejected")
        assert "rejected the API key" in text and "(test)" in text
        assert "SHARKFIN_API_KEY" in text and "retrying will not help" in text
        assert "not-a-key" not in text
        text = await call_err(client, "history", {"channel": "general"})
        assert "rejected" in text
        # resources report the same instead of crashing the session
        from mcp import MCPError

        with pytest.raises(MCPError) as info:
            await client.read_resource("sharkfin://channels")
        assert "rejected" in str(info.value.error.message) or info.value.error.code < 0


async def test_tools_work_after_the_daemon_comes_back(
    connect_mcp: ConnectMCP, mode: str, sandbox: Sandbox
) -> None:
    async with connect_mcp(mode) as client:
        await sandbox.stop()
        await error_once_settled(client, "not")
        await sandbox.start()
        await wait_ready(client, deadline=15)
        out = await call_ok(client, "whoami")
        assert "agent" in text_of(out)
