"""Arguments as language models send them, for every tool through a real MCP client: ``null`` means
the default, numbers may be strings, ``after=0`` is the start, and a bad argument gets one plain
sentence. And the lean input schemas that carry it: no titles, no null branches, every parameter
described, every limit stated in words as well as in the schema."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
from mcp import Client
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import Tool
from pydantic import AfterValidator, Field

from sharkfin_mcp.client import SharkfinClient
from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server._arguments import ArgumentSpec

from .conftest import ConnectMCP, call_ok, text_of

pytestmark = pytest.mark.anyio

REQUIRED_VALUES: dict[str, Any] = {
    "channel": "general",
    "body": "hello",
    "username": "alice",
    "slug": "crew",
    "url": "http://127.0.0.1:9/hook",
    "webhook_id": "0" * 32,
    "key": "motd",
    "value": "hi",
    "name": "fresh",
    "state": "active",
}
"""A valid value for each required parameter name used by any tool."""

QUICK = {"timeout_seconds": 0}
"""Keeps the waiting tools from waiting."""


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(n for v in node.values() for n in _walk(v))]
    if isinstance(node, list):
        return [n for v in node for n in _walk(v)]
    return []


def _argument_complaint(text: str) -> str | None:
    """The argument an error is about, if it is an argument error."""
    found = re.search(r"(\w+) (must be |is required|is not valid)", text)
    return found.group(1) if found else None


@pytest.fixture
async def tools(connect_mcp: ConnectMCP, mode: str) -> AsyncIterator[tuple[Client, list[Tool]]]:
    async with connect_mcp(mode) as client:
        await call_ok(client, "channel_join", {"channel": "general"})
        yield client, (await client.list_tools()).tools


# -- the schemas --------------------------------------------------------------------------------------------


async def test_input_schemas_are_lean(tools: tuple[Client, list[Tool]]) -> None:
    _, listed = tools
    for tool in listed:
        schema = tool.input_schema
        for node in _walk(schema):
            assert "title" not in node, (tool.name, node)
            for branch in node.get("anyOf", []):
                assert branch != {"type": "null"}, (tool.name, node)
            assert node.get("default", 0) is not None, (tool.name, node)
            assert node.get("default", 0) is not False, (tool.name, node)  # a flag's default is false
        for name, prop in schema["properties"].items():
            description = prop.get("description", "")
            assert 3 <= len(description) <= 140, (tool.name, name, description)
            limits = [prop.get("maximum")]
            if prop.get("maxLength", 0) > 200:  # free text, as opposed to the name of something
                limits.append(prop["maxLength"])
            for limit in filter(None, limits):
                assert str(limit) in description, f"{tool.name}.{name}: state the limit {limit} in words"


def test_lean_schema_keeps_constraints_and_drops_only_noise() -> None:
    from sharkfin_mcp.server._arguments import lean_schema

    pydantic_style = {
        "title": "x_arguments",
        "type": "object",
        "properties": {
            "after": {
                "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
                "default": None,
                "description": "d",
                "title": "After",
            },
            "limit": {"type": "integer", "maximum": 5, "default": 3, "title": "Limit", "description": "e"},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}], "title": "Either"},
            "flag": {"type": "boolean", "default": False, "title": "Flag", "description": "f"},
            "public": {"type": "boolean", "default": True, "title": "Public", "description": "g"},
        },
        "required": [],
    }
    assert lean_schema(pydantic_style) == {
        "type": "object",
        "properties": {
            "after": {"type": "integer", "minimum": 0, "description": "d"},
            "limit": {"type": "integer", "maximum": 5, "default": 3, "description": "e"},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "flag": {"type": "boolean", "description": "f"},
            "public": {"type": "boolean", "default": True, "description": "g"},
        },
    }


# -- null, strings, after=0 --------------------------------------------------------------------------------


async def test_null_means_the_default_for_every_optional_parameter_of_every_tool(
    tools: tuple[Client, list[Tool]], alice: SharkfinClient
) -> None:
    client, listed = tools
    checked = 0
    for tool in listed:
        required = tool.input_schema.get("required", [])
        base = {name: REQUIRED_VALUES[name] for name in required}
        for name in tool.input_schema["properties"]:
            if name in required:
                continue
            arguments = {**base, name: None}
            if "timeout_seconds" in tool.input_schema["properties"] and name != "timeout_seconds":
                arguments.update(QUICK)
            if name == "timeout_seconds":
                await alice.send_message("general", "so the wait returns at once")
            result = await client.call_tool(tool.name, arguments)
            if result.is_error:
                assert _argument_complaint(text_of(result)) is None, (tool.name, name, text_of(result))
            checked += 1
    assert checked >= 25


async def test_null_for_a_required_parameter_says_it_is_required(tools: tuple[Client, list[Tool]]) -> None:
    client, listed = tools
    for tool in listed:
        for name in tool.input_schema.get("required", []):
            others = {n: REQUIRED_VALUES[n] for n in tool.input_schema["required"] if n != name}
            for arguments in ({**others, name: None}, others):
                result = await client.call_tool(tool.name, arguments)
                assert result.is_error, (tool.name, arguments)
                assert f"{name} is required: " in text_of(result), text_of(result)


@pytest.mark.parametrize(
    ("tool", "arguments", "field", "expected"),
    [
        ("history", {"channel": "general", "limit": "2"}, "messages", 2),
        ("history", {"channel": "general", "limit": " 2 "}, "messages", 2),
        ("history", {"channel": "general", "limit": 2.0}, "messages", 2),
        ("history", {"channel": "general", "limit": ""}, "messages", 3),  # "" = the default
        ("unread_messages", {"limit": "1", "mentions_only": "false"}, "unread", 1),
        ("poll_events", {"after": "0", "limit": "1", "types": "message.new"}, "events", 1),
        ("poll_events", {"after": 0, "limit": 2, "types": '["message.new"]'}, "events", 2),
        ("wait_for_events", {"after": "0", "timeout_seconds": "0", "limit": "1"}, "events", 1),
    ],
)
async def test_strings_where_numbers_lists_or_booleans_are_expected(
    connect_mcp: ConnectMCP,
    alice: SharkfinClient,
    tool: str,
    arguments: dict[str, Any],
    field: str,
    expected: int,
) -> None:
    async with connect_mcp() as client:
        await call_ok(client, "channel_join", {"channel": "general"})
        for n in range(3):
            await alice.send_message("general", f"m{n}")
        await call_ok(client, "wait_for_messages", {"timeout_seconds": 5})
        result = await call_ok(client, tool, arguments)
        out = result.structured_content
        assert out is not None
        if field == "unread":  # grouped by channel: count the messages of every group
            got = sum(len(group["messages"]) for group in out["channels"])
        else:
            got = len(out[field])
        assert got == expected, out


async def test_after_zero_means_from_the_start(connect_mcp: ConnectMCP, alice: SharkfinClient) -> None:
    async with connect_mcp() as client:
        await call_ok(client, "channel_join", {"channel": "general"})
        sent = [await alice.send_message("general", f"n{n}") for n in range(105)]
        page = await call_ok(client, "history", {"channel": "general", "after": 0, "limit": 3})
        assert page.structured_content is not None
        assert [m["id"] for m in page.structured_content["messages"]] == sent[:3]
        later = await call_ok(client, "history", {"channel": "general", "after": sent[1], "limit": 2})
        assert [m["id"] for m in later.structured_content["messages"]] == sent[2:4]  # type: ignore[index]
        await call_ok(client, "wait_for_messages", {"timeout_seconds": 5})
        events = await call_ok(client, "poll_events", {"after": 0, "types": ["message.new"], "limit": 2})
        assert [e["data"]["id"] for e in events.structured_content["events"]] == sent[:2]  # type: ignore[index]


@pytest.mark.parametrize(
    ("tool", "arguments", "sentence"),
    [
        (
            "history",
            {"channel": "general", "limit": "lots"},
            "limit must be an integer from 1 to 100, not 'lots'.",
        ),
        ("history", {"channel": "general", "limit": 0}, "limit must be an integer from 1 to 100, not 0."),
        ("history", {"channel": "general", "before": -1}, "before must be an integer of at least 1, not -1."),
        ("history", {"channel": 5}, "channel must be a string, not 5."),
        ("history", {}, "channel is required: a string."),
        ("set_state", {"state": "busy"}, "state must be one of active, idle, not 'busy'."),
        ("send_message", {"channel": "general", "body": 5}, "body must be a string of at most 32000"),
        (
            "send_message",
            {"channel": "general", "body": "x", "metadata": "[1]"},
            "metadata must be a JSON object",
        ),
        ("poll_events", {"types": ["nope"]}, "types must be a list, each item one of message.new, presence"),
        (
            "mention_group_create",
            {"slug": "a b"},
            "slug must be a string matching ^[a-zA-Z0-9_-]+$, not 'a b'.",
        ),
        (
            "wait_for_events",
            {"timeout_seconds": 51},
            "timeout_seconds must be a number from 0 to 50, not 51.",
        ),
    ],
)
async def test_a_bad_argument_gets_one_plain_sentence(
    tools: tuple[Client, list[Tool]], tool: str, arguments: dict[str, Any], sentence: str
) -> None:
    client, _ = tools
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    text = text_of(result)
    assert sentence in text, text
    assert len(text.splitlines()) == 1 and text.endswith(".")
    for jargon in ("validation error", "Input should", "pydantic", "[type=", "For further information"):
        assert jargon not in text, text


@pytest.mark.parametrize(
    ("tool", "arguments", "words"),
    [
        ("history", {"channel": ""}, "channel not found"),
        ("history", {"channel": "#"}, "channel not found"),
        ("send_message", {"channel": "", "body": "x"}, "channel not found"),
        ("mark_read", {"channel": ""}, "channel is required"),
        ("dm_open", {"username": "@"}, "username is required"),
        ("mention_group_get", {"slug": ""}, "mention group not found"),
    ],
)
async def test_an_empty_name_is_refused_in_one_line(
    tools: tuple[Client, list[Tool]], sandbox: Sandbox, tool: str, arguments: dict[str, Any], words: str
) -> None:
    """Names carry no length limits in the schema (the daemon checks them): an empty one is still
    refused, in the daemon's words, on one line, and nothing is posted."""
    client, _ = tools
    before = sandbox.message_count()
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    text = text_of(result)
    assert words in text and len(text.splitlines()) == 1, text
    assert sandbox.message_count() == before


async def test_unknown_arguments_are_ignored(tools: tuple[Client, list[Tool]]) -> None:
    client, _ = tools
    await call_ok(client, "history", {"channel": "general", "limit": 1, "verbose": True, "arguments": "{}"})


def _no_spaces(value: str) -> str:
    if " " in value:
        raise ValueError("no spaces\nallowed")
    return value


async def _named(name: Annotated[str, AfterValidator(_no_spaces), Field(description="A name")]) -> None:
    """A tool whose parameter has its own validator."""


def test_a_custom_validator_failure_is_one_sentence_too() -> None:
    spec = ArgumentSpec(_named)
    assert spec.validate({"name": "ok"}) == {"name": "ok"}
    with pytest.raises(ToolError) as info:
        spec.validate({"name": "a b"})
    assert str(info.value) == "name is not valid (no spaces allowed): it must be a string, not 'a b'."
