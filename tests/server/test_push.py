"""Push into Claude Code (``SHARKFIN_CHANNEL``): what is pushed, with which meta, how bursts are
coalesced, the permission relay and its forgeries, and that nothing changes with the option off.

Notifications are recorded through the SDK client's public hook for vendor notifications (a
``ClientExtension`` with ``NotificationBinding``s), in memory and over a real stdio subprocess.

Ordering: the inbox buffers each channel in id order, so "nothing more was pushed" is checked by
sending a message that *is* pushed after the one that must not be, in the same channel, and
waiting for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio
import pytest
from mcp import Client
from mcp.client.extension import ClientExtension, NotificationBinding
from pydantic import BaseModel

from sharkfin_mcp.client import SharkfinClient
from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server._push import (
    CHANNEL_METHOD,
    PERMISSION_METHOD,
    ChannelParams,
    PermissionParams,
)

from .conftest import ConnectMCP, call_ok, wait_ready
from .test_stdio import params, server_env

pytestmark = pytest.mark.anyio

META_KEYS = {"channel", "message_id", "from", "sent_at"}


class Recorder(ClientExtension):
    """Records ``notifications/claude/channel`` and ``…/permission`` as they arrive."""

    identifier = "com.example/channel-recorder"

    def __init__(self) -> None:
        self.pushed: list[ChannelParams] = []
        self.verdicts: list[PermissionParams] = []

    def notifications(self) -> Sequence[NotificationBinding[Any]]:
        return [
            NotificationBinding(method=CHANNEL_METHOD, params_type=ChannelParams, handler=self._pushed),
            NotificationBinding(
                method=PERMISSION_METHOD, params_type=PermissionParams, handler=self._verdict
            ),
        ]

    async def _pushed(self, params: ChannelParams) -> None:
        self.pushed.append(params)

    async def _verdict(self, params: PermissionParams) -> None:
        self.verdicts.append(params)

    def bodies(self) -> list[str]:
        return [p.content for p in self.pushed]

    async def until(self, check: Callable[[], bool], seconds: float = 10.0) -> None:
        with anyio.fail_after(seconds):
            while not check():
                await anyio.sleep(0.02)

    async def until_pushed(self, body: str, seconds: float = 10.0) -> ChannelParams:
        await self.until(lambda: body in self.bodies(), seconds)
        return next(p for p in self.pushed if p.content == body)


class PermissionRequest(BaseModel):
    method: Literal["notifications/claude/channel/permission_request"] = (
        "notifications/claude/channel/permission_request"
    )
    params: dict[str, str]


@asynccontextmanager
async def pushed_to(
    connect_mcp: ConnectMCP, mode: str = "legacy", **settings: Any
) -> AsyncIterator[tuple[Client, Recorder]]:
    """The server as agent with push on (unless overridden), and what it pushes."""
    recorder = Recorder()
    server_settings = {"channel_push": True, **settings}
    async with connect_mcp(mode, extensions=[recorder], **server_settings) as client:
        await call_ok(client, "channel_join", {"channel": "general"})
        yield client, recorder


@asynccontextmanager
async def as_user(sandbox: Sandbox, name: str) -> AsyncIterator[SharkfinClient]:
    async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key(name)) as client:
        await client.join_channel("general")
        yield client


async def dm(sender: SharkfinClient, to: str, body: str) -> tuple[str, int]:
    channel = (await sender.dm_open(to)).channel
    return channel, await sender.send_message(channel, body)


# -- what is pushed ------------------------------------------------------------------------------


async def test_a_dm_is_pushed_once_with_its_meta(connect_mcp: ConnectMCP, sandbox: Sandbox) -> None:
    async with pushed_to(connect_mcp) as (_, recorder), as_user(sandbox, "alice") as alice:
        channel, message_id = await dm(alice, "agent", "the API changed")
        pushed = await recorder.until_pushed("the API changed")
        await dm(alice, "agent", "sentinel")
        await recorder.until_pushed("sentinel")
    assert recorder.bodies() == ["the API changed", "sentinel"]
    assert set(pushed.meta) == META_KEYS
    assert pushed.meta["channel"] == channel
    assert pushed.meta["message_id"] == str(message_id)
    assert pushed.meta["from"] == "alice"
    assert pushed.meta["sent_at"].endswith("Z")


async def test_a_mention_in_a_thread_is_pushed_with_its_thread(
    connect_mcp: ConnectMCP, sandbox: Sandbox
) -> None:
    async with pushed_to(connect_mcp) as (_, recorder), as_user(sandbox, "alice") as alice:
        root = await alice.send_message("general", "a plain message starts a thread")
        reply = await alice.send_message("general", "@agent please look", thread_id=root)
        pushed = await recorder.until_pushed("@agent please look")
        await alice.send_message("general", "@agent sentinel")
        await recorder.until_pushed("@agent sentinel")
    assert recorder.bodies() == ["@agent please look", "@agent sentinel"]
    assert pushed.meta == {
        "channel": "general",
        "message_id": str(reply),
        "from": "alice",
        "sent_at": pushed.meta["sent_at"],
        "thread_id": str(root),
    }


@pytest.mark.parametrize("watched", ["", "general"])
async def test_a_rest_post_is_no_mention_but_is_pushed_from_a_configured_channel(
    connect_mcp: ConnectMCP, sandbox: Sandbox, watched: str
) -> None:
    """Bots post over REST, which stores no mentions (PROTOCOL.md §5.7): like the daemon's own
    mention_count and mentions_only, push does not count "@agent" in such a body as a mention.
    Its channel can be configured instead; the inbox finds REST posts through the notification
    feed (§4.6, §9), so they reach the buffer and the pusher like any other."""
    from sharkfin_mcp.client import RESTClient

    async with (
        pushed_to(connect_mcp, channel_channels=watched) as (_, recorder),
        as_user(sandbox, "flow-bot"),
        as_user(sandbox, "alice") as alice,
        RESTClient(sandbox.http_url, api_key=sandbox.key("flow-bot")) as bot,
    ):
        sent = await bot.send_message("general", "build 1042 failed @agent")
        await alice.send_message("general", "@agent sentinel")
        await recorder.until_pushed("@agent sentinel")
    if not watched:
        assert recorder.bodies() == ["@agent sentinel"]
        return
    assert recorder.bodies() == ["build 1042 failed @agent", "@agent sentinel"]
    assert recorder.pushed[0].meta["from"] == "flow-bot"
    assert recorder.pushed[0].meta["message_id"] == str(sent.id)


async def test_a_mention_through_a_group_is_pushed(connect_mcp: ConnectMCP, sandbox: Sandbox) -> None:
    async with pushed_to(connect_mcp) as (client, recorder), as_user(sandbox, "alice") as alice:
        await call_ok(client, "mention_group_create", {"slug": "backend"})
        await call_ok(client, "mention_group_add_member", {"slug": "backend", "username": "agent"})
        await alice.send_message("general", "@backend deploy is broken")
        await recorder.until_pushed("@backend deploy is broken")


@pytest.mark.parametrize("watched", ["", "general", "#general, ops"])
async def test_a_plain_channel_message_is_pushed_only_from_a_configured_channel(
    connect_mcp: ConnectMCP, sandbox: Sandbox, watched: str
) -> None:
    async with (
        pushed_to(connect_mcp, channel_channels=watched) as (_, recorder),
        as_user(sandbox, "alice") as alice,
    ):
        await alice.send_message("general", "just chatting")
        await alice.send_message("general", "@agent sentinel")
        await recorder.until_pushed("@agent sentinel")
    expected = ["just chatting"] if watched else []
    assert recorder.bodies() == [*expected, "@agent sentinel"]


async def test_own_messages_are_never_pushed(connect_mcp: ConnectMCP, sandbox: Sandbox) -> None:
    async with (
        pushed_to(connect_mcp, channel_channels="general") as (client, recorder),
        as_user(sandbox, "alice") as alice,
    ):
        await call_ok(client, "send_message", {"channel": "general", "body": "@agent note to self"})
        channel = (await alice.dm_open("agent")).channel
        await call_ok(client, "send_message", {"channel": channel, "body": "mine, in a DM"})
        await alice.send_message("general", "from alice")
        await alice.send_message(channel, "dm from alice")
        await recorder.until_pushed("from alice")
        await recorder.until_pushed("dm from alice")
    assert sorted(recorder.bodies()) == ["dm from alice", "from alice"]


async def test_pushing_consumes_nothing(connect_mcp: ConnectMCP, sandbox: Sandbox) -> None:
    async with pushed_to(connect_mcp) as (client, recorder), as_user(sandbox, "alice") as alice:
        channel, message_id = await dm(alice, "agent", "still unread")
        await recorder.until_pushed("still unread")
        unread = (await call_ok(client, "unread_messages", {})).structured_content
        events = (await call_ok(client, "poll_events", {"after": 0, "limit": 500})).structured_content
    assert unread is not None
    groups = {g["channel"]: [m["id"] for m in g["messages"]] for g in unread["channels"]}
    assert message_id in groups[channel]
    assert events is not None
    assert (channel, message_id) in [(e.get("channel"), e["data"].get("id")) for e in events["events"]]


async def test_a_burst_is_coalesced_into_one_summary(connect_mcp: ConnectMCP, sandbox: Sandbox) -> None:
    async with (
        pushed_to(connect_mcp, channel_burst=3, channel_burst_seconds=3.0) as (_, recorder),
        as_user(sandbox, "alice") as alice,
    ):
        channel = (await alice.dm_open("agent")).channel
        for n in range(8):
            await alice.send_message(channel, f"burst {n}")
        await recorder.until(lambda: len(recorder.pushed) >= 4)
        await anyio.sleep(0.3)  # a fifth notification would be a failure to coalesce
    assert recorder.bodies()[:3] == ["burst 0", "burst 1", "burst 2"]
    assert len(recorder.pushed) == 4
    summary = recorder.pushed[3]
    assert summary.meta == {"kind": "burst", "count": "5", "channels": channel}
    assert "5 more" in summary.content and "unread_messages" in summary.content


# -- capabilities, instructions, the option off ------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, None),
        ({"channel_push": True}, {"claude/channel": {}}),
        (
            {"channel_push": True, "channel_permission": True, "channel_approvers": "bob"},
            {"claude/channel": {}, "claude/channel/permission": {}},
        ),
    ],
)
async def test_capability_and_instructions_follow_the_option(
    connect_mcp: ConnectMCP, mode: str, settings: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    """In memory, a 2026-07-28 client has no pipe to push on, so it is not offered the capability
    (over stdio it is: test_push_over_stdio)."""
    async with connect_mcp(mode, ready=False, **settings) as client:
        assert client.server_capabilities.experimental == (expected if mode == "legacy" else None)
        assert ("<channel" in (client.instructions or "")) == bool(expected)
        assert client.server_capabilities.tools is not None  # the rest is unchanged


async def test_with_the_option_off_nothing_is_pushed(connect_mcp: ConnectMCP, sandbox: Sandbox) -> None:
    recorder = Recorder()
    async with connect_mcp("legacy", extensions=[recorder]) as client, as_user(sandbox, "alice") as alice:
        await call_ok(client, "channel_join", {"channel": "general"})
        await dm(alice, "agent", "a DM")
        await alice.send_message("general", "@agent a mention")
        await call_ok(client, "wait_for_messages", {"channel": "general", "timeout": 5})
        await anyio.sleep(0.3)
    assert recorder.pushed == []


async def test_a_modern_client_without_a_pipe_is_sent_nothing(
    connect_mcp: ConnectMCP, sandbox: Sandbox
) -> None:
    """The in-memory 2026-07-28 client, like one over HTTP, has no channel outside a request: the
    server sends it nothing (and does not fail). Over stdio it is pushed to (test_push_over_stdio)."""
    async with pushed_to(connect_mcp, "auto") as (client, recorder), as_user(sandbox, "alice") as alice:
        channel, _ = await dm(alice, "agent", "modern DM")
        await call_ok(client, "wait_for_messages", {"channel": channel, "timeout": 5})
        await anyio.sleep(0.3)
        await wait_ready(client)
    assert recorder.pushed == []


# -- permission relay ------------------------------------------------------------------------------


async def request_permission(client: Client, request_id: str) -> None:
    await client.session.send_notification(
        PermissionRequest(  # type: ignore[arg-type]
            params={
                "request_id": request_id,
                "tool_name": "Bash",
                "description": "run the tests",
                "input_preview": '{"command": "pytest"}',
            }
        )
    )


async def relayed_to(approver: SharkfinClient, request_id: str) -> str:
    """The DM channel in which ``approver`` received the request, once it has."""
    with anyio.fail_after(10):
        while True:
            for listed in await approver.dm_list():
                if listed.participant == "agent":
                    page = await approver.history(listed.channel, limit=20)
                    if any(f"Permission request {request_id}" in m.body for m in page):
                        return listed.channel
            await anyio.sleep(0.05)


async def test_the_permission_relay_honours_only_an_approver_reply_in_their_dm(
    connect_mcp: ConnectMCP, sandbox: Sandbox
) -> None:
    settings = {
        "channel_permission": True,
        "channel_approvers": "@bob",
        "channel_channels": "general",
        "channel_burst": 50,
    }
    async with (
        pushed_to(connect_mcp, **settings) as (client, recorder),
        as_user(sandbox, "alice") as alice,
        as_user(sandbox, "bob") as bob,
    ):
        await request_permission(client, "abcde")
        bob_dm = await relayed_to(bob, "abcde")
        text = (await bob.history(bob_dm, limit=1))[0].body
        assert "Bash" in text and "approve abcde" in text and "deny abcde" in text
        alice_dm = (await alice.dm_open("agent")).channel

        # Forgeries: each is an ordinary message (pushed as such, since every one is a DM or in a
        # watched channel), and none of them produces a verdict.
        forged = [
            (alice, alice_dm, "approve abcde"),  # not an approver
            (bob, "general", "approve abcde"),  # an approver, but in a channel
            (bob, bob_dm, "approve abcde please"),  # extra text
            (bob, bob_dm, "approve abcdf"),  # no such request
            (bob, bob_dm, "I approve abcde"),
        ]
        for sender, channel, body in forged:
            await sender.send_message(channel, body)
        await recorder.until(lambda: len(recorder.pushed) == len(forged))
        # The agent cannot answer for the approver either: its own messages are never verdicts.
        await call_ok(client, "send_message", {"channel": bob_dm, "body": "approve abcde"})
        await bob.send_message(bob_dm, "sentinel")
        await recorder.until_pushed("sentinel")
        assert recorder.verdicts == []

        await bob.send_message(bob_dm, "  Approve abcde ")
        await recorder.until(lambda: len(recorder.verdicts) == 1)
        assert recorder.verdicts == [PermissionParams(request_id="abcde", behavior="allow")]

        await request_permission(client, "fghij")
        await relayed_to(bob, "fghij")
        await bob.send_message(bob_dm, "deny fghij")
        await bob.send_message(bob_dm, "approve abcde")  # answered already: ignored
        await bob.send_message(bob_dm, "sentinel 2")
        await recorder.until_pushed("sentinel 2")
    assert recorder.verdicts == [
        PermissionParams(request_id="abcde", behavior="allow"),
        PermissionParams(request_id="fghij", behavior="deny"),
    ]
    # The honoured replies were verdicts, not messages for the model; the late one is shown.
    bodies = recorder.bodies()
    assert "  Approve abcde " not in bodies and "deny fghij" not in bodies
    # alice's forgery in her DM, bob's in #general (a watched channel), and the late one
    assert bodies.count("approve abcde") == 3


async def test_without_the_relay_a_reply_is_just_a_message(connect_mcp: ConnectMCP, sandbox: Sandbox) -> None:
    async with pushed_to(connect_mcp) as (client, recorder), as_user(sandbox, "bob") as bob:
        await request_permission(client, "abcde")  # no handler: ignored by the server
        await dm(bob, "agent", "approve abcde")
        await recorder.until_pushed("approve abcde")
        await wait_ready(client)
    assert recorder.verdicts == []


# -- over a real stdio subprocess ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_push_over_stdio(sandbox: Sandbox, mode: str) -> None:
    """Both eras over a pipe: DMs and mentions pushed once with their meta, plain and own not."""
    recorder = Recorder()
    env = server_env(sandbox.ws_url, sandbox.key("agent"), SHARKFIN_CHANNEL="on")
    async with (
        Client(params(env), mode=mode, extensions=[recorder]) as client,  # type: ignore[arg-type]
        as_user(sandbox, "alice") as alice,
    ):
        await wait_ready(client, deadline=15)
        assert client.server_capabilities.experimental == {"claude/channel": {}}
        await call_ok(client, "channel_join", {"channel": "general"})
        channel, dm_id = await dm(alice, "agent", "stdio DM")
        await alice.send_message("general", "plain")
        await call_ok(client, "send_message", {"channel": "general", "body": "@agent mine"})
        mention_id = await alice.send_message("general", "@agent over stdio")
        await recorder.until_pushed("@agent over stdio", seconds=15)
        await recorder.until_pushed("stdio DM", seconds=15)
    assert sorted(recorder.bodies()) == ["@agent over stdio", "stdio DM"]
    metas = {p.content: p.meta for p in recorder.pushed}
    assert metas["stdio DM"] | {"sent_at": ""} == {
        "channel": channel,
        "message_id": str(dm_id),
        "from": "alice",
        "sent_at": "",
    }
    assert metas["@agent over stdio"] | {"sent_at": ""} == {
        "channel": "general",
        "message_id": str(mention_id),
        "from": "alice",
        "sent_at": "",
    }


async def test_permission_relay_over_stdio(sandbox: Sandbox) -> None:
    recorder = Recorder()
    env = server_env(
        sandbox.ws_url,
        sandbox.key("agent"),
        SHARKFIN_CHANNEL="on",
        SHARKFIN_CHANNEL_PERMISSION="on",
        SHARKFIN_CHANNEL_APPROVERS="bob",
    )
    async with (
        Client(params(env), mode="legacy", extensions=[recorder]) as client,  # type: ignore[arg-type]
        as_user(sandbox, "alice") as alice,
        as_user(sandbox, "bob") as bob,
    ):
        await wait_ready(client, deadline=15)
        experimental = client.server_capabilities.experimental
        assert experimental == {"claude/channel": {}, "claude/channel/permission": {}}
        await request_permission(client, "klmno")
        bob_dm = await relayed_to(bob, "klmno")
        await dm(alice, "agent", "approve klmno")  # not an approver: shown, not honoured
        await bob.send_message("general", "approve klmno")  # approver, but not in their DM
        await recorder.until_pushed("approve klmno", seconds=15)
        await bob.send_message(bob_dm, "approve klmno")
        await recorder.until(lambda: len(recorder.verdicts) == 1, seconds=15)
    assert recorder.verdicts == [PermissionParams(request_id="klmno", behavior="allow")]


async def test_push_off_over_stdio(sandbox: Sandbox) -> None:
    recorder = Recorder()
    env = server_env(sandbox.ws_url, sandbox.key("agent"))
    async with (
        Client(params(env), mode="legacy", extensions=[recorder]) as client,  # type: ignore[arg-type]
        as_user(sandbox, "alice") as alice,
    ):
        await wait_ready(client, deadline=15)
        assert client.server_capabilities.experimental is None
        assert "<channel" not in (client.instructions or "")
        channel, _ = await dm(alice, "agent", "a DM")
        await call_ok(client, "wait_for_messages", {"channel": channel, "timeout": 10})
        await anyio.sleep(0.3)
    assert recorder.pushed == []


# -- over streamable HTTP ------------------------------------------------------------------------


async def test_push_over_http_reaches_every_handshake_session_and_no_modern_one(sandbox: Sandbox) -> None:
    """Two handshake-era sessions (two ``Mcp-Session-Id``s) each get the DM once; a 2026-07-28
    client over HTTP has no channel outside a request, so it is neither offered the capability
    nor sent anything."""
    from tests.test_http_transport import http_server

    first, second, modern = Recorder(), Recorder(), Recorder()
    with http_server(sandbox, SHARKFIN_CHANNEL="on") as (_, port):
        url = f"http://127.0.0.1:{port}/mcp"
        async with (
            Client(url, mode="legacy", extensions=[first]) as one,
            Client(url, mode="legacy", extensions=[second]) as two,
            Client(url, mode="auto", extensions=[modern]) as three,
            as_user(sandbox, "alice") as alice,
        ):
            await wait_ready(one, deadline=15)
            assert one.server_capabilities.experimental == {"claude/channel": {}}
            assert two.server_capabilities.experimental == {"claude/channel": {}}
            assert three.server_capabilities.experimental is None
            await dm(alice, "agent", "over http")
            await dm(alice, "agent", "sentinel")
            for recorder in (first, second):
                await recorder.until_pushed("sentinel", seconds=15)
            await wait_ready(three)
    assert first.bodies() == second.bodies() == ["over http", "sentinel"]
    assert modern.pushed == []
