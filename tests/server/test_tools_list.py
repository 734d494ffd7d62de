"""tools/list through a real MCP client in both eras: names, schemas, annotations, prompts."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from mcp import Client

from sharkfin_mcp.server.tools import DEFAULT_TOOLS, TOOLS

from .conftest import ConnectMCP

pytestmark = pytest.mark.anyio

TOOL_NAMES = {
    "send_message",
    "history",
    "unread_messages",
    "unread_counts",
    "mark_read",
    "dm_open",
    "dm_list",
    "channel_list",
    "channel_create",
    "channel_join",
    "channel_invite",
    "user_list",
    "set_state",
    "capabilities",
    "whoami",
    "mention_group_create",
    "mention_group_delete",
    "mention_group_get",
    "mention_group_list",
    "mention_group_add_member",
    "mention_group_remove_member",
    "register_webhook",
    "unregister_webhook",
    "list_webhooks",
    "poll_events",
    "wait_for_events",
    "wait_for_messages",
}
"""The tools listed with the default settings."""

SETTINGS_TOOLS = {"get_settings", "set_setting"}
ROLE_TOOLS = {"list_roles", "set_role", "create_role", "delete_role", "grant_permission", "revoke_permission"}
ADMIN_TOOLS = SETTINGS_TOOLS | ROLE_TOOLS
"""The admin profile's tools (they change the daemon for everyone): never in the default list."""

READ_ONLY = {
    "history",
    "unread_counts",
    "dm_list",
    "channel_list",
    "user_list",
    "capabilities",
    "whoami",
    "mention_group_get",
    "mention_group_list",
    "list_webhooks",
    "get_settings",
    "poll_events",
    "wait_for_events",
    "wait_for_messages",
}
DESTRUCTIVE = {
    "mention_group_delete",
    "mention_group_remove_member",
    "unregister_webhook",
    "set_setting",
}


def _prop(schema: dict[str, Any], name: str) -> dict[str, Any]:
    prop = schema["properties"][name]
    assert isinstance(prop, dict)
    return prop


@pytest.fixture(params=["legacy", "auto"])
async def offline_client(request: pytest.FixtureRequest, connect_mcp: ConnectMCP) -> Any:
    # Listing needs no daemon round trip; don't wait for the connection.
    async with connect_mcp(request.param, ready=False) as client:
        yield client


async def test_tool_names_exact(offline_client: Client) -> None:
    tools = (await offline_client.list_tools()).tools
    names = [t.name for t in tools]
    assert len(names) == len(set(names)) == len(DEFAULT_TOOLS) == 27
    assert names == DEFAULT_TOOLS  # listed in catalogue order
    assert set(names) == TOOL_NAMES
    assert {spec.name for spec in TOOLS} == TOOL_NAMES | ADMIN_TOOLS
    assert {spec.name for spec in TOOLS if spec.admin} == ADMIN_TOOLS


async def test_every_tool_has_description_output_schema_and_all_hints(
    connect_mcp: ConnectMCP, mode: str
) -> None:
    async with connect_mcp(mode, ready=False, tool_profile="all,admin") as client:
        listed = (await client.list_tools()).tools
    assert {t.name for t in listed} == TOOL_NAMES | ADMIN_TOOLS
    for tool in listed:
        assert tool.description and len(tool.description) >= 10, tool.name
        assert tool.output_schema is not None, tool.name
        assert tool.output_schema.get("type") == "object", tool.name
        jsonschema.Draft202012Validator.check_schema(tool.output_schema)
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        ann = tool.annotations
        assert ann is not None, tool.name
        for hint in ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"):
            assert getattr(ann, hint) is not None, f"{tool.name}.{hint}"
        if tool.name in ROLE_TOOLS:
            continue  # their hints follow the daemon's replies: test_admin_tools checks them
        read_only = tool.name in READ_ONLY
        if tool.name == "unread_messages":
            # read-only exactly when it cannot mark anything read itself
            read_only = "mark_read" not in tool.input_schema["properties"]
        assert ann.read_only_hint is read_only, tool.name
        assert ann.destructive_hint is (tool.name in DESTRUCTIVE), tool.name
        assert ann.open_world_hint is (tool.name == "register_webhook"), tool.name
        if ann.read_only_hint and tool.name not in ("poll_events", "wait_for_events", "wait_for_messages"):
            assert ann.idempotent_hint is True, tool.name  # (the event tools may move a cursor)
        # ctx is injected by the SDK and must not leak into the schema
        assert "ctx" not in tool.input_schema.get("properties", {}), tool.name


async def test_schema_constraints(offline_client: Client) -> None:
    tools = {t.name: t for t in (await offline_client.list_tools()).tools}

    limit = _prop(tools["history"].input_schema, "limit")
    assert (limit["type"], limit["minimum"], limit["maximum"]) == ("integer", 1, 100)
    assert tools["history"].input_schema["required"] == ["channel"]

    state = _prop(tools["set_state"].input_schema, "state")
    assert state["type"] == "string"
    assert sorted(state["enum"]) == ["active", "idle"]
    assert tools["set_state"].input_schema["required"] == ["state"]

    send = tools["send_message"].input_schema
    assert sorted(send["required"]) == ["body", "channel"]
    assert _prop(send, "metadata")["type"] == "object"
    assert {k: v for k, v in _prop(send, "thread_id").items() if k != "description"} == {
        "type": "integer",
        "minimum": 1,
    }
    # lean: no length limits on names (the daemon judges them), just a short description
    assert _prop(send, "channel") == {"type": "string", "description": "Channel name"}
    assert _prop(tools["dm_open"].input_schema, "username") == {"type": "string", "description": "Username"}
    assert _prop(tools["mention_group_get"].input_schema, "slug") == {
        "type": "string",
        "description": "Group slug",
    }
    for tool in tools.values():
        for name, prop in tool.input_schema.get("properties", {}).items():
            assert "title" not in prop and "anyOf" not in prop, (tool.name, name)
            if prop.get("type") == "boolean":  # a flag's false default is what a flag means
                assert prop.get("default") is not False, (tool.name, name)
            assert "default" not in prop or prop["default"] is not None, (tool.name, name)
            if name in ("channel", "username", "slug"):
                assert "minLength" not in prop and "maxLength" not in prop, (tool.name, name)
                if name == "slug" and tool.name != "mention_group_create":
                    assert "pattern" not in prop, (tool.name, name)

    for name in ("wait_for_events", "wait_for_messages"):
        timeout = _prop(tools[name].input_schema, "timeout_seconds")
        assert (timeout["minimum"], timeout["maximum"]) == (0, 50), name

    types = _prop(tools["poll_events"].input_schema, "types")
    assert set(types["items"]["enum"]) >= {
        "message.new",
        "presence",
        "capabilities",
        "connection",
        "events.dropped",
    }
    slug = _prop(tools["mention_group_create"].input_schema, "slug")
    assert slug["pattern"] == "^[a-zA-Z0-9_-]+$"
    assert _prop(tools["register_webhook"].input_schema, "url")["pattern"] == "^https?://"

    events = tools["poll_events"].output_schema
    assert events is not None
    assert {"events", "next_after", "dropped", "timed_out"} <= set(events["properties"])
    history = tools["history"].output_schema
    assert history is not None
    assert {"messages", "next_before"} <= set(history["properties"])
    assert "channel" not in history["properties"]  # the caller named it; rows do not repeat it


async def test_server_identity_and_instructions(offline_client: Client) -> None:
    from sharkfin_mcp._version import __version__

    info = offline_client.server_info
    assert info is not None
    assert info.name == "sharkfin"
    assert info.version == __version__
    assert offline_client.instructions and "wait_for_messages" in offline_client.instructions
    caps = offline_client.server_capabilities
    assert caps is not None and caps.tools is not None and caps.resources is not None


async def test_prompts(offline_client: Client) -> None:
    prompts = {p.name: p for p in (await offline_client.list_prompts()).prompts}
    assert set(prompts) == {"catch_up", "summarize_channel", "stand_by"}
    got = await offline_client.get_prompt("summarize_channel", {"channel": "ops"})
    assert got.messages and got.messages[0].role == "user"
    content = got.messages[0].content
    assert content.type == "text" and "history(channel='ops'" in content.text


def test_the_lean_message_schema_names_every_field_of_a_message() -> None:
    from datetime import UTC, datetime

    from sharkfin_mcp.client import Message
    from sharkfin_mcp.server._results import MESSAGE_ITEM_SCHEMA, message_line, message_row

    full = Message(
        id=7, sender="bob", body="a\nb", sent_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        thread_id=3, mentions=["agent"], metadata={"k": 1},
    )  # fmt: skip
    row = message_row(full)
    assert list(row) == ["id", "from", "body", "sent_at", "thread_id", "mentions", "metadata"]
    for name in row:
        assert f"{name} (" in MESSAGE_ITEM_SCHEMA["description"], name
    # the fields every message has are the ones the description promises are always there
    assert list(message_row(Message(id=1, sender="b"))) == ["id", "from", "body"]
    assert "id, from and body are always there" in MESSAGE_ITEM_SCHEMA["description"]
    # no per-field checks for clients to run, and no `required` for a strict compiler to reject
    assert MESSAGE_ITEM_SCHEMA["type"] == "object"
    assert "required" not in MESSAGE_ITEM_SCHEMA and "properties" not in MESSAGE_ITEM_SCHEMA
    assert message_line(row, "general") == '[7] 2026-01-02T03:04:05Z #general bob ↳3: a\\nb meta={"k":1}'
