"""Resources and subscriptions through the in-memory MCP client: list/read in both eras,
``resources/subscribe`` in the handshake era, ``subscriptions/listen`` in the 2026-07-28 era."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp import Client, MCPDeprecationWarning, MCPError
from mcp.types import ResourceUpdatedNotification

from sharkfin_mcp.client import SharkfinClient

from .conftest import ConnectMCP, call_ok

pytestmark = pytest.mark.anyio

STATIC = {"sharkfin://channels", "sharkfin://unread", "sharkfin://users", "sharkfin://me"}
TEMPLATE = "sharkfin://channels/{channel}/history"


async def read_json(client: Client, uri: str) -> Any:
    result = await client.read_resource(uri)
    assert len(result.contents) == 1
    content = result.contents[0]
    assert content.uri == uri and content.mime_type == "application/json"
    assert hasattr(content, "text")
    return json.loads(content.text)


async def test_list_and_read_resources(mcp: Client, alice: SharkfinClient) -> None:
    listed = {r.uri: r for r in (await mcp.list_resources()).resources}
    assert set(listed) == STATIC
    assert all(r.mime_type == "application/json" and r.description for r in listed.values())
    templates = (await mcp.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == [TEMPLATE]
    assert templates[0].mime_type == "application/json"

    message_id = await alice.send_message("general", "hi @agent")
    channels = await read_json(mcp, "sharkfin://channels")
    assert {"name": "general", "public": True, "member": True}.items() <= next(
        c for c in channels if c["name"] == "general"
    ).items()
    unread = await read_json(mcp, "sharkfin://unread")
    assert {"channel": "general", "unread_count": 1, "mention_count": 1}.items() <= unread[0].items()
    users = {u["username"] for u in await read_json(mcp, "sharkfin://users")}
    assert {"agent", "alice", "bob", "flow-bot"} <= users
    me = await read_json(mcp, "sharkfin://me")
    assert me["username"] == "agent" and me["role"] == "admin" and "manage_roles" in me["permissions"]
    assert "key" not in json.dumps(me).lower()
    history = await read_json(mcp, "sharkfin://channels/general/history")
    assert [(m["id"], m["from"], m["body"]) for m in history] == [(message_id, "alice", "hi @agent")]


async def test_read_unknown_channel_history_is_a_protocol_error(mcp: Client) -> None:
    with pytest.raises(MCPError) as info:
        await mcp.read_resource("sharkfin://channels/nope/history")
    assert "not found" in info.value.error.message


async def test_legacy_subscribe_unread_gets_updates(connect_mcp: ConnectMCP, alice: SharkfinClient) -> None:
    updates: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            arrived.set()

    async with connect_mcp("legacy", message_handler=on_message) as client:
        await call_ok(client, "channel_join", {"channel": "general"})
        assert client.protocol_version == "2025-11-25"
        caps = client.server_capabilities
        assert caps is not None and caps.resources is not None and caps.resources.subscribe is True
        with pytest.warns(MCPDeprecationWarning):
            await client.subscribe_resource("sharkfin://unread")
        await alice.send_message("general", "anyone?")
        with anyio.fail_after(2):
            await arrived.wait()
        assert updates == ["sharkfin://unread"]
        # after unsubscribing, nothing more arrives
        with pytest.warns(MCPDeprecationWarning):
            await client.unsubscribe_resource("sharkfin://unread")
        await alice.send_message("general", "still there?")
        await anyio.sleep(0.3)
        assert updates == ["sharkfin://unread"]


async def test_modern_listen_gets_history_updates(connect_mcp: ConnectMCP, alice: SharkfinClient) -> None:
    async with connect_mcp("auto") as client:
        assert client.protocol_version == "2026-07-28"
        await call_ok(client, "channel_join", {"channel": "general"})
        uri = "sharkfin://channels/general/history"
        async with client.listen(resource_subscriptions=[uri]) as stream:
            await alice.send_message("general", "news")
            with anyio.fail_after(5):
                event = await stream.__anext__()
        assert event.uri == uri


async def test_modern_listen_unread_updates_on_mark_read(
    connect_mcp: ConnectMCP, alice: SharkfinClient
) -> None:
    async with connect_mcp("auto") as client:
        await call_ok(client, "channel_join", {"channel": "general"})
        message_id = await alice.send_message("general", "read me")
        async with client.listen(resource_subscriptions=["sharkfin://unread"]) as stream:
            await call_ok(client, "mark_read", {"channel": "general", "message_id": message_id})
            with anyio.fail_after(5):
                event = await stream.__anext__()
        assert event.uri == "sharkfin://unread"
