"""Random and hostile arguments into every tool, and garbage from the daemon: every call gets a
well-formed result and the server keeps serving."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult
from websockets.asyncio.server import ServerConnection, serve

from sharkfin_mcp.server import Settings, build_server

from .conftest import tool_target

pytestmark = pytest.mark.anyio

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=50),
    st.sampled_from(["general", "", "../etc", "\x00", "@agent", "a" * 40_000, "dm-agent-bob", "ops"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture
async def fuzz_target() -> AsyncIterator[tuple[Client, dict[str, list[str]]]]:
    async with tool_target() as target:
        yield target


@pytest.fixture(scope="module")
def portal_target() -> Iterator[tuple[BlockingPortal, Client, dict[str, list[str]]]]:
    """Hypothesis drives examples synchronously; the server lives on an event loop in a thread."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(tool_target()) as (client, tools),
    ):
        yield portal, client, tools


def well_formed(result: CallToolResult) -> None:
    assert isinstance(result, CallToolResult)
    assert result.content and all(c.type == "text" for c in result.content)
    if not result.is_error:
        assert isinstance(result.structured_content, dict)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_tool_survives_hostile_arguments(
    portal_target: tuple[BlockingPortal, Client, dict[str, list[str]]], data: st.DataObject
) -> None:
    portal, client, tools = portal_target
    name = data.draw(st.sampled_from(sorted(tools)), label="tool")
    params = tools[name]
    keys = st.sampled_from(params) if params else st.nothing()
    arguments = data.draw(
        st.dictionaries(st.one_of(keys, st.text(max_size=10)), values, max_size=len(params) + 2), label="args"
    )
    if name in ("wait_for_events", "wait_for_messages"):
        arguments["timeout_seconds"] = 0  # keep examples fast; the other arguments stay hostile
    result = portal.call(client.call_tool, name, arguments)
    well_formed(result)
    if result.is_error:
        text = result.content[0].text
        assert text and "Traceback" not in text
    assert not portal.call(client.call_tool, "capabilities", {}).is_error, "the server must keep serving"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"channel": "general", "body": "x" * 40_000}, "32000"),
        ({"channel": "general", "body": "hi", "metadata": "not an object"}, "metadata"),
        ({"channel": "general", "body": "hi", "metadata": [1, 2]}, "metadata"),
        ({"channel": "general", "body": 5}, "body"),
        ({"channel": "no-such-channel", "body": "hi"}, "channel not found: no-such-channel"),
        ({"channel": "general", "body": "hi", "thread_id": 0}, "thread_id"),
        ({"body": "hi"}, "channel"),
    ],
)
async def test_bad_send_arguments_get_clear_errors(
    fuzz_target: tuple[Client, dict[str, list[str]]], arguments: dict[str, Any], expected: str
) -> None:
    client, _ = fuzz_target
    result = await client.call_tool("send_message", arguments)
    assert result.is_error
    assert expected in result.content[0].text


async def test_unknown_user_and_bad_state_are_tool_errors(
    fuzz_target: tuple[Client, dict[str, list[str]]],
) -> None:
    client, _ = fuzz_target
    dm = await client.call_tool("dm_open", {"username": "ghost"})
    assert dm.is_error and "user not found: ghost" in dm.content[0].text
    state = await client.call_tool("set_state", {"state": "busy"})
    assert state.is_error and "active" in state.content[0].text


GARBAGE_FRAMES = [
    "not json at all",
    "[1, 2, 3]",
    "null",
    json.dumps({"type": "message.new"}),  # no d
    json.dumps({"type": "message.new", "d": {"id": "seven", "channel": 3}}),  # wrong types
    json.dumps({"type": "presence", "d": None}),
    json.dumps({"type": "typing", "d": {"who": "bob"}}),  # an event type this client does not know
    json.dumps({"type": "error", "d": {"message": "invalid JSON"}, "ok": False}),
    json.dumps({"type": "reply", "ref": "ref_999999", "ok": True}),  # a reply nobody waits for
    json.dumps({"type": "message.new", "d": {"id": math.inf}}).replace("Infinity", "1e999"),
]


async def test_garbage_from_the_daemon_is_skipped_not_fatal() -> None:
    """A scripted daemon pushes malformed and unknown frames, then answers normally."""

    async def daemon(ws: ServerConnection) -> None:
        for frame in GARBAGE_FRAMES:
            await ws.send(frame)
        await ws.send(
            json.dumps(
                {
                    "type": "message.new",
                    "d": {"id": 7, "channel": "general", "from": "bob", "body": "still here"},
                }
            )
        )
        async for raw in ws:
            request = json.loads(raw)
            await ws.send(json.dumps({"type": "pong", "ref": request["ref"], "ok": True}))

    async with serve(daemon, "127.0.0.1", 0) as listener:
        port = listener.sockets[0].getsockname()[1]
        server = build_server(Settings(url=f"ws://127.0.0.1:{port}/ws", api_key="k", presence=False))
        async with Client(server, mode="legacy") as client:
            with anyio.fail_after(5):
                while True:
                    polled = await client.call_tool("poll_events", {"after": 0, "types": ["message.new"]})
                    assert polled.structured_content is not None
                    if polled.structured_content["events"]:
                        break
                    await anyio.sleep(0.05)
            bodies = [(e["channel"], e["data"]["body"]) for e in polled.structured_content["events"]]
            assert bodies == [("general", "still here")]
            everything = await client.call_tool("poll_events", {"after": 0})
            assert everything.structured_content is not None
            types = [e["type"] for e in everything.structured_content["events"]]
            assert "typing" in types  # unknown events are kept, not lost
