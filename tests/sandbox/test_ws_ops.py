"""Exact replies (full JSON equality) for every /ws op, success and error paths."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sharkfin_mcp.sandbox import Identity, Sandbox

from ._wire import TS, fixed_clock, ws

pytestmark = pytest.mark.anyio

ALL13 = sorted(
    [
        "send_message",
        "create_channel",
        "join_channel",
        "invite_channel",
        "history",
        "unread_messages",
        "unread_counts",
        "mark_read",
        "user_list",
        "channel_list",
        "dm_open",
        "dm_list",
        "manage_roles",
    ]
)
USER11 = [p for p in ALL13 if p not in ("create_channel", "manage_roles")]
BOT11 = [p for p in ALL13 if p not in ("invite_channel", "manage_roles")]
M = ...  # "d omitted"
NC = "constraint failed: UNIQUE constraint failed: channels.name (2067)"
MC = (
    "constraint failed: UNIQUE constraint failed: "
    "channel_members.channel_id, channel_members.identity_id (1555)"
)


def err(text: str) -> tuple[str, Any]:
    return ("error", {"message": text})


def ok(d: Any = None) -> tuple[str, Any]:
    return ("reply", d)


def msg(i: int, body: str, **extra: Any) -> dict[str, Any]:
    return {"id": i, "from": "alice", "body": body, "sent_at": TS, **extra}


def unread(body: str, **extra: Any) -> dict[str, Any]:
    return {"channel": "ops", "from": "alice", "body": body, "sent_at": TS, **extra}


USERS = [
    {"username": "agent", "online": False, "type": "agent"},
    {"username": "alice", "online": False, "type": "user"},
    {"username": "bob", "online": False, "type": "user"},
    {"username": "flow-bot", "online": False, "type": "service"},
]
GROUP = {"id": 1, "slug": "devs", "created_by": "alice", "members": ["bob"], "created_at": TS}

# (user, type, d, (expected type, expected d)) — executed in order on one sandbox.
TABLE: list[tuple[str, str, Any, tuple[str, Any]]] = [
    ("agent", "ping", M, ("pong", None)),
    ("agent", "version", M, ok({"version": "v0.0.0-sandbox"})),
    ("agent", "capabilities", M, ok({"permissions": ALL13})),
    ("alice", "capabilities", "junk", ok({"permissions": USER11})),
    ("flow-bot", "capabilities", M, ok({"permissions": BOT11})),
    ("agent", "set_state", {"state": "busy"}, err("state must be 'active' or 'idle'")),
    ("agent", "set_state", M, err("state must be 'active' or 'idle'")),
    ("agent", "set_state", "x", err("state must be 'active' or 'idle'")),
    ("agent", "set_state", {"State": "active"}, ok()),
    ("agent", "user_list", M, ok({"users": USERS})),
    ("agent", "channel_list", M, ok({"channels": [{"name": "general", "public": True, "member": False}]})),
    ("alice", "channel_create", {"name": "x"}, err("permission denied: create_channel")),
    ("agent", "channel_create", M, err("invalid arguments")),
    ("agent", "channel_create", [1], err("invalid arguments")),
    ("agent", "channel_create", {"name": 5}, err("invalid arguments")),
    ("agent", "channel_create", {"name": "ops", "public": "yes"}, err("invalid arguments")),
    ("agent", "channel_create", {"name": "ops", "members": ["ghost"]}, err("user not found: ghost")),
    ("agent", "channel_create", {"name": "ops", "members": ["alice", "agent"]}, ok({"name": "ops"})),
    ("agent", "channel_create", {"name": "ops"}, err(f"insert channel: {NC}")),
    ("agent", "channel_create", {"name": "general"}, err(f"insert channel: {NC}")),
    ("agent", "channel_create", {"name": "secret", "public": False}, ok({"name": "secret"})),
    (
        "flow-bot",
        "channel_invite",
        {"channel": "ops", "username": "bob"},
        err("permission denied: invite_channel"),
    ),
    ("bob", "channel_invite", {"channel": "nope", "username": "bob"}, err("channel not found: nope")),
    (
        "bob",
        "channel_invite",
        {"channel": "ops", "username": "bob"},
        err("you are not a participant of this channel"),
    ),
    ("alice", "channel_invite", {"channel": "ops", "username": "ghost"}, err("user not found: ghost")),
    ("alice", "channel_invite", {"channel": "ops", "username": "agent"}, err(f"add member: {MC}")),
    ("alice", "channel_invite", {"channel": "ops", "username": "bob"}, ok()),
    ("bob", "channel_join", M, err("invalid arguments")),
    ("bob", "channel_join", None, err("channel not found: ")),
    ("bob", "channel_join", {"channel": "general"}, ok()),
    ("bob", "channel_join", {"channel": "general"}, err("already a member")),
    ("alice", "channel_join", {"channel": "ops"}, err("already a member")),
    ("flow-bot", "channel_join", {"channel": "ops"}, ok()),  # private, still joinable over WS
    (
        "alice",
        "channel_list",
        M,
        ok(
            {
                "channels": [
                    {"name": "general", "public": True, "member": False},
                    {"name": "ops", "public": False, "member": True},
                    {"name": "secret", "public": False, "member": False},
                ]
            }
        ),
    ),
    (
        "alice",
        "send_message",
        {"channel": "general", "body": "x"},
        err("you are not a participant of this channel"),
    ),
    ("alice", "send_message", {"channel": "nope", "body": "x"}, err("channel not found: nope")),
    (
        "alice",
        "send_message",
        {"channel": "ops", "body": "x", "metadata": {"a": 1}},
        err("invalid arguments"),
    ),
    ("alice", "send_message", {"channel": "ops", "body": "x", "thread_id": 1.5}, err("invalid arguments")),
    ("alice", "send_message", {"channel": "ops", "body": "x", "thread_id": "1"}, err("invalid arguments")),
    ("alice", "send_message", {"channel": "ops", "body": "hello @bob @ghost"}, ok({"id": 1})),
    (
        "alice",
        "send_message",
        {"channel": "ops", "body": "x", "thread_id": 999},
        err("parent message not found: 999"),
    ),
    (
        "alice",
        "send_message",
        {"channel": "ops", "body": "x", "thread_id": 0},
        err("parent message not found: 0"),
    ),
    (
        "alice",
        "send_message",
        {"channel": "ops", "body": "re", "thread_id": 1, "metadata": '{"k":1}'},
        ok({"id": 2}),
    ),
    (
        "alice",
        "send_message",
        {"channel": "ops", "body": "x", "thread_id": 2},
        err("cannot reply to a reply (threads are 1 level deep)"),
    ),
    ("agent", "channel_join", {"channel": "general"}, ok()),
    (
        "agent",
        "send_message",
        {"channel": "general", "body": "x", "thread_id": 1},
        err("parent message is in a different channel"),
    ),
    ("alice", "send_message", {"channel": "ops", "body": ""}, ok({"id": 3})),
    (
        "bob",
        "history",
        {"channel": "ops"},
        ok(
            {
                "channel": "ops",
                "messages": [
                    msg(1, "hello @bob @ghost", mentions=["bob"]),
                    msg(2, "re", thread_id=1, metadata='{"k":1}'),
                    msg(3, ""),
                ],
            }
        ),
    ),
    (
        "bob",
        "history",
        {"channel": "ops", "thread_id": 1},
        ok(
            {
                "channel": "ops",
                "messages": [
                    msg(2, "re", thread_id=1, metadata='{"k":1}'),
                ],
            }
        ),
    ),
    ("bob", "history", {"channel": "general"}, ok({"channel": "general", "messages": None})),
    ("bob", "history", {"channel": "nope"}, err("channel not found: nope")),
    ("alice", "history", {"channel": "general"}, err("you are not a participant of this channel")),
    ("bob", "history", M, err("invalid arguments")),
    ("bob", "history", {"channel": "ops", "limit": "5"}, err("invalid arguments")),
    (
        "bob",
        "unread_counts",
        M,
        ok(
            {
                "counts": [
                    {"channel": "ops", "type": "channel", "unread_count": 3, "mention_count": 1},
                ]
            }
        ),
    ),
    (
        "bob",
        "unread_messages",
        {"mentions_only": True},
        ok(
            {
                "messages": [
                    unread("hello @bob @ghost", mentions=["bob"]),
                ]
            }
        ),
    ),
    (
        "bob",
        "unread_messages",
        {"thread_id": 1},
        ok({"messages": [unread("re", thread_id=1, metadata='{"k":1}')]}),
    ),
    ("bob", "unread_messages", {"channel": "nope"}, err("channel not found: nope")),
    (
        "bob",
        "unread_messages",
        "garbage",
        ok(
            {
                "messages": [
                    unread("hello @bob @ghost", mentions=["bob"]),
                    unread("re", thread_id=1, metadata='{"k":1}'),
                    unread(""),
                ]
            }
        ),
    ),
    ("bob", "unread_messages", M, ok({"messages": None})),
    ("bob", "unread_counts", M, ok({"counts": None})),
    ("bob", "mark_read", M, err("invalid arguments")),
    ("bob", "mark_read", {}, err("channel is required")),
    ("bob", "mark_read", {"channel": "nope"}, err("channel not found: nope")),
    ("alice", "mark_read", {"channel": "general"}, err("you are not a participant of this channel")),
    (
        "bob",
        "mark_read",
        {"channel": "ops", "message_id": 999},
        err("mark read: constraint failed: FOREIGN KEY constraint failed (787)"),
    ),
    ("bob", "mark_read", {"channel": "ops", "message_id": 2}, ok()),
    ("bob", "mark_read", {"channel": "ops"}, ok()),
    ("bob", "dm_list", M, ok({"dms": None})),
    ("bob", "dm_open", M, err("invalid arguments")),
    ("bob", "dm_open", {}, err("username is required")),
    ("bob", "dm_open", {"username": "bob"}, err("cannot open DM with yourself")),
    ("bob", "dm_open", {"username": "ghost"}, err("user not found: ghost")),
    (
        "bob",
        "dm_open",
        {"username": "alice"},
        ok({"channel": "dm-alice-bob", "created": True, "participant": "alice"}),
    ),
    (
        "alice",
        "dm_open",
        {"username": "bob"},
        ok({"channel": "dm-alice-bob", "created": False, "participant": "bob"}),
    ),
    ("bob", "dm_list", M, ok({"dms": [{"channel": "dm-alice-bob", "participant": "alice"}]})),
    ("alice", "set_setting", {"key": "theme", "value": "dark"}, err("permission denied: manage_roles")),
    ("alice", "get_settings", M, err("permission denied: manage_roles")),
    ("agent", "get_settings", M, ok({"settings": {}})),
    ("agent", "set_setting", M, err("invalid arguments")),
    ("agent", "set_setting", {"key": "theme", "value": "dark"}, ok()),
    ("agent", "get_settings", M, ok({"settings": {"theme": "dark"}})),
    ("alice", "mention_group_create", M, err("invalid arguments")),
    ("alice", "mention_group_create", {"slug": "bad slug"}, err("invalid slug: must match [a-zA-Z0-9_-]+")),
    ("alice", "mention_group_create", {"slug": "bob"}, err("slug conflicts with existing username: bob")),
    ("alice", "mention_group_create", {"slug": "devs"}, ok({"id": 1, "slug": "devs"})),
    (
        "bob",
        "mention_group_create",
        {"slug": "devs"},
        err("create mention group: constraint failed: UNIQUE constraint failed: mention_groups.slug (2067)"),
    ),
    (
        "bob",
        "mention_group_add_member",
        {"slug": "devs", "username": "bob"},
        err("only the group creator can manage members"),
    ),
    (
        "alice",
        "mention_group_add_member",
        {"slug": "devs", "username": "ghost"},
        err("user not found: ghost"),
    ),
    (
        "alice",
        "mention_group_add_member",
        {"slug": "nope", "username": "bob"},
        err("mention group not found: nope"),
    ),
    ("alice", "mention_group_add_member", {"slug": "devs", "username": "bob"}, ok()),
    ("alice", "mention_group_add_member", {"slug": "devs", "username": "bob"}, ok()),
    ("bob", "mention_group_get", {"slug": "devs"}, ok(GROUP)),
    ("bob", "mention_group_get", {"slug": "nope"}, err("mention group not found: nope")),
    ("bob", "mention_group_list", M, ok({"groups": [GROUP]})),
    ("bob", "mention_group_delete", {"slug": "devs"}, err("only the group creator can delete it")),
    (
        "bob",
        "mention_group_remove_member",
        {"slug": "devs", "username": "bob"},
        err("only the group creator can manage members"),
    ),
    ("alice", "mention_group_remove_member", {"slug": "devs", "username": "bob"}, ok()),
    ("alice", "mention_group_remove_member", {"slug": "devs", "username": "bob"}, ok()),
    (
        "alice",
        "mention_group_get",
        {"slug": "devs"},
        ok({"id": 1, "slug": "devs", "created_by": "alice", "created_at": TS}),
    ),
    ("alice", "mention_group_delete", {"slug": "nope"}, err("mention group not found: nope")),
    ("alice", "mention_group_delete", {"slug": "devs"}, ok()),
    ("alice", "mention_group_list", M, ok({"groups": None})),
    ("alice", "frobnicate", M, err("unknown type: frobnicate")),
]


async def test_every_op_exact_replies(sandbox: Sandbox) -> None:
    fixed_clock(sandbox)
    failures = []
    for i, (user, type_, d, (want_type, want_d)) in enumerate(TABLE):
        async with ws(sandbox, user) as conn:
            got = await conn.req(type_, d)
        want: dict[str, Any] = {"type": want_type}
        if want_d is not None:
            want["d"] = want_d
        want["ref"] = "r1"
        want["ok"] = want_type != "error"
        if got != want:
            failures.append(f"row {i} {user} {type_} {d!r}:\n  got  {got}\n  want {want}")
    assert not failures, "\n".join(failures)


async def test_envelope_decoding_quirks(sandbox: Sandbox) -> None:
    async with ws(sandbox, "alice") as conn:
        invalid = {"type": "error", "d": {"message": "invalid JSON"}, "ok": False}
        for raw in ["nope", "[1]", '"ping"', '{"type":"ping","ref":5}', '{"type":5,"ref":"a"}', "NaN"]:
            await conn.send_raw(raw)
            assert await conn.recv() == invalid, raw
        await conn.send_raw("null")
        assert await conn.recv() == {"type": "error", "d": {"message": "unknown type: "}, "ok": False}
        await conn.send_raw('{"ref":"a"}')
        assert await conn.recv() == {
            "type": "error",
            "d": {"message": "unknown type: "},
            "ref": "a",
            "ok": False,
        }
        await conn.send_raw('{"TYPE":"ping","Ref":"x"}')
        assert await conn.recv() == {"type": "pong", "ref": "x", "ok": True}
        await conn.send_raw('{"type":"ping","ref":null}')
        assert await conn.recv() == {"type": "pong", "ok": True}
        await conn.conn.send(b'{"type":"version","ref":"b"}')
        assert await conn.recv() == {
            "type": "reply",
            "d": {"version": "v0.0.0-sandbox"},
            "ref": "b",
            "ok": True,
        }
        # Go escapes <>& in strings.
        await conn.send_raw('{"type":"channel_join","ref":"c","d":{"channel":"<a&b>"}}')
        frame = await conn.conn.recv()
        assert frame == (
            '{"type":"error","d":{"message":"channel not found: \\u003ca\\u0026b\\u003e"},'
            '"ref":"c","ok":false}'
        )


async def test_notifications_only_mode(sandbox: Sandbox) -> None:
    async with ws(sandbox, "agent") as admin:
        await admin.ok("channel_join", {"channel": "general"})
        async with ws(sandbox, "alice", query="?notifications_only=true") as conn:
            assert await conn.req("ping") == {"type": "pong", "ref": "r1", "ok": True}
            online = {"type": "presence", "d": {"state": "idle", "status": "online", "username": "alice"}}
            assert await admin.recv() == online
            assert (await conn.req("version"))["ok"] is True
            assert (await conn.req("capabilities"))["d"] == {"permissions": USER11}
            assert await conn.req("set_state", {"state": "active"}) == {
                "type": "reply",
                "ref": "r4",
                "ok": True,
            }
            active = {"type": "presence", "d": {"state": "active", "status": "online", "username": "alice"}}
            assert await admin.recv() == active
            assert await conn.req("unread_counts") == {
                "type": "reply",
                "d": {"counts": None},
                "ref": "r5",
                "ok": True,
            }
            for op in [
                "send_message",
                "user_list",
                "channel_join",
                "history",
                "mention_group_list",
                "get_settings",
            ]:
                reply = await conn.req(op, {"channel": "general", "body": "x"})
                assert reply["d"] == {"message": "notification-only connection"}, op
                assert reply["type"] == "error"
            assert (await conn.req("nope"))["d"] == {"message": "unknown type: nope"}
            # still a push target
            assert (await admin.req("channel_invite", {"channel": "general", "username": "alice"}))["ok"]
            await admin.ok("send_message", {"channel": "general", "body": "hey"})
            event = await conn.recv()
            assert event["type"] == "message.new"
            assert event["d"]["body"] == "hey"
        async with ws(sandbox, "alice", query="?notifications_only=yes") as conn:
            assert (await conn.req("user_list"))["ok"] is True


async def test_roles_by_type_and_first_is_admin() -> None:
    ids = [
        Identity("zed", "k-zed", "service"),
        Identity("amy", "k-amy", "agent"),
        Identity("sam", "k-sam", "service"),
        Identity("hu", "k-hu", "human"),
        Identity("em", "k-em", ""),
        Identity("uma", "k-uma", "user"),
    ]
    async with Sandbox(ids, provision=False) as sb:
        for user in ["zed", "amy", "sam", "hu", "em", "uma"]:
            async with ws(sb, user) as conn:
                await conn.req("ping")
        assert {u: sb.role_of(u) for u in ["zed", "amy", "sam", "hu", "em", "uma"]} == {
            "zed": "admin",
            "amy": "agent",
            "sam": "bot",
            "hu": "human",
            "em": "user",
            "uma": "user",
        }
        async with ws(sb, "hu") as conn:
            assert (await conn.req("capabilities"))["d"] == {"permissions": None}
            assert (await conn.req("channel_list"))["d"] == {"message": "permission denied: channel_list"}
        async with ws(sb, "zed") as conn:
            users = (await conn.req("user_list"))["d"]["users"]
            assert [(u["username"], u["type"]) for u in users] == [
                ("amy", "agent"),
                ("em", ""),
                ("hu", "human"),
                ("sam", "service"),
                ("uma", "user"),
                ("zed", "service"),
            ]
        # role never changes on a later login
        sb.set_role("amy", "user")
        async with ws(sb, "amy") as conn:
            assert (await conn.req("capabilities"))["d"] == {"permissions": USER11}
        assert sb.role_of("amy") == "user"
        # custom role
        sb.grant_permission("auditor", "history")
        sb.set_role("hu", "auditor")
        async with ws(sb, "hu") as conn:
            assert (await conn.req("capabilities"))["d"] == {"permissions": ["history"]}
            sb.revoke_permission("auditor", "history")
            assert (await conn.req("capabilities"))["d"] == {"permissions": None}


async def test_provision_order_makes_first_admin(sandbox: Sandbox) -> None:
    assert [sandbox.role_of(u) for u in ["agent", "alice", "bob", "flow-bot"]] == [
        "admin",
        "user",
        "user",
        "bot",
    ]
    assert json.loads(json.dumps(sandbox.key("bob"))) == "demo-bob-key"
