"""Every ``SharkfinClient`` operation round-tripped against the sandbox daemon, with its error paths.

Identities (``DEMO_IDENTITIES``): ``agent`` (first, so admin), ``alice`` and ``bob`` (users, no
``create_channel``/``manage_roles``), ``flow-bot`` (service → bot). ``general`` exists with no members.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from sharkfin_mcp.client import (
    DM,
    AuthenticationError,
    BadRequest,
    Channel,
    ClientClosed,
    Conflict,
    ConnectError,
    DMOpened,
    InvalidMetadata,
    MessageEvent,
    NotFound,
    PermissionDenied,
    ServerError,
    SharkfinClient,
    UnreadCount,
    User,
)
from sharkfin_mcp.sandbox import Identity

from .._protocol import USER_PERMISSIONS
from .helpers import client_as, closed_port, next_event

pytestmark = pytest.mark.anyio


# -- connection and auth -----------------------------------------------------------------------


async def test_wrong_key_is_authentication_error(sandbox: Any) -> None:
    with pytest.raises(AuthenticationError) as info:
        await SharkfinClient.connect(sandbox.ws_url, api_key="wf-agent_WRONG-secret-123")
    error = info.value
    assert error.status == 401
    assert "rejected the API key" in str(error)
    assert "auth: invalid token" in str(error)
    assert "WRONG-secret" not in str(error)


async def test_missing_key_is_authentication_error(sandbox: Any) -> None:
    with pytest.raises(AuthenticationError) as info:
        await SharkfinClient.connect(sandbox.ws_url)
    assert info.value.status == 401
    assert "auth: missing Authorization header" in str(info.value)


async def test_unreachable_port_is_connect_error() -> None:
    port = closed_port()
    with (
        anyio.fail_after(3),
        pytest.raises(ConnectError, match=rf"cannot reach Sharkfin at ws://127.0.0.1:{port}/ws"),
    ):
        await SharkfinClient.connect(f"ws://127.0.0.1:{port}/ws", api_key="k", connect_timeout=1)


async def test_http_url_is_accepted_and_async_with_connects(sandbox: Any) -> None:
    async with SharkfinClient(sandbox.http_url, api_key=sandbox.key("alice")) as client:
        assert client.url == sandbox.ws_url
        assert client.rest.base_url == sandbox.http_url
        assert client.connected
        await client.ping()


async def test_ping_version_capabilities(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice, client_as(sandbox, "agent") as agent:
        assert await alice.ping() is None
        assert await alice.version() == "v0.0.0-sandbox"
        assert await alice.capabilities() == USER_PERMISSIONS
        agent_caps = await agent.capabilities()
        assert agent_caps == sorted([*USER_PERMISSIONS, "create_channel", "manage_roles"])


async def test_role_without_permissions(sandbox: Any) -> None:
    sandbox.add_identity(Identity("hugo", "hugo-key", "human"))  # role "human" does not exist
    async with client_as(sandbox, "hugo") as hugo:
        assert await hugo.capabilities() == []
        with pytest.raises(PermissionDenied) as info:
            await hugo.users()
        assert info.value.permission == "user_list"


# -- users, channels -----------------------------------------------------------------------------


async def test_users(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice:
        assert await alice.users() == [
            User(username="agent", online=False, type="agent"),
            User(username="alice", online=False, type="user"),
            User(username="bob", online=False, type="user"),
            User(username="flow-bot", online=False, type="service"),
        ]


async def test_create_channel_and_list(sandbox: Any) -> None:
    async with client_as(sandbox, "agent") as agent, client_as(sandbox, "alice") as alice:
        assert await alice.channels() == [Channel(name="general", public=True, member=False)]
        assert await agent.create_channel("ops", True) is None
        assert await agent.create_channel("secret", False, members=["bob", "agent"]) is None
        assert await alice.channels() == [
            Channel(name="general", public=True, member=False),
            Channel(name="ops", public=True, member=False),
            Channel(name="secret", public=False, member=False),  # WS lists private channels too
        ]
        assert [c.member for c in await agent.channels()] == [False, True, True]


async def test_create_channel_errors(sandbox: Any) -> None:
    async with client_as(sandbox, "agent") as agent, client_as(sandbox, "alice") as alice:
        with pytest.raises(PermissionDenied) as denied:
            await alice.create_channel("mine", True)
        assert denied.value.permission == "create_channel"
        assert denied.value.message == "permission denied: create_channel"
        assert denied.value.status is None
        await agent.create_channel("ops", True)
        with pytest.raises(Conflict, match=r"UNIQUE constraint failed: channels.name"):
            await agent.create_channel("ops", False)
        with pytest.raises(NotFound, match=r"^user not found: ghost$"):
            await agent.create_channel("team", True, members=["ghost"])
        assert "team" not in [c.name for c in await agent.channels()]


async def test_join_channel(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice:
        assert await alice.join_channel("general") is None
        assert await alice.channels() == [Channel(name="general", public=True, member=True)]
        with pytest.raises(Conflict, match=r"^already a member$"):
            await alice.join_channel("general")
        with pytest.raises(NotFound, match=r"^channel not found: nowhere$"):
            await alice.join_channel("nowhere")


async def test_invite_to_channel(sandbox: Any) -> None:
    async with client_as(sandbox, "agent") as agent, client_as(sandbox, "bob") as bob:
        await agent.create_channel("secret", False)
        with pytest.raises(PermissionDenied, match=r"^you are not a participant of this channel$"):
            await bob.invite_to_channel("secret", "alice")
        assert await agent.invite_to_channel("secret", "bob") is None
        assert Channel(name="secret", public=False, member=True) in await bob.channels()
        await bob.send_message("secret", "in")
        with pytest.raises(Conflict):
            await agent.invite_to_channel("secret", "bob")
        with pytest.raises(NotFound, match=r"^user not found: ghost$"):
            await agent.invite_to_channel("secret", "ghost")
        with pytest.raises(NotFound, match=r"^channel not found: nope$"):
            await agent.invite_to_channel("nope", "bob")


# -- messages ------------------------------------------------------------------------------------


async def test_send_message_and_history(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice, client_as(sandbox, "bob") as bob:
        await alice.join_channel("general")
        await bob.join_channel("general")
        first = await alice.send_message("general", "hi @bob")
        second = await bob.send_message("general", "ack", thread_id=first, metadata={"k": 1, "n": {"x": [1]}})
        third = await alice.send_message("general", "", metadata='{"raw":true}')
        assert first < second < third
        history = await bob.history("general")
        assert [(m.id, m.sender, m.body) for m in history] == [
            (first, "alice", "hi @bob"),
            (second, "bob", "ack"),
            (third, "alice", ""),
        ]
        assert all(m.channel == "general" for m in history)
        assert history[0].mentions == ["bob"]
        assert history[1].thread_id == first
        assert history[1].metadata == {"k": 1, "n": {"x": [1]}}
        assert history[2].metadata == {"raw": True}
        assert history[0].sent_at is not None and history[0].sent_at.tzinfo is not None
        assert [m.id for m in await bob.history("general", thread_id=first)] == [second]
        assert [m.id for m in await bob.history("general", limit=2)] == [second, third]
        assert [m.id for m in await bob.history("general", before=third, limit=1)] == [second]
        assert [m.id for m in await bob.history("general", after=first)] == [second, third]
        assert [m.id for m in await bob.history("general", before=second, after=first)] == [
            first
        ]  # before wins


async def test_send_message_errors(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice, client_as(sandbox, "agent") as agent:
        with pytest.raises(NotFound, match=r"^channel not found: nope$"):
            await alice.send_message("nope", "x")
        with pytest.raises(PermissionDenied, match=r"^you are not a participant of this channel$") as info:
            await alice.send_message("general", "x")
        assert info.value.permission is None
        await alice.join_channel("general")
        await agent.create_channel("other", True)
        top = await alice.send_message("general", "top")
        reply = await alice.send_message("general", "reply", thread_id=top)
        with pytest.raises(BadRequest, match=r"^cannot reply to a reply \(threads are 1 level deep\)$"):
            await alice.send_message("general", "x", thread_id=reply)
        with pytest.raises(NotFound, match=r"^parent message not found: 999$"):
            await alice.send_message("general", "x", thread_id=999)
        with pytest.raises(NotFound, match=r"^parent message not found: 0$"):
            await alice.send_message("general", "x", thread_id=0)
        await agent.join_channel("general")
        other_top = await agent.send_message("other", "elsewhere")
        with pytest.raises(BadRequest, match=r"^parent message is in a different channel$"):
            await alice.send_message("general", "x", thread_id=other_top)
        count = sandbox.message_count()
        for bad in ("{not json", "[1]", {"k": {1, 2}}):
            with pytest.raises(InvalidMetadata):
                await alice.send_message("general", "x", metadata=bad)
        assert sandbox.message_count() == count  # nothing was sent


async def test_history_errors(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice:
        with pytest.raises(PermissionDenied, match=r"^you are not a participant of this channel$"):
            await alice.history("general")
        with pytest.raises(NotFound, match=r"^channel not found: nope$"):
            await alice.history("nope")
        await alice.join_channel("general")
        assert await alice.history("general") == []  # `messages: null`


async def test_bad_arguments_and_unknown_op(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice:
        with pytest.raises(BadRequest, match=r"^invalid arguments$"):
            await alice.request("channel_join")  # no `d` for a strictly decoded op
        with pytest.raises(BadRequest, match=r"^invalid arguments$"):
            await alice.request("history", {"channel": "general", "limit": "ten"})
        with pytest.raises(BadRequest, match=r"^unknown type: frobnicate$"):
            await alice.request("frobnicate")
        with pytest.raises(BadRequest, match=r"^state must be 'active' or 'idle'$"):
            await alice.set_state("busy")  # type: ignore[arg-type]
        assert await alice.request("ping") == {}


async def test_unread_messages_and_counts(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice, client_as(sandbox, "bob") as bob:
        await alice.join_channel("general")
        await bob.join_channel("general")
        await alice.send_message("general", "one")
        await alice.send_message("general", "two @bob")
        await alice.send_message("general", "three")
        await bob.send_message("general", "mine")  # own messages are never unread
        assert await bob.unread_counts() == [
            UnreadCount(channel="general", type="channel", unread_count=3, mention_count=1)
        ]
        mentions = await bob.unread_messages(mentions_only=True)  # filtered: cursor not moved
        assert [(m.body, m.id, m.channel, m.mentions) for m in mentions] == [
            ("two @bob", None, "general", ["bob"])
        ]
        unread = await bob.unread_messages("general")
        assert [(m.sender, m.body) for m in unread] == [
            ("alice", "one"),
            ("alice", "two @bob"),
            ("alice", "three"),
        ]
        assert await bob.unread_messages() == []  # consumed
        assert await bob.unread_counts() == []
        with pytest.raises(NotFound, match=r"^channel not found: nope$"):
            await bob.unread_messages("nope")


async def test_mark_read(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice, client_as(sandbox, "bob") as bob:
        await alice.join_channel("general")
        await bob.join_channel("general")
        ids = [await alice.send_message("general", f"m{i}") for i in range(3)]
        await bob.mark_read("general", ids[1])
        assert [c.unread_count for c in await bob.unread_counts()] == [1]
        await bob.mark_read("general", ids[0])  # forward only
        assert [c.unread_count for c in await bob.unread_counts()] == [1]
        await bob.mark_read("general")  # newest
        assert await bob.unread_counts() == []
        with pytest.raises(ServerError, match=r"FOREIGN KEY constraint failed") as info:
            await bob.mark_read("general", 10_000)
        assert type(info.value) is ServerError
        with pytest.raises(NotFound, match=r"^channel not found: nope$"):
            await bob.mark_read("nope")
        with pytest.raises(NotFound, match=r"^channel is required$"):
            await bob.mark_read("")
    async with client_as(sandbox, "agent") as agent:
        with pytest.raises(PermissionDenied, match=r"^you are not a participant of this channel$"):
            await agent.mark_read("general")


# -- DMs ---------------------------------------------------------------------------------------


async def test_dm_open_and_list(sandbox: Any) -> None:
    async with client_as(sandbox, "bob") as bob, client_as(sandbox, "alice") as alice:
        assert await bob.dm_open("alice") == DMOpened(
            channel="dm-alice-bob", participant="alice", created=True
        )
        assert await alice.dm_open("bob") == DMOpened(
            channel="dm-alice-bob", participant="bob", created=False
        )
        await alice.dm_open("agent")
        assert await alice.dm_list() == [
            DM(channel="dm-agent-alice", participant="agent"),
            DM(channel="dm-alice-bob", participant="bob"),
        ]
        assert await bob.dm_list() == [DM(channel="dm-alice-bob", participant="alice")]
        assert "dm-alice-bob" not in [c.name for c in await bob.channels()]
        await alice.send_message("dm-alice-bob", "psst")
        assert [c.type for c in await bob.unread_counts()] == ["dm"]
        with pytest.raises(BadRequest, match=r"^cannot open DM with yourself$"):
            await alice.dm_open("alice")
        with pytest.raises(NotFound, match=r"^user not found: ghost$"):
            await alice.dm_open("ghost")
        with pytest.raises(NotFound, match=r"^username is required$"):
            await alice.dm_open("")


async def test_dm_list_empty(sandbox: Any) -> None:
    async with client_as(sandbox, "bob") as bob:
        assert await bob.dm_list() == []


# -- settings ----------------------------------------------------------------------------------


async def test_settings(sandbox: Any) -> None:
    async with client_as(sandbox, "agent") as agent, client_as(sandbox, "alice") as alice:
        assert await agent.get_settings() == {}
        await agent.set_setting("theme", "dark")
        await agent.set_setting("webhook_url", "http://hooks.local/sf")
        await agent.set_setting("theme", "light")
        assert await agent.get_settings() == {"theme": "light", "webhook_url": "http://hooks.local/sf"}
        with pytest.raises(PermissionDenied) as info:
            await alice.get_settings()
        assert info.value.permission == "manage_roles"
        with pytest.raises(PermissionDenied) as info:
            await alice.set_setting("theme", "x")
        assert info.value.permission == "manage_roles"


# -- mention groups -----------------------------------------------------------------------------


async def test_mention_groups(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice, client_as(sandbox, "bob") as bob:
        assert await alice.list_mention_groups() == []
        group_id = await alice.create_mention_group("backend")
        assert isinstance(group_id, int) and group_id > 0
        await alice.add_mention_group_member("backend", "bob")
        await alice.add_mention_group_member("backend", "agent")
        await alice.add_mention_group_member("backend", "bob")  # idempotent
        group = await bob.get_mention_group("backend")
        assert (group.id, group.slug, group.created_by, group.members) == (
            group_id,
            "backend",
            "alice",
            ["agent", "bob"],
        )
        assert group.created_at is not None
        second = await bob.create_mention_group("api")
        assert [(g.slug, g.id) for g in await alice.list_mention_groups()] == [
            ("api", second),
            ("backend", group_id),
        ]

        with pytest.raises(PermissionDenied, match=r"^only the group creator can delete it$"):
            await bob.delete_mention_group("backend")
        with pytest.raises(PermissionDenied, match=r"^only the group creator can manage members$"):
            await bob.add_mention_group_member("backend", "alice")
        with pytest.raises(BadRequest, match=r"^invalid slug: must match \[a-zA-Z0-9_-\]\+$"):
            await alice.create_mention_group("no spaces")
        with pytest.raises(Conflict, match=r"^slug conflicts with existing username: bob$"):
            await alice.create_mention_group("bob")
        with pytest.raises(Conflict, match=r"UNIQUE constraint failed: mention_groups.slug"):
            await bob.create_mention_group("backend")
        with pytest.raises(NotFound, match=r"^user not found: ghost$"):
            await alice.add_mention_group_member("backend", "ghost")

        await alice.remove_mention_group_member("backend", "agent")
        await alice.remove_mention_group_member("backend", "agent")  # idempotent
        assert (await alice.get_mention_group("backend")).members == ["bob"]
        await alice.delete_mention_group("backend")
        with pytest.raises(NotFound, match=r"^mention group not found: backend$"):
            await alice.get_mention_group("backend")
        with pytest.raises(NotFound, match=r"^mention group not found: backend$"):
            await alice.delete_mention_group("backend")
        assert [g.slug for g in await alice.list_mention_groups()] == ["api"]


async def test_group_mention_expands_for_unread_but_not_in_push(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice, client_as(sandbox, "bob") as bob:
        await alice.create_mention_group("devs")
        await alice.add_mention_group_member("devs", "bob")
        await alice.join_channel("general")
        await bob.join_channel("general")
        message_id = await alice.send_message("general", "ping @devs")
        event = await next_event(bob)
        assert isinstance(event, MessageEvent)
        assert (event.id, event.mentions) == (message_id, ["devs"])  # push: the slug
        assert [m.mentions for m in await bob.unread_messages(mentions_only=True)] == [
            ["bob"]
        ]  # stored: members


# -- notifications-only mode and REST-through-client --------------------------------------------


async def test_notifications_only_connection(sandbox: Any) -> None:
    async with client_as(sandbox, "bob", url=sandbox.ws_url + "?notifications_only=true") as bob:
        assert bob.url == sandbox.ws_url + "?notifications_only=true"
        with pytest.raises(PermissionDenied, match=r"^notification-only connection$"):
            await bob.send_message("general", "x")
        await bob.set_state("active")
        assert await bob.unread_counts() == []
        assert await bob.capabilities() == USER_PERMISSIONS


async def test_rest_operations_through_client(sandbox: Any) -> None:
    async with client_as(sandbox, "flow-bot") as bot:
        identity = await bot.register()
        assert (identity.username, identity.role, identity.type) == ("flow-bot", "bot", "service")
        assert len(identity.id) == 32
        hook_id = await bot.register_webhook("http://127.0.0.1:9/hook")
        assert await bot.register_webhook("http://127.0.0.1:9/hook") == hook_id  # same URL → same id
        assert [(w.id, w.url, w.active) for w in await bot.list_webhooks()] == [
            (hook_id, "http://127.0.0.1:9/hook", True)
        ]
        await bot.unregister_webhook(hook_id)
        await bot.unregister_webhook("unknown-id")  # always 204
        assert await bot.list_webhooks() == []


async def test_requests_after_close_raise_client_closed(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice:
        pass
    for call in (alice.ping(), alice.users(), alice.send_message("general", "x"), alice.request("version")):
        with pytest.raises(ClientClosed):
            await call
