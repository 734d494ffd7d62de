"""Pushes, presence, paging, unread cursors, mentions, DMs and /presence over real sockets."""

from __future__ import annotations

import httpx
import pytest

from sharkfin_mcp.sandbox import Sandbox

from ._wire import TS, auth, fixed_clock, ws

pytestmark = pytest.mark.anyio


async def _setup_ops(sb: Sandbox) -> None:
    """Channel ops (private) with agent, alice, bob as members."""
    async with ws(sb, "agent") as admin:
        await admin.ok("channel_create", {"name": "ops", "members": ["alice", "bob"]})


async def test_message_new_after_reply_to_all_members_incl_sender(sandbox: Sandbox) -> None:
    fixed_clock(sandbox)
    await _setup_ops(sandbox)
    async with ws(sandbox, "alice") as alice, ws(sandbox, "bob") as bob, ws(sandbox, "flow-bot") as bot:
        assert (await alice.recv())["d"]["username"] == "bob"  # presence noise
        assert (await alice.recv())["d"]["username"] == "flow-bot"
        assert (await bob.recv())["d"]["username"] == "flow-bot"
        reply = await alice.req("send_message", {"channel": "ops", "body": "hi @bob <x>", "metadata": "m"})
        assert reply == {"type": "reply", "d": {"id": 1}, "ref": "r1", "ok": True}
        event = {
            "type": "message.new",
            "d": {
                "body": "hi @bob <x>",
                "channel": "ops",
                "channel_type": "channel",
                "from": "alice",
                "id": 1,
                "mentions": ["bob"],
                "metadata": "m",
                "sent_at": TS,
            },
        }
        assert await alice.recv() == event
        assert await bob.recv() == event
        assert await bot.silent()  # not a member


async def test_presence_events_go_to_all_others(sandbox: Sandbox) -> None:
    async with ws(sandbox, "alice") as alice:
        async with ws(sandbox, "bob") as bob:
            assert await alice.recv() == {
                "type": "presence",
                "d": {"state": "idle", "status": "online", "username": "bob"},
            }
            await bob.ok("set_state", {"state": "active"})
            assert await alice.recv() == {
                "type": "presence",
                "d": {"state": "active", "status": "online", "username": "bob"},
            }
            assert await bob.silent()
        assert await alice.recv() == {"type": "presence", "d": {"status": "offline", "username": "bob"}}


async def test_one_push_target_per_username(sandbox: Sandbox) -> None:
    await _setup_ops(sandbox)
    async with ws(sandbox, "alice") as alice, ws(sandbox, "bob") as bob1:
        await alice.recv()
        async with ws(sandbox, "bob") as bob2:
            await alice.recv()  # bob online again
            await alice.ok("send_message", {"channel": "ops", "body": "x"})
            await alice.recv()
            assert (await bob2.recv())["type"] == "message.new"
            assert await bob1.silent()
            assert (await bob1.req("ping"))["type"] == "pong"  # replies still work
        # closing the second connection broadcasts offline although bob1 is open
        assert await alice.recv() == {"type": "presence", "d": {"status": "offline", "username": "bob"}}
        assert not sandbox.is_connected("bob")
        await alice.ok("send_message", {"channel": "ops", "body": "y"})
        await alice.recv()
        assert await bob1.silent()


async def test_history_paging_quirks(sandbox: Sandbox) -> None:
    async with ws(sandbox, "agent") as admin:
        await admin.ok("channel_join", {"channel": "general"})
        async with httpx.AsyncClient(base_url=sandbox.http_url, headers=auth(sandbox, "bob")) as http:
            for i in range(1, 56):
                r = await http.post("/api/v1/channels/general/messages", json={"body": f"m{i}"})
                assert r.status_code == 201

        async def ids(**d: int) -> list[int]:
            got = await admin.ok("history", {"channel": "general", **d})
            return [m["id"] for m in got["messages"] or []]

        assert await ids() == list(range(6, 56))
        assert await ids(limit=3) == [53, 54, 55]
        assert await ids(limit=100) == list(range(1, 56))
        assert await ids(limit=101) == list(range(6, 56))
        assert await ids(limit=-1) == list(range(6, 56))
        assert await ids(before=10, limit=3) == [7, 8, 9]
        assert await ids(after=10, limit=3) == [11, 12, 13]
        assert await ids(before=10, after=2, limit=3) == [7, 8, 9]
        assert await ids(before=1) == []
        await admin.ok("send_message", {"channel": "general", "body": "t", "thread_id": 5})
        await admin.recv()
        assert await ids(thread_id=5) == [56]
        assert await ids(thread_id=5, after=56) == []


async def test_unread_consumption_and_cursor_rules(sandbox: Sandbox) -> None:
    await _setup_ops(sandbox)
    async with ws(sandbox, "alice") as alice, ws(sandbox, "bob") as bob:
        await alice.recv()

        async def send(who: object, body: str) -> int:
            conn = alice if who == "alice" else bob
            d = await conn.ok("send_message", {"channel": "ops", "body": body})
            await alice.recv()
            await bob.recv()
            return int(d["id"])

        await send("alice", "a1 @bob")
        await send("bob", "b1")  # own message: never unread, but moves the cursor when consumed
        await send("alice", "a2")
        counts = await bob.ok("unread_counts")
        assert counts == {
            "counts": [{"channel": "ops", "type": "channel", "unread_count": 2, "mention_count": 1}]
        }
        only = await bob.ok("unread_messages", {"mentions_only": True})
        assert [m["body"] for m in only["messages"]] == ["a1 @bob"]
        again = await bob.ok("unread_messages", {"channel": "ops"})
        assert [m["body"] for m in again["messages"]] == ["a1 @bob", "a2"]
        assert await bob.ok("unread_messages") == {"messages": None}
        # forward-only mark_read
        i3 = await send("alice", "a3")
        await send("alice", "a4")
        await bob.ok("mark_read", {"channel": "ops", "message_id": i3 + 1})
        await bob.ok("mark_read", {"channel": "ops", "message_id": 1})
        await bob.ok("mark_read", {"channel": "ops", "message_id": 0})
        assert await bob.ok("unread_counts") == {"counts": None}
        await send("alice", "a5")
        counts = await bob.ok("unread_counts")
        assert counts["counts"][0]["unread_count"] == 1
        # unread with an explicit channel needs no membership (flow-bot is not in ops)
        async with ws(sandbox, "flow-bot") as bot:
            got = await bot.ok("unread_messages", {"channel": "ops"})
            assert [m["body"] for m in got["messages"]] == ["a1 @bob", "b1", "a2", "a3", "a4", "a5"]
            assert await bot.ok("unread_messages", {"channel": "ops"}) == {"messages": None}


async def test_mention_groups_expansion_and_two_views(sandbox: Sandbox) -> None:
    fixed_clock(sandbox)
    await _setup_ops(sandbox)
    async with ws(sandbox, "alice") as alice, ws(sandbox, "bob") as bob:
        await alice.recv()
        await alice.ok("mention_group_create", {"slug": "devs"})
        await alice.ok("mention_group_create", {"slug": "empty"})
        await alice.ok("mention_group_add_member", {"slug": "devs", "username": "bob"})
        await alice.ok("mention_group_add_member", {"slug": "devs", "username": "agent"})
        body = "@devs @empty @alice mail@bob.com @ghost @devs"
        await alice.ok("send_message", {"channel": "ops", "body": body})
        pushed = (await bob.recv())["d"]["mentions"]
        assert pushed == ["alice", "bob", "devs"]
        await alice.recv()
        history = await bob.ok("history", {"channel": "ops"})
        assert history["messages"][0]["mentions"] == ["agent", "alice", "bob"]
        counts = await bob.ok("unread_counts")
        assert counts["counts"][0]["mention_count"] == 1
        await alice.ok("send_message", {"channel": "ops", "body": "@empty only"})
        assert "mentions" not in (await bob.recv())["d"]
        await alice.recv()
        only = await bob.ok("unread_messages", {"mentions_only": True})
        assert [m["body"] for m in only["messages"]] == [body]


async def test_dms(sandbox: Sandbox) -> None:
    async with ws(sandbox, "bob") as bob, ws(sandbox, "alice") as alice:
        await bob.recv()
        opened = await alice.ok("dm_open", {"username": "bob"})
        assert opened == {"channel": "dm-alice-bob", "created": True, "participant": "bob"}
        assert await bob.silent()  # no event for the other user
        await alice.ok("send_message", {"channel": "dm-alice-bob", "body": "psst"})
        assert (await bob.recv())["d"]["channel_type"] == "dm"
        await alice.recv()
        counts = await bob.ok("unread_counts")
        assert counts == {
            "counts": [{"channel": "dm-alice-bob", "type": "dm", "unread_count": 1, "mention_count": 0}]
        }
        channels = await bob.ok("channel_list")
        assert [c["name"] for c in channels["channels"]] == ["general"]
    async with ws(sandbox, "agent") as agent:
        await agent.ok("channel_join", {"channel": "dm-alice-bob"})  # no guard over WS
        dms = await agent.ok("dm_list")
        assert dms == {
            "dms": [
                {"channel": "dm-alice-bob", "participant": "alice"},
                {"channel": "dm-alice-bob", "participant": "bob"},
            ]
        }
        # joined DMs count: agent is in a DM with bob now
        assert (await agent.ok("dm_open", {"username": "bob"}))["channel"] == "dm-alice-bob"
        await agent.ok("channel_create", {"name": "dm-agent-flow-bot"})
        reply = await agent.req("dm_open", {"username": "flow-bot"})
        assert reply["d"] == {
            "message": "create dm: insert channel: "
            "constraint failed: UNIQUE constraint failed: channels.name (2067)"
        }


async def test_presence_socket_online_and_notifications(sandbox: Sandbox) -> None:
    await _setup_ops(sandbox)
    async with ws(sandbox, "alice") as alice:
        users = (await alice.ok("user_list"))["users"]
        assert [u for u in users if u["username"] == "bob"] == [
            {"username": "bob", "online": False, "type": "user"}
        ]
        async with ws(sandbox, "bob", path="/presence") as presence:
            users = (await alice.ok("user_list"))["users"]
            assert {"username": "bob", "online": True, "type": "user"} in users
            async with ws(sandbox, "bob") as bob:
                await alice.recv()
                users = (await alice.ok("user_list"))["users"]
                assert {"username": "bob", "online": True, "type": "user", "state": "idle"} in users
                await alice.ok("send_message", {"channel": "ops", "body": "plain"})
                await alice.recv()
                await bob.recv()
                assert await presence.silent()
                mid = (await alice.ok("send_message", {"channel": "ops", "body": "hey @bob"}))["id"]
                assert (await alice.recv())["type"] == "message.new"
                assert await presence.recv() == {
                    "d": {"channel": "ops", "channel_type": "channel", "from": "alice", "message_id": mid},
                    "type": "message.new",
                }
                await presence.send_raw("ignored")
                assert await presence.silent()
            await alice.recv()  # bob offline
        users = (await alice.ok("user_list"))["users"]
        assert {"username": "bob", "online": False, "type": "user"} in users


async def test_service_members_get_presence_notes_and_webhooks(sandbox: Sandbox) -> None:
    async with ws(sandbox, "flow-bot") as bot, ws(sandbox, "flow-bot", path="/presence") as presence:
        await bot.ok("channel_join", {"channel": "general"})
        async with httpx.AsyncClient(base_url=sandbox.http_url, headers=auth(sandbox, "flow-bot")) as http:
            r = await http.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
            assert r.status_code == 201
        async with httpx.AsyncClient(base_url=sandbox.http_url, headers=auth(sandbox, "alice")) as http:
            await http.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/user-hook"})
            r = await http.post("/api/v1/channels/general/messages", json={"body": "from rest"})
            assert r.status_code == 201
        note = await presence.recv()
        assert note["d"] == {
            "channel": "general",
            "channel_type": "channel",
            "from": "alice",
            "message_id": 1,
        }
        await bot.ok("send_message", {"channel": "general", "body": "own"})
        assert [(u, p["from"], p["body"]) for u, p in sandbox.webhook_deliveries] == [
            ("http://127.0.0.1:9/hook", "alice", "from rest"),
            ("http://127.0.0.1:9/hook", "flow-bot", "own"),
        ]
        assert sandbox.webhook_deliveries[0][1]["from_type"] == "user"
        assert sandbox.webhook_deliveries[0][1]["metadata"] is None


async def test_capabilities_push_on_set_role(sandbox: Sandbox) -> None:
    async with ws(sandbox, "alice") as alice:
        sandbox.set_role("alice", "bot", push=True)
        event = await alice.recv()
        assert event["type"] == "capabilities"
        assert "create_channel" in event["d"]["permissions"]
        assert "ok" not in event
        assert "ref" not in event
        assert (await alice.req("channel_create", {"name": "mine"}))["ok"] is True


async def test_rest_sends_reach_the_bus_sockets_but_never_ws(sandbox: Sandbox) -> None:
    """PROTOCOL.md §6, §9, §16.6: a REST send is published on the internal bus only."""
    async with (
        ws(sandbox, "alice") as alice,
        ws(sandbox, "bob") as bob,
        ws(sandbox, "bob", path="/notifications/subscribe") as notes,
    ):
        await alice.recv()  # bob online
        await bob.ok("channel_join", {"channel": "general"})
        await alice.ok("channel_join", {"channel": "general"})
        async with httpx.AsyncClient(base_url=sandbox.http_url, headers=auth(sandbox, "alice")) as http:
            r = await http.post("/api/v1/channels/general/messages", json={"body": "hi @bob, via REST"})
            assert r.status_code == 201
        note = {"title": "New message in #general", "urgency": "passive", "route": "/chat"}
        assert await notes.recv() == note
        assert await bob.silent() and await alice.silent(), "REST sends are never pushed to /ws"
        await alice.ok("send_message", {"channel": "general", "body": "and via WS"})
        assert (await bob.recv())["type"] == "message.new"
        assert (await notes.recv())["title"] == "New message in #general"
