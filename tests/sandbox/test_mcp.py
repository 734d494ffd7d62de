"""The sandbox's ``/mcp`` against the daemon's exact texts (PROTOCOL.md §10), over raw httpx.

Expected texts are written out here from the daemon's source (``pkg/daemon/mcp_server.go``,
``pkg/infra/sqlite``, mcp-go v0.44.1), never derived from the sandbox's own tables.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharkfin_mcp.sandbox import Identity, Sandbox

from .._protocol import USER_PERMISSIONS
from ._mcp_wire import JSON, Mcp
from ._wire import TS, auth, fixed_clock, ws

pytestmark = pytest.mark.anyio

UNIQUE_MEMBER = (
    "constraint failed: UNIQUE constraint failed: "
    "channel_members.channel_id, channel_members.identity_id (1555)"
)
FK = "constraint failed: FOREIGN KEY constraint failed (787)"
# Tool → permission, from the daemon's toolPermissions map; every other tool needs none.
PERMISSIONS = {
    "user_list": "user_list",
    "channel_list": "channel_list",
    "channel_create": "create_channel",
    "channel_invite": "invite_channel",
    "channel_join": "join_channel",
    "send_message": "send_message",
    "unread_messages": "unread_messages",
    "unread_counts": "unread_counts",
    "mark_read": "mark_read",
    "history": "history",
    "dm_list": "dm_list",
    "dm_open": "dm_open",
    "set_role": "manage_roles",
    "create_role": "manage_roles",
    "delete_role": "manage_roles",
    "grant_permission": "manage_roles",
    "revoke_permission": "manage_roles",
    "list_roles": "manage_roles",
}
ALL_TOOLS = sorted(
    [
        *PERMISSIONS,
        "capabilities",
        "set_state",
        "wait_for_messages",
        "mention_group_create",
        "mention_group_delete",
        "mention_group_get",
        "mention_group_list",
        "mention_group_add_member",
        "mention_group_remove_member",
        "register_webhook",
        "unregister_webhook",
        "list_webhooks",
    ]
)


class World:
    """A fresh sandbox after :func:`_setup`, with one open MCP session per identity."""

    def __init__(self, sb: Sandbox, http: httpx.AsyncClient) -> None:
        self.sb = sb
        self.http = http
        self.sessions: dict[str, Mcp] = {}

    async def as_(self, user: str) -> Mcp:
        if user not in self.sessions:
            self.sessions[user] = Mcp(self.sb, user, self.http)
            await self.sessions[user].initialize()
        return self.sessions[user]


async def _setup(w: World) -> None:
    """agent (admin) and alice share private ``ops`` (msgs 1 and 2, 2 replies to 1); alice is in
    ``general``; group ``devs`` = {bob}; custom roles ``auditor`` (no permissions, held by flow-bot)
    and ``helper`` (history); flow-bot has one webhook."""
    agent, alice, bot = await w.as_("agent"), await w.as_("alice"), await w.as_("flow-bot")
    assert await agent.ok("channel_create", {"name": "ops", "public": False, "members": ["alice"]}) == (
        "created channel ops (id: 2)"
    )
    assert (
        await agent.ok("send_message", {"channel": "ops", "message": "hello @alice"})
        == "message sent (id: 1)"
    )
    assert await alice.ok("send_message", {"channel": "ops", "message": "reply", "thread_id": 1}) == (
        "message sent (id: 2)"
    )
    assert await alice.ok("channel_join", {"channel": "general"}) == "joined general"
    assert await agent.ok("mention_group_create", {"slug": "devs"}) == "created mention group @devs (id: 1)"
    assert (
        await agent.ok("mention_group_add_member", {"slug": "devs", "username": "bob"})
        == "added bob to @devs"
    )
    assert await agent.ok("create_role", {"name": "auditor"}) == "created role auditor"
    assert await agent.ok("create_role", {"name": "helper"}) == "created role helper"
    assert await agent.ok("grant_permission", {"role": "helper", "permission": "history"}) == (
        "granted history to helper"
    )
    assert await bot.ok("register_webhook", {"url": "http://127.0.0.1:9/hook"}) == "webhook registered"
    assert await agent.ok("set_role", {"username": "flow-bot", "role": "auditor"}) == (
        "set flow-bot role to auditor"
    )


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module scope, so that one sandbox (set up once) serves the whole table."""
    return "asyncio"


@pytest.fixture(scope="module")
async def _world() -> AsyncIterator[tuple[World, dict[str, Any]]]:
    async with Sandbox() as sb, httpx.AsyncClient(base_url=sb.http_url) as http:
        fixed_clock(sb)
        w = World(sb, http)
        await _setup(w)
        for user in ("bob",):
            await w.as_(user)
        yield w, copy.deepcopy(sb.state.__dict__)


@pytest.fixture
async def world(_world: tuple[World, dict[str, Any]]) -> AsyncIterator[World]:
    """The world as :func:`_setup` left it: the state is restored from a snapshot after each test
    (sessions stay open), which is much cheaper than a sandbox per case."""
    w, snapshot = _world
    yield w
    w.sb.state.__dict__.update(copy.deepcopy(snapshot))
    w.sb.hub.states.clear()


MSG1 = {
    "channel": "ops",
    "id": 1,
    "from": "agent",
    "body": "hello @alice",
    "sent_at": TS,
    "mentions": ["alice"],
}
MSG2 = {"channel": "ops", "id": 2, "from": "alice", "body": "reply", "sent_at": TS, "thread_id": 1}
DEVS = {"id": 1, "slug": "devs", "created_by": "agent", "members": ["bob"], "created_at": TS}
Expected = Any  # a text, a JSON value (compared parsed), or a callable(world) -> text

# (user, tool, arguments, kind, expected) — kind: ok | error (isError) | rpc (JSON-RPC error)
CASES: list[tuple[str, str, dict[str, Any], str, Expected]] = [
    # users and channels
    (
        "agent",
        "user_list",
        {},
        "ok",
        [
            {"username": "agent", "online": False, "type": "agent"},
            {"username": "alice", "online": False, "type": "user"},
            {"username": "bob", "online": False, "type": "user"},
            {"username": "flow-bot", "online": False, "type": "service"},
        ],
    ),
    (
        "alice",
        "channel_list",
        {},
        "ok",
        [{"name": "general", "public": True}, {"name": "ops", "public": False}],
    ),
    ("bob", "channel_list", {}, "ok", [{"name": "general", "public": True}]),
    ("agent", "channel_create", {"name": "new", "public": True}, "ok", "created channel new (id: 3)"),
    ("agent", "channel_create", {"name": "x", "members": ["ghost"]}, "error", "user not found: ghost"),
    (
        "agent",
        "channel_create",
        {"name": "ops", "public": True},
        "rpc",
        (
            -32603,
            "create channel: insert channel: "
            "constraint failed: UNIQUE constraint failed: channels.name (2067)",
        ),
    ),
    (
        "agent",
        "channel_create",
        {"name": "x", "members": ["bob", "bob"]},
        "rpc",
        lambda w: (
            -32603,
            f"create channel: insert member {w.sb.state.identities['bob'].id}: {UNIQUE_MEMBER}",
        ),
    ),
    ("agent", "channel_invite", {"channel": "ops", "username": "bob"}, "ok", "invited bob to ops"),
    ("agent", "channel_invite", {"channel": "nope", "username": "bob"}, "error", "channel not found: nope"),
    (
        "bob",
        "channel_invite",
        {"channel": "ops", "username": "bob"},
        "error",
        "you are not a participant of this channel",
    ),
    ("agent", "channel_invite", {"channel": "ops", "username": "ghost"}, "error", "user not found: ghost"),
    (
        "agent",
        "channel_invite",
        {"channel": "ops", "username": "alice"},
        "rpc",
        (-32603, f"add member: add member: {UNIQUE_MEMBER}"),
    ),
    ("bob", "channel_join", {"channel": "general"}, "ok", "joined general"),
    ("bob", "channel_join", {"channel": "ops"}, "error", "channel is private, requires an invite"),
    ("bob", "channel_join", {"channel": "nope"}, "error", "channel not found: nope"),
    ("bob", "channel_join", {}, "error", "channel not found: "),
    ("alice", "channel_join", {"channel": "general"}, "error", "already a member"),
    # messages
    ("alice", "send_message", {"channel": "ops", "message": "hi"}, "ok", "message sent (id: 3)"),
    ("alice", "send_message", {"channel": "ops", "body": "WS name"}, "ok", "message sent (id: 3)"),
    ("alice", "send_message", {"channel": "nope", "message": "hi"}, "error", "channel not found: nope"),
    (
        "bob",
        "send_message",
        {"channel": "ops", "message": "hi"},
        "error",
        "you are not a participant of this channel",
    ),
    (
        "alice",
        "send_message",
        {"channel": "ops", "message": "x", "thread_id": 99},
        "rpc",
        (-32603, "send message: parent message not found: 99"),
    ),
    (
        "alice",
        "send_message",
        {"channel": "ops", "message": "x", "thread_id": 2},
        "rpc",
        (-32603, "send message: cannot reply to a reply (threads are 1 level deep)"),
    ),
    (
        "alice",
        "send_message",
        {"channel": "general", "message": "x", "thread_id": 1},
        "rpc",
        (-32603, "send message: parent message is in a different channel"),
    ),
    (
        "alice",
        "unread_messages",
        {},
        "ok",
        [{"channel": "ops", "from": "agent", "body": "hello @alice", "sent_at": TS, "mentions": ["alice"]}],
    ),
    (
        "agent",
        "unread_messages",
        {},
        "ok",
        [{"channel": "ops", "from": "alice", "body": "reply", "sent_at": TS, "thread_id": 1}],
    ),
    ("agent", "unread_messages", {"thread_id": 0}, "ok", None),
    (
        "alice",
        "unread_messages",
        {"mentions_only": True},
        "ok",
        [{"channel": "ops", "from": "agent", "body": "hello @alice", "sent_at": TS, "mentions": ["alice"]}],
    ),
    ("bob", "unread_messages", {}, "ok", None),
    ("bob", "unread_messages", {"channel": "nope"}, "error", "channel not found: nope"),
    (
        "alice",
        "unread_counts",
        {},
        "ok",
        [{"channel": "ops", "type": "channel", "unread_count": 1, "mention_count": 1}],
    ),
    ("bob", "unread_counts", {}, "ok", None),
    ("alice", "mark_read", {"channel": "ops"}, "ok", "marked ops as read"),
    ("alice", "mark_read", {"channel": "ops", "message_id": 0}, "ok", "marked ops as read"),
    ("alice", "mark_read", {"channel": "nope"}, "error", "channel not found: nope"),
    ("bob", "mark_read", {"channel": "ops"}, "error", "you are not a participant of this channel"),
    (
        "alice",
        "mark_read",
        {"channel": "ops", "message_id": 99},
        "rpc",
        (-32603, f"mark read: mark read: {FK}"),
    ),
    ("agent", "history", {"channel": "ops"}, "ok", [MSG1, MSG2]),
    ("agent", "history", {"channel": "ops", "limit": 1}, "ok", [MSG2]),
    ("agent", "history", {"channel": "ops", "limit": "1"}, "ok", [MSG2]),
    ("agent", "history", {"channel": "ops", "before": 2}, "ok", [MSG1]),
    ("agent", "history", {"channel": "ops", "before": 0}, "ok", None),
    ("agent", "history", {"channel": "ops", "after": 1}, "ok", [MSG2]),
    ("agent", "history", {"channel": "ops", "before": "2"}, "ok", [MSG1, MSG2]),
    ("agent", "history", {"channel": "ops", "thread_id": 1}, "ok", [MSG2]),
    ("agent", "history", {"channel": "nope"}, "error", "channel not found: nope"),
    ("bob", "history", {"channel": "ops"}, "error", "you are not a participant of this channel"),
    # DMs, capabilities, state
    ("agent", "dm_list", {}, "ok", None),
    (
        "agent",
        "dm_open",
        {"username": "bob"},
        "ok",
        {"channel": "dm-agent-bob", "created": True, "participant": "bob"},
    ),
    ("agent", "dm_open", {"username": "agent"}, "error", "cannot open DM with yourself"),
    ("agent", "dm_open", {"username": "ghost"}, "error", "user not found: ghost"),
    ("agent", "dm_open", {}, "error", "user not found: "),
    ("alice", "capabilities", {}, "ok", USER_PERMISSIONS),
    ("flow-bot", "capabilities", {}, "ok", None),
    ("bob", "set_state", {"state": "active"}, "ok", "state set to active"),
    ("bob", "set_state", {"state": "busy"}, "error", "state must be 'active' or 'idle'"),
    (
        "bob",
        "wait_for_messages",
        {"timeout": 1},
        "error",
        "wait_for_messages is only available via mcp-bridge",
    ),
    # roles
    ("agent", "set_role", {"username": "bob", "role": "admin"}, "ok", "set bob role to admin"),
    ("agent", "set_role", {"username": "bob", "role": "no-such-role"}, "ok", "set bob role to no-such-role"),
    ("agent", "set_role", {"username": "ghost", "role": "admin"}, "error", "user not found: ghost"),
    ("agent", "create_role", {"name": "ops-lead"}, "ok", "created role ops-lead"),
    (
        "agent",
        "create_role",
        {"name": "auditor"},
        "error",
        "create role: constraint failed: UNIQUE constraint failed: roles.name (2067)",
    ),
    ("agent", "delete_role", {"name": "auditor"}, "ok", "deleted role auditor"),
    ("agent", "delete_role", {"name": "admin"}, "error", "role not found or is built-in: admin"),
    ("agent", "delete_role", {"name": "ghost"}, "error", "role not found or is built-in: ghost"),
    ("agent", "delete_role", {"name": "helper"}, "error", f"delete role: {FK}"),
    (
        "agent",
        "grant_permission",
        {"role": "auditor", "permission": "history"},
        "ok",
        "granted history to auditor",
    ),
    (
        "agent",
        "grant_permission",
        {"role": "auditor", "permission": "fly"},
        "error",
        f"grant permission: {FK}",
    ),
    (
        "agent",
        "grant_permission",
        {"role": "ghost", "permission": "history"},
        "error",
        f"grant permission: {FK}",
    ),
    (
        "agent",
        "revoke_permission",
        {"role": "user", "permission": "history"},
        "ok",
        "revoked history from user",
    ),
    ("agent", "revoke_permission", {"role": "ghost", "permission": "fly"}, "ok", "revoked fly from ghost"),
    (
        "agent",
        "list_roles",
        {},
        "ok",
        [
            {
                "name": "admin",
                "built_in": True,
                "permissions": sorted([*USER_PERMISSIONS, "create_channel", "manage_roles"]),
            },
            {"name": "agent", "built_in": True, "permissions": USER_PERMISSIONS},
            {"name": "auditor", "built_in": False, "permissions": None},
            {
                "name": "bot",
                "built_in": True,
                "permissions": sorted(
                    [*(p for p in USER_PERMISSIONS if p != "invite_channel"), "create_channel"]
                ),
            },
            {"name": "helper", "built_in": False, "permissions": ["history"]},
            {"name": "user", "built_in": True, "permissions": USER_PERMISSIONS},
        ],
    ),
    # mention groups
    ("agent", "mention_group_create", {"slug": "qa"}, "ok", "created mention group @qa (id: 2)"),
    (
        "agent",
        "mention_group_create",
        {"slug": "bad slug"},
        "error",
        "invalid slug: must match [a-zA-Z0-9_-]+",
    ),
    ("agent", "mention_group_create", {}, "error", "invalid slug: must match [a-zA-Z0-9_-]+"),
    (
        "agent",
        "mention_group_create",
        {"slug": "alice"},
        "error",
        "slug conflicts with existing username: alice",
    ),
    (
        "agent",
        "mention_group_create",
        {"slug": "devs"},
        "error",
        "create mention group: constraint failed: UNIQUE constraint failed: mention_groups.slug (2067)",
    ),
    ("agent", "mention_group_delete", {"slug": "devs"}, "ok", "deleted mention group @devs"),
    ("alice", "mention_group_delete", {"slug": "devs"}, "error", "only the group creator can delete it"),
    ("agent", "mention_group_delete", {"slug": "ghost"}, "error", "mention group not found: ghost"),
    ("bob", "mention_group_get", {"slug": "devs"}, "ok", DEVS),
    ("bob", "mention_group_get", {"slug": "ghost"}, "error", "mention group not found: ghost"),
    ("bob", "mention_group_list", {}, "ok", [DEVS]),
    (
        "agent",
        "mention_group_add_member",
        {"slug": "devs", "username": "alice"},
        "ok",
        "added alice to @devs",
    ),
    ("agent", "mention_group_add_member", {"slug": "devs", "username": "bob"}, "ok", "added bob to @devs"),
    (
        "alice",
        "mention_group_add_member",
        {"slug": "devs", "username": "alice"},
        "error",
        "only the group creator can manage members",
    ),
    (
        "agent",
        "mention_group_add_member",
        {"slug": "devs", "username": "ghost"},
        "error",
        "user not found: ghost",
    ),
    (
        "agent",
        "mention_group_add_member",
        {"slug": "ghost", "username": "bob"},
        "error",
        "mention group not found: ghost",
    ),
    (
        "agent",
        "mention_group_remove_member",
        {"slug": "devs", "username": "bob"},
        "ok",
        "removed bob from @devs",
    ),
    (
        "alice",
        "mention_group_remove_member",
        {"slug": "devs", "username": "bob"},
        "error",
        "only the group creator can manage members",
    ),
    # webhooks
    ("agent", "register_webhook", {"url": "http://127.0.0.1:9/a"}, "ok", "webhook registered"),
    ("agent", "register_webhook", {}, "error", "url is required"),
    ("agent", "unregister_webhook", {"webhook_id": "nope"}, "ok", "webhook unregistered"),
    ("agent", "unregister_webhook", {}, "error", "webhook_id is required"),
    ("agent", "list_webhooks", {}, "ok", "[]"),
    (
        "flow-bot",
        "list_webhooks",
        {},
        "ok",
        lambda w: json.dumps(
            [{"id": h.id, "url": h.url} for h in w.sb.state.webhooks.values()], separators=(",", ":")
        ),
    ),
    # the daemon's own name for an unknown tool
    ("agent", "no_such_tool", {}, "rpc", (-32602, "tool 'no_such_tool' not found: tool not found")),
]
# flow-bot holds ``auditor``, a role without permissions: every gated tool says which one it lacks.
DENIED = [("flow-bot", tool, {}, "error", f"permission denied: {perm}") for tool, perm in PERMISSIONS.items()]


def _case_id(case: tuple[str, str, dict[str, Any], str, Expected]) -> str:
    user, tool, args, kind, _ = case
    return f"{tool}-{kind}-{user}-{json.dumps(args, sort_keys=True)}"


def test_every_tool_is_in_the_table() -> None:
    """Each tool's success text and each of its failure texts (three tools cannot fail)."""
    covered = {(tool, kind) for _, tool, _, kind, _ in CASES + DENIED}
    for tool in ALL_TOOLS:
        assert (tool, "ok") in covered or tool == "wait_for_messages", tool
        if tool not in ("capabilities", "mention_group_list", "list_webhooks"):
            assert any(t == tool and k != "ok" for t, k in covered), tool


@pytest.mark.parametrize("case", CASES + DENIED, ids=_case_id)
async def test_tool_text(world: World, case: tuple[str, str, dict[str, Any], str, Expected]) -> None:
    user, tool, args, kind, expected = case
    if callable(expected):
        expected = expected(world)
    got_kind, got = await (await world.as_(user)).call(tool, args)
    assert got_kind == kind, got
    if kind == "rpc":
        assert got == tuple(expected)
    elif isinstance(expected, str):
        assert got == expected
    else:
        assert json.loads(got) == expected, got
        assert got == json.dumps(expected, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")


async def test_send_message_reads_message_not_body(world: World) -> None:
    alice = await world.as_("alice")
    await alice.ok("send_message", {"channel": "ops", "body": "ignored", "message": "kept", "metadata": ""})
    stored = world.sb.messages_for_test("ops")[-1]
    assert (stored["body"], stored["metadata"]) == ("kept", None)
    await alice.ok("send_message", {"channel": "ops", "body": "only body"})
    assert world.sb.messages_for_test("ops")[-1]["body"] == ""


async def test_role_tools_change_rbac_state(world: World) -> None:
    agent, bob = await world.as_("agent"), await world.as_("bob")
    assert await bob.call("channel_create", {"name": "b", "public": True}) == (
        "error",
        "permission denied: create_channel",
    )
    await agent.ok("grant_permission", {"role": "user", "permission": "create_channel"})
    assert await bob.ok("channel_create", {"name": "b", "public": True}) == "created channel b (id: 3)"
    await agent.ok("revoke_permission", {"role": "user", "permission": "send_message"})
    assert await bob.call("send_message", {"channel": "b", "message": "x"}) == (
        "error",
        "permission denied: send_message",
    )
    await agent.ok("set_role", {"username": "bob", "role": "helper"})
    assert json.loads(await bob.ok("capabilities")) == ["history"]
    assert world.sb.role_of("bob") == "helper"


# ---- pushes --------------------------------------------------------------------------------------


async def test_role_changes_push_capabilities_to_role_holders(world: World) -> None:
    agent = await world.as_("agent")
    async with ws(world.sb, "bob") as bob, ws(world.sb, "flow-bot") as bot:
        assert (await bob.recv())["type"] == "presence"  # flow-bot came online after bob
        await agent.ok("grant_permission", {"role": "auditor", "permission": "history"})
        assert await bot.recv() == {"type": "capabilities", "d": {"permissions": ["history"]}}
        await agent.ok("revoke_permission", {"role": "auditor", "permission": "history"})
        assert await bot.recv() == {"type": "capabilities", "d": {"permissions": None}}
        assert await bob.silent()  # bob holds ``user``, not ``auditor``
        await agent.ok("set_role", {"username": "bob", "role": "helper"})
        assert await bob.recv() == {"type": "capabilities", "d": {"permissions": ["history"]}}
        await agent.ok("create_role", {"name": "quiet"})
        await agent.ok("delete_role", {"name": "quiet"})
        assert await bob.silent() and await bot.silent()  # create/delete push nothing


async def test_mcp_send_pushes_message_new_and_publishes_to_the_bus(world: World) -> None:
    alice = await world.as_("alice")
    async with ws(world.sb, "agent") as agent, ws(world.sb, "agent", path="/presence") as presence:
        await alice.ok("send_message", {"channel": "ops", "message": "ping @agent", "metadata": '{"k":1}'})
        assert await agent.recv() == {
            "type": "message.new",
            "d": {
                "body": "ping @agent",
                "channel": "ops",
                "channel_type": "channel",
                "from": "alice",
                "id": 3,
                "mentions": ["agent"],
                "metadata": '{"k":1}',
                "sent_at": TS,
            },
        }
        assert await presence.recv() == {
            "d": {"channel": "ops", "channel_type": "channel", "from": "alice", "message_id": 3},
            "type": "message.new",
        }


async def test_mcp_set_state_pushes_presence(world: World) -> None:
    async with ws(world.sb, "agent") as agent:
        await (await world.as_("bob")).ok("set_state", {"state": "active"})
        assert await agent.recv() == {
            "type": "presence",
            "d": {"state": "active", "status": "online", "username": "bob"},
        }


async def test_tools_call_provisions_the_caller_but_list_and_initialize_do_not(sandbox: Sandbox) -> None:
    sandbox.add_identity(Identity("carol", "carol-key", "agent"))
    async with httpx.AsyncClient(base_url=sandbox.http_url) as http:
        carol = Mcp(sandbox, "carol", http)
        await carol.initialize()
        await carol.rpc("tools/list")
        assert "carol" not in sandbox.state.identities
        assert await carol.ok("set_state", {"state": "idle"}) == "state set to idle"
        assert sandbox.role_of("carol") == "agent"


# ---- transport: initialize, sessions, notifications, content types -------------------------------


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.http_url) as client:
        yield client


async def test_initialize(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    mcp = Mcp(sandbox, "alice", http)
    response = await mcp.initialize()
    assert response.headers["content-type"] == "application/json"
    assert response.text.endswith("}\n")
    session = response.headers["mcp-session-id"]
    assert re.fullmatch(r"mcp-session-[0-9a-f-]{36}", session) and uuid.UUID(session[12:]).version == 4
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {
            "protocolVersion": "2025-03-26",
            "capabilities": {"tools": {"listChanged": True}},
            "serverInfo": {"name": "sharkfin", "version": "v0.0.0-sandbox"},
        },
    }
    other = Mcp(sandbox, "alice", http)
    await other.initialize()
    assert other.session != session


@pytest.mark.parametrize(
    ("asked", "answered"),
    [
        ("2025-03-26", "2025-03-26"),
        ("2024-11-05", "2024-11-05"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
        (None, "2025-03-26"),
        ("", "2025-03-26"),
    ],
)
async def test_protocol_version_negotiation(
    sandbox: Sandbox, http: httpx.AsyncClient, asked: str | None, answered: str
) -> None:
    params = {} if asked is None else {"protocolVersion": asked}
    body = await Mcp(sandbox, "bob", http).rpc("initialize", params)
    assert body["result"]["protocolVersion"] == answered


async def test_tools_list_is_the_daemons_thirty(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    mcp = Mcp(sandbox, "bob", http)
    await mcp.initialize()
    tools = (await mcp.rpc("tools/list"))["result"]["tools"]
    assert [t["name"] for t in tools] == ALL_TOOLS and len(tools) == 30
    send = next(t for t in tools if t["name"] == "send_message")
    assert send["inputSchema"]["required"] == ["channel", "message"]
    assert set(send["inputSchema"]["properties"]) == {"channel", "message", "thread_id", "metadata"}
    create = next(t for t in tools if t["name"] == "channel_create")
    assert create == {
        "annotations": {
            "destructiveHint": True,
            "idempotentHint": False,
            "openWorldHint": True,
            "readOnlyHint": False,
        },
        "description": "Create a new channel. May be disabled by server configuration.",
        "inputSchema": {
            "properties": {
                "members": {
                    "description": "Usernames of initial members",
                    "items": {"type": "string"},
                    "type": "array",
                },
                "name": {"description": "Channel name", "type": "string"},
                "public": {"description": "Whether the channel is visible to all users", "type": "boolean"},
            },
            "required": ["name", "public"],
            "type": "object",
        },
        "name": "channel_create",
    }
    assert next(t for t in tools if t["name"] == "list_roles")["inputSchema"] == {
        "properties": {},
        "required": [],
        "type": "object",
    }
    # mcp-go's cursor: base64 of the last name seen; the page holds the names after it.
    page = (await mcp.rpc("tools/list", {"cursor": "dW5yZWFkX2NvdW50cw=="}))["result"]["tools"]
    assert [t["name"] for t in page] == [n for n in ALL_TOOLS if n > "unread_counts"]


async def _text_error(response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status
    assert response.text == text + "\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("session", [None, "", "mcp-session-00000000-0000-4000-8000-000000000000", "garbage"])
async def test_missing_or_unknown_session_is_404(
    sandbox: Sandbox, http: httpx.AsyncClient, session: str | None
) -> None:
    mcp = Mcp(sandbox, "alice", http)
    await mcp.initialize()
    mcp.session = session
    for message in (
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "capabilities"}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ):
        await _text_error(await mcp.post(message), 404, "Invalid session ID")


async def test_delete_ends_the_session(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    mcp = Mcp(sandbox, "alice", http)
    await mcp.initialize()
    deleted = await http.delete("/mcp", headers=mcp.headers())
    assert (deleted.status_code, deleted.content) == (200, b"")
    await _text_error(await mcp.rpc_raw("tools/list"), 404, "Session terminated")
    again = await http.delete("/mcp", headers=mcp.headers())  # idempotent, like mcp-go
    assert again.status_code == 200
    await mcp.initialize()  # a new session works at once
    assert (await mcp.rpc("ping"))["result"] == {}


async def test_a_restart_forgets_sessions(sandbox: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox.http_url) as http:
        mcp = Mcp(sandbox, "alice", http)
        await mcp.initialize()
        await sandbox.stop()
        await sandbox.start()
        await _text_error(await mcp.rpc_raw("ping"), 404, "Invalid session ID")


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
        {
            "jsonrpc": "2.0",
            "method": "tools/call",
            "params": {"name": "send_message"},
        },  # no id: a notification
        {"jsonrpc": "2.0", "id": None, "method": "ping"},
        {"jsonrpc": "2.0", "id": 5, "method": "ping", "result": {"x": 1}},
        {"jsonrpc": "2.0", "id": 6, "method": "tools/call", "result": {}, "params": {"name": "send_message"}},
    ],
)
async def test_notifications_get_202_and_no_body(
    sandbox: Sandbox, http: httpx.AsyncClient, message: Any
) -> None:
    mcp = Mcp(sandbox, "alice", http)
    await mcp.initialize()
    response = await mcp.post(message)
    assert (response.status_code, response.content) == (202, b"")
    assert sandbox.message_count() == 0


async def test_a_clients_ping_answer_is_200_without_a_session(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        "/mcp", headers={**auth(sandbox, "alice"), **JSON}, content='{"jsonrpc":"2.0","id":7,"result":{}}'
    )
    assert (response.status_code, response.content) == (200, b"")


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/jsonx", "application/json; charset"]
)
async def test_wrong_content_type_is_400(
    sandbox: Sandbox, http: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = auth(sandbox, "alice")
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await http.post(
        "/mcp", headers=headers, content='{"jsonrpc":"2.0","id":1,"method":"initialize"}'
    )
    await _text_error(response, 400, "Invalid content type: must be 'application/json'")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
async def test_json_content_type_with_parameters(
    sandbox: Sandbox, http: httpx.AsyncClient, content_type: str
) -> None:
    response = await http.post(
        "/mcp",
        headers={**auth(sandbox, "alice"), "Content-Type": content_type},
        content='{"jsonrpc":"2.0","id":1,"method":"initialize"}',
    )
    assert response.status_code == 200 and "mcp-session-id" in response.headers


@pytest.mark.parametrize(
    "body", ["{", "[]", '[{"jsonrpc":"2.0","id":1,"method":"ping"}]', "42", '{"method":5}', ""]
)
async def test_body_that_is_not_a_json_object_is_a_400_parse_error(
    sandbox: Sandbox, http: httpx.AsyncClient, body: str
) -> None:
    response = await http.post("/mcp", headers={**auth(sandbox, "alice"), **JSON}, content=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "request body is not valid json"},
    }


@pytest.mark.parametrize(
    ("method", "code", "message"),
    [
        ("foo/bar", -32601, "Method foo/bar not found"),
        ("resources/list", -32601, "resources not supported"),
        ("resources/read", -32601, "resources not supported"),
        ("prompts/list", -32601, "prompts not supported"),
        ("logging/setLevel", -32601, "logging not supported"),
        ("tasks/list", -32601, "tasks not supported"),
        ("completion/complete", -32601, "completions not supported"),
    ],
)
async def test_methods_the_daemon_does_not_serve(
    sandbox: Sandbox, http: httpx.AsyncClient, method: str, code: int, message: str
) -> None:
    mcp = Mcp(sandbox, "alice", http)
    await mcp.initialize()
    body = await mcp.rpc(method)
    assert body["error"] == {"code": code, "message": message}


async def test_bad_jsonrpc_version_and_unparsable_params(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    mcp = Mcp(sandbox, "alice", http)
    await mcp.initialize()
    body = (await mcp.post({"jsonrpc": "1.0", "id": 3, "method": "ping"})).json()
    assert body == {
        "jsonrpc": "2.0",
        "id": 3,
        "error": {"code": -32600, "message": "Invalid JSON-RPC version"},
    }
    body = (await mcp.post({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": [1]})).json()
    assert body["error"]["code"] == -32600
    assert body["error"]["message"].startswith("unparsable tools/call request: json: cannot unmarshal array")
    body = (await mcp.post({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": 5}})).json()
    assert body["error"]["code"] == -32600


async def test_get_opens_an_empty_event_stream(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    mcp = Mcp(sandbox, "alice", http)
    await mcp.initialize()
    async with http.stream("GET", "/mcp", headers=mcp.headers()) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        with anyio.move_on_after(0.3) as waited:
            async for chunk in response.aiter_bytes():
                assert chunk == b"", chunk
        assert waited.cancelled_caught  # still open, nothing sent


async def test_get_stream_ends_when_the_sandbox_stops(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    async with http.stream("GET", "/mcp", headers=auth(sandbox, "alice")) as response:
        assert response.status_code == 200
        with anyio.fail_after(3):
            await sandbox.stop()
            assert [c async for c in response.aiter_bytes() if c] == []


@pytest.mark.parametrize("method", ["PUT", "PATCH", "OPTIONS"])
async def test_other_methods_are_404_after_auth(
    sandbox: Sandbox, http: httpx.AsyncClient, method: str
) -> None:
    response = await http.request(method, "/mcp", headers=auth(sandbox, "alice"))
    await _text_error(response, 404, "404 page not found")
    unauthenticated = await http.request(method, "/mcp")
    assert unauthenticated.status_code == 401


async def test_auth_comes_first(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    response = await http.post("/mcp", headers=JSON, content="{}")
    assert response.status_code == 401
    assert response.content == b'{"error":"auth: missing Authorization header"}\n'
    bad = await http.post("/mcp", headers={"Authorization": "ApiKey-v1 nope", **JSON}, content="{}")
    assert (bad.status_code, bad.content) == (401, b'{"error":"auth: invalid token"}\n')
    assert (await http.post("/mcp/", headers=auth(sandbox, "alice"))).status_code == 404


async def test_sse_responses_knob(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    sandbox.mcp.sse_responses = True
    mcp = Mcp(sandbox, "alice", http)
    response = await mcp.rpc_raw("initialize", {"protocolVersion": "2025-03-26"})
    assert response.headers["content-type"] == "text/event-stream"
    mcp.session = response.headers["mcp-session-id"]
    event = (await mcp.rpc_raw("tools/call", {"name": "set_state", "arguments": {"state": "idle"}})).text
    assert event.startswith("event: message\ndata: ") and event.endswith("\n\n")
    assert json.loads(event.split("data: ", 1)[1])["result"]["content"][0]["text"] == "state set to idle"


async def test_the_go_bridge_exchange(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    """Sharkfin's ``mcp-bridge`` verbatim: stdin lines POSTed with only Content-Type and the key,
    the session id taken from any reply, 202 swallowed, JSON bodies or SSE ``data:`` lines
    written out (cmd/mcpbridge/mcp_bridge.go)."""
    session = ""
    out: list[str] = []

    async def forward(line: str) -> None:
        nonlocal session
        headers = {"Content-Type": "application/json", "Authorization": "ApiKey-v1 " + sandbox.key("agent")}
        if session:
            headers["Mcp-Session-Id"] = session
        response = await http.post("/mcp", headers=headers, content=line)
        session = response.headers.get("Mcp-Session-Id") or session
        if response.status_code == 202:
            return
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            out.extend(ln[6:] for ln in response.text.splitlines() if ln.startswith("data: "))
        else:
            out.append(response.text.rstrip("\n"))

    lines = [
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-03-26",
                "capabilities": {},
                "clientInfo": {"name": "claude", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "channel_create", "arguments": {"name": "b", "public": True}},
        },
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "send_message", "arguments": {"channel": "b", "message": "hi"}},
        },
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "unread_messages"}},
    ]
    for line in lines:
        await forward(json.dumps(line))
    replies = [json.loads(line) for line in out]
    assert [r["id"] for r in replies] == [0, 1, 2, 3, 4]
    assert replies[0]["result"]["serverInfo"]["name"] == "sharkfin"
    assert len(replies[1]["result"]["tools"]) == 30
    assert replies[3]["result"]["content"][0]["text"] == "message sent (id: 1)"
    assert replies[4]["result"]["content"][0]["text"] == "null"  # what wait_for_messages polls for


# ---- every request gets exactly one answer, whatever the arguments -------------------------------

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
_arg_names = st.sampled_from(
    [
        "channel",
        "message",
        "name",
        "public",
        "members",
        "username",
        "thread_id",
        "metadata",
        "limit",
        "before",
        "after",
        "mentions_only",
        "message_id",
        "state",
        "role",
        "permission",
        "slug",
        "url",
        "webhook_id",
        "timeout",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    tool=st.sampled_from([*ALL_TOOLS, "nope"]),
    user=st.sampled_from(["agent", "alice", "flow-bot"]),
    args=st.dictionaries(_arg_names, _json_values, max_size=4) | _json_values,
)
async def test_any_arguments_get_exactly_one_well_formed_answer(
    _world: tuple[World, dict[str, Any]], tool: str, user: str, args: Any
) -> None:
    w = _world[0]
    mcp = await w.as_(user)
    body = await mcp.rpc("tools/call", {"name": tool, "arguments": args})
    assert ("result" in body) != ("error" in body)
    if "error" in body:
        assert body["error"]["code"] in (-32602, -32603)
    else:
        assert [c["type"] for c in body["result"]["content"]] == ["text"]
    assert (await mcp.rpc("ping"))["result"] == {}  # still serving
