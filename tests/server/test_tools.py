"""Every tool through a real in-memory MCP client, in both protocol eras: a happy path that
checks the structured result and the compact text, and an error path that must come back as an
``isError`` result (never a protocol error or a crash).

One server per era is shared by the table (module scope keeps the suite fast); each case uses
its own channel, group or key names so the cases do not see each other's state. The server runs
with the admin profile on (``all,admin``) so that the settings tools, which the default list leaves
out, have their cases here too; the role tools have theirs in ``test_admin_tools``.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest

from sharkfin_mcp.server.tools import TOOLS

from .conftest import MODES, ToolEnv, call_err, call_ok, text_of, tool_env

pytestmark = pytest.mark.anyio

_names = itertools.count(1)


class Env(ToolEnv):
    def name(self, prefix: str) -> str:
        return f"{prefix}-{next(_names)}"

    async def text(self, tool: str, args: dict[str, Any] | None = None) -> str:
        return text_of(await call_ok(self.client, tool, args))

    async def err(self, tool: str, args: dict[str, Any] | None = None) -> str:
        return await call_err(self.client, tool, args)

    async def new_channel(self, prefix: str = "c") -> str:
        name = self.name(prefix)
        await self.call("channel_create", {"name": name, "members": ["alice"]})
        return name

    @contextmanager
    def revoked(self, permission: str) -> Iterator[None]:
        self.sb.revoke_permission("admin", permission)
        try:
            yield
        finally:
            self.sb.grant_permission("admin", permission)


@pytest.fixture(scope="module", params=MODES)
async def env(request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    """One sandbox and one agent server per era, shared by every case of that era."""
    async with tool_env(Env, request.param, tool_profile="all,admin") as e:
        yield e


def assert_validation_error(text: str, field: str) -> None:
    """One plain sentence that names the argument and what it accepts (no validator jargon)."""
    assert any(f"{field} {verb}" in text for verb in ("must be ", "is required", "is not valid")), text
    assert len(text.splitlines()) == 1 and text.endswith("."), text
    for jargon in ("validation error", "Input should", "pydantic", "errors.pydantic.dev", "[type="):
        assert jargon not in text, text


# -- the cases ------------------------------------------------------------------------------------


async def case_send_message(e: Env) -> None:
    ch = await e.new_channel()
    out = await e.call(
        "send_message", {"channel": ch, "body": "hello\nworld", "metadata": {"kind": "status"}}
    )
    assert out["channel"] == ch and out["id"] >= 1 and out.get("thread_id") is None
    reply = await e.call("send_message", {"channel": ch, "body": "re", "thread_id": out["id"]})
    assert reply["thread_id"] == out["id"] and reply["id"] > out["id"]
    stored = e.sb.messages_for_test(ch)
    assert [m["body"] for m in stored] == ["hello\nworld", "re"]
    assert stored[0]["metadata"] in ({"kind": "status"}, '{"kind":"status"}', '{"kind": "status"}')
    assert stored[1]["thread_id"] == out["id"]
    text = await e.text("send_message", {"channel": ch, "body": "x"})
    assert "\n" not in text and "#" + ch in text
    # errors: not a member / not found; metadata not an object; missing channel
    assert "channel" in (await e.err("send_message", {"channel": e.name("nope"), "body": "x"}))
    assert_validation_error(
        await e.err("send_message", {"channel": ch, "body": "x", "metadata": "notjson"}), "metadata"
    )
    assert_validation_error(await e.err("send_message", {"body": "x"}), "channel")
    assert_validation_error(
        await e.err("send_message", {"channel": ch, "body": "x", "thread_id": 0}), "thread_id"
    )


async def case_history(e: Env) -> None:
    ch = await e.new_channel()
    ids = [await e.alice.send_message(ch, body) for body in ("first", "two\nlines", "back\\slash")]
    res = await call_ok(e.client, "history", {"channel": ch})
    out = res.structured_content
    assert out is not None
    assert set(out) == {"messages"}  # no next_before: nothing older; the caller named the channel
    assert [m["id"] for m in out["messages"]] == ids
    assert all("channel" not in m for m in out["messages"])
    assert [m["from"] for m in out["messages"]] == ["alice"] * 3
    assert out["messages"][1]["body"] == "two\nlines"
    lines = text_of(res).split("\n")
    assert len(lines) == 3
    for line, message_id in zip(lines, ids, strict=True):
        assert line.startswith(f"[{message_id}] ") and "alice" in line
    assert lines[1].endswith(r"two\nlines")
    assert lines[2].endswith("back\\\\slash")
    paged = await e.call("history", {"channel": ch, "limit": 2})
    assert [m["id"] for m in paged["messages"]] == ids[1:] and paged["next_before"] == ids[1]
    older = await e.call("history", {"channel": ch, "before": paged["next_before"]})
    assert [m["id"] for m in older["messages"]] == ids[:1] and "next_before" not in older
    exact = await e.call("history", {"channel": ch, "limit": 3})  # a full page, nothing older
    assert [m["id"] for m in exact["messages"]] == ids and "next_before" not in exact
    after = await e.call("history", {"channel": ch, "after": ids[0]})
    assert [m["id"] for m in after["messages"]] == ids[1:]
    # errors
    assert_validation_error(await e.err("history", {"channel": ch, "limit": 0}), "limit")
    assert_validation_error(await e.err("history", {"channel": ch, "limit": 101}), "limit")
    assert_validation_error(await e.err("history", {}), "channel")
    missing = e.name("missing")
    assert "not found" in await e.err("history", {"channel": missing})


async def case_unread_messages(e: Env) -> None:
    ch = await e.new_channel()
    await e.call("send_message", {"channel": ch, "body": "mine"})
    first = await e.alice.send_message(ch, "for @agent\nplease")
    second = await e.alice.send_message(ch, "plain")
    res = await call_ok(e.client, "unread_messages", {"channel": ch})
    out = res.structured_content
    assert out is not None
    assert [g["channel"] for g in out["channels"]] == [ch]
    assert [m["id"] for m in out["channels"][0]["messages"]] == [first, second]
    assert all("channel" not in m for m in out["channels"][0]["messages"])
    assert out["remaining"] == 0
    assert "mine" not in text_of(res)
    assert text_of(res).split("\n")[0].startswith(f"[{first}] ") and r"for @agent\nplease" in text_of(res)
    limited = await e.call("unread_messages", {"channel": ch, "limit": 1})
    assert limited["channels"] == [{"channel": ch, "messages": limited["channels"][0]["messages"]}]
    assert [m["id"] for m in limited["channels"][0]["messages"]] == [first]
    assert limited["remaining"] == 1
    # errors
    assert_validation_error(await e.err("unread_messages", {"limit": 0}), "limit")
    assert_validation_error(await e.err("unread_messages", {"thread_id": 0}), "thread_id")


async def case_unread_counts(e: Env) -> None:
    ch = await e.new_channel()
    await e.alice.send_message(ch, "hi @agent")
    await e.alice.send_message(ch, "hi")
    res = await call_ok(e.client, "unread_counts")
    rows = {r["channel"]: r for r in res.structured_content["counts"]}  # type: ignore[index]
    assert rows[ch] == {"channel": ch, "type": "channel", "unread_count": 2, "mention_count": 1}
    assert f"#{ch} (channel): 2 unread, 1 mentions" in text_of(res).split("\n")
    with e.revoked("unread_counts"):
        text = await e.err("unread_counts")
    assert "unread_counts" in text and "admin" in text


async def case_mark_read(e: Env) -> None:
    ch = await e.new_channel()
    ids = [await e.alice.send_message(ch, f"m{i}") for i in range(3)]
    out = await e.call("mark_read", {"channel": ch, "message_id": ids[1]})
    assert out == {"channel": ch, "message_id": ids[1]}
    left = await e.call("unread_messages", {"channel": ch})
    assert [g["channel"] for g in left["channels"]] == [ch]
    assert [m["id"] for m in left["channels"][0]["messages"]] == ids[2:]
    assert await e.call("mark_read", {"channel": ch}) == {"channel": ch}
    assert (await e.call("unread_messages", {"channel": ch}))["channels"] == []
    assert_validation_error(await e.err("mark_read", {"channel": ch, "message_id": 0}), "message_id")
    assert "not found" in await e.err("mark_read", {"channel": e.name("missing")})


async def case_dm_open(e: Env) -> None:
    item = await e.call("dm_open", {"username": "bob"})
    assert item["created"] is True and item["channel"] and item["participant"] == "bob"
    again = await e.call("dm_open", {"username": "bob"})
    assert again == {"channel": item["channel"], "participant": "bob", "created": False}
    sent = await e.call("send_message", {"channel": item["channel"], "body": "psst"})
    assert sent["id"] >= 1
    assert "nobody" in await e.err("dm_open", {"username": "nobody-" + e.name("u")})
    # names carry no limits of ours (lean schema): the daemon's refusal is the clear error
    assert "username is required" in await e.err("dm_open", {"username": ""})


async def case_dm_list(e: Env) -> None:
    opened = (await e.call("dm_open", {"username": "flow-bot"}))["channel"]
    res = await call_ok(e.client, "dm_list")
    rows = res.structured_content["dms"]  # type: ignore[index]
    assert {"channel": opened, "participant": "flow-bot"} in rows
    assert f"#{opened} with flow-bot" in text_of(res).split("\n")
    with e.revoked("dm_list"):
        assert "dm_list" in await e.err("dm_list")


async def case_channel_list(e: Env) -> None:
    ch = await e.new_channel()
    private = e.name("priv")
    await e.call("channel_create", {"name": private, "public": False})
    res = await call_ok(e.client, "channel_list")
    rows = {r["name"]: r for r in res.structured_content["channels"]}  # type: ignore[index]
    assert rows[ch] == {"name": ch, "public": True, "member": True}
    assert rows[private]["public"] is False
    assert "id" not in rows[ch]
    assert f"#{ch} public member" in text_of(res).split("\n")
    with e.revoked("channel_list"):
        assert "channel_list" in await e.err("channel_list")


async def case_channel_create(e: Env) -> None:
    name = e.name("new")
    res = await call_ok(e.client, "channel_create", {"name": name, "public": False, "members": ["bob"]})
    assert res.structured_content == {"channel": name, "public": False, "members": ["bob"]}
    assert text_of(res) == f"created #{name} (private)"
    created = e.sb.state.channels[max(e.sb.state.channels)]
    assert created.name == name and created.public is False
    dup = await e.err("channel_create", {"name": name})
    assert "exist" in dup.lower() or "refused" in dup.lower(), dup
    # the daemon accepts any name, even an empty one (PROTOCOL.md channel_create), so we refuse it
    for empty in ("", "#"):  # "#" is "" once the channel prefix is dropped
        assert_validation_error(await e.err("channel_create", {"name": empty}), "name")


async def case_channel_join(e: Env) -> None:
    name = e.name("open")
    e.sb.state.create_channel(name, public=True, creator=None)
    assert await e.call("channel_join", {"channel": name}) == {"channel": name, "joined": True}
    assert (await e.call("history", {"channel": name}))["messages"] == []
    again = await call_ok(e.client, "channel_join", {"channel": name})  # idempotent
    assert again.structured_content == {"channel": name, "joined": False}
    assert text_of(again) == f"already a member of #{name}"
    assert "not found" in await e.err("channel_join", {"channel": e.name("missing")})


async def case_channel_invite(e: Env) -> None:
    ch = e.name("inv")
    await e.call("channel_create", {"name": ch, "public": False})
    out = await e.call("channel_invite", {"channel": ch, "username": "alice"})
    assert out == {"channel": ch, "username": "alice", "invited": True}
    assert await e.alice.history(ch) == []  # alice is a member now
    again = await call_ok(e.client, "channel_invite", {"channel": ch, "username": "alice"})  # idempotent
    assert again.structured_content == {"channel": ch, "username": "alice", "invited": False}
    assert text_of(again) == f"alice is already a member of #{ch}"
    assert "nobody" in await e.err("channel_invite", {"channel": ch, "username": "nobody-x"})


async def case_user_list(e: Env) -> None:
    res = await call_ok(e.client, "user_list")
    rows = {r["username"]: r for r in res.structured_content["users"]}  # type: ignore[index]
    assert {"agent", "alice", "bob", "flow-bot"} <= set(rows)
    assert rows["agent"]["type"] == "agent" and rows["alice"]["type"] == "user"
    assert rows["agent"]["online"] is True  # this server holds /presence for agent
    assert any(line.startswith("alice ") for line in text_of(res).split("\n"))
    with e.revoked("user_list"):
        assert "user_list" in await e.err("user_list")


async def case_set_state(e: Env) -> None:
    for state in ("idle", "active"):
        out = await e.call("set_state", {"state": state})
        assert out == {"state": state}
    text = await e.err("set_state", {"state": "busy"})
    assert_validation_error(text, "state")
    assert "active" in text and "idle" in text


async def case_capabilities(e: Env) -> None:
    res = await call_ok(e.client, "capabilities")
    perms = res.structured_content["permissions"]  # type: ignore[index]
    assert {"create_channel", "manage_roles", "send_message"} <= set(perms)
    assert text_of(res) == ", ".join(perms)
    with e.revoked("manage_roles"):
        perms2 = (await e.call("capabilities"))["permissions"]
    assert "manage_roles" not in perms2
    # its error path (daemon unreachable) is in test_every_daemon_tool_reports_an_unreachable_daemon


async def case_whoami(e: Env) -> None:
    res = await call_ok(e.client, "whoami")
    info = res.structured_content
    assert info is not None
    assert info["username"] == "agent" and info["role"] == "admin" and info["type"] == "agent"
    assert info["connected"] is True and info["url"] == e.sb.ws_url
    assert info["online"] is True  # this server holds /presence for agent
    assert "manage_roles" in info["permissions"]
    assert text_of(res).startswith("agent (agent, role admin) on ")
    assert "demo-agent-key" not in text_of(res) and "demo-agent-key" not in str(info)


async def case_mention_group_create(e: Env) -> None:
    slug = e.name("team")
    res = await call_ok(e.client, "mention_group_create", {"slug": slug})
    out = res.structured_content
    assert out is not None and set(out) == {"slug", "id"}
    assert out["slug"] == slug and isinstance(out["id"], int) and out["id"] >= 1
    assert text_of(res) == f"created @{slug} (id {out['id']})"
    assert (await e.call("mention_group_get", {"slug": slug}))["id"] == out["id"]
    assert await e.err("mention_group_create", {"slug": slug})  # already exists
    assert_validation_error(await e.err("mention_group_create", {"slug": "bad slug!"}), "slug")


async def case_mention_group_get(e: Env) -> None:
    slug = e.name("get")
    await e.call("mention_group_create", {"slug": slug})
    await e.call("mention_group_add_member", {"slug": slug, "username": "alice"})
    res = await call_ok(e.client, "mention_group_get", {"slug": slug})
    group = res.structured_content
    assert group is not None and isinstance(group["id"], int)
    assert group["slug"] == slug and group["created_by"] == "agent" and group["members"] == ["alice"]
    assert text_of(res) == f"@{slug} by agent: alice"
    assert "not found" in await e.err("mention_group_get", {"slug": e.name("missing")})


async def case_mention_group_list(e: Env) -> None:
    slug = e.name("lst")
    await e.call("mention_group_create", {"slug": slug})
    res = await call_ok(e.client, "mention_group_list")
    groups = {g["slug"]: g for g in res.structured_content["groups"]}  # type: ignore[index]
    assert groups[slug]["created_by"] == "agent" and groups[slug]["members"] == []
    assert f"@{slug} (0 members)" in text_of(res).split("\n")
    assert "not found" in await e.err("mention_group_get", {"slug": ""})  # checked by the daemon


async def case_mention_group_add_member(e: Env) -> None:
    slug = e.name("add")
    await e.call("mention_group_create", {"slug": slug})
    out = await e.call("mention_group_add_member", {"slug": slug, "username": "bob"})
    assert out == {"slug": slug, "username": "bob"}
    assert (await e.call("mention_group_get", {"slug": slug}))["members"] == ["bob"]
    assert await e.err("mention_group_add_member", {"slug": slug, "username": "nobody-y"})
    assert await e.err("mention_group_add_member", {"slug": e.name("missing"), "username": "bob"})


async def case_mention_group_remove_member(e: Env) -> None:
    slug = e.name("rm")
    await e.call("mention_group_create", {"slug": slug})
    await e.call("mention_group_add_member", {"slug": slug, "username": "bob"})
    out = await e.call("mention_group_remove_member", {"slug": slug, "username": "bob"})
    assert out == {"slug": slug, "username": "bob"}
    assert (await e.call("mention_group_get", {"slug": slug}))["members"] == []
    assert await e.err("mention_group_remove_member", {"slug": e.name("missing"), "username": "bob"})


async def case_mention_group_delete(e: Env) -> None:
    slug = e.name("del")
    await e.call("mention_group_create", {"slug": slug})
    out = await e.call("mention_group_delete", {"slug": slug})
    assert out == {"slug": slug}
    assert "not found" in await e.err("mention_group_get", {"slug": slug})
    assert await e.err("mention_group_delete", {"slug": slug})


async def case_register_webhook(e: Env) -> None:
    url = f"http://127.0.0.1:9/{e.name('hook')}"
    out = await e.call("register_webhook", {"url": url})
    hook_id = out["id"]
    assert out == {"id": hook_id, "url": url} and hook_id
    assert await e.call("register_webhook", {"url": url}) == out
    assert_validation_error(await e.err("register_webhook", {"url": "ftp://example.com"}), "url")


async def case_list_webhooks(e: Env) -> None:
    url = f"http://127.0.0.1:9/{e.name('hook')}"
    hook_id = (await e.call("register_webhook", {"url": url}))["id"]
    res = await call_ok(e.client, "list_webhooks")
    rows = {r["id"]: r for r in res.structured_content["webhooks"]}  # type: ignore[index]
    assert rows[hook_id] == {"id": hook_id, "url": url, "active": True}
    assert f"{hook_id} {url}" in text_of(res).split("\n")


async def case_unregister_webhook(e: Env) -> None:
    url = f"http://127.0.0.1:9/{e.name('hook')}"
    hook_id = (await e.call("register_webhook", {"url": url}))["id"]
    out = await e.call("unregister_webhook", {"webhook_id": hook_id})
    assert out == {"id": hook_id}
    assert hook_id not in [r["id"] for r in (await e.call("list_webhooks"))["webhooks"]]
    gone = await e.err("unregister_webhook", {"webhook_id": hook_id})  # the daemon would say 204
    assert f"webhook id {hook_id} is unknown" in gone and "nothing was removed" in gone
    assert_validation_error(await e.err("unregister_webhook", {"webhook_id": ""}), "webhook_id")


async def case_set_setting(e: Env) -> None:
    key = e.name("k")
    out = await e.call("set_setting", {"key": key, "value": "v1"})
    assert out == {"key": key}
    assert e.sb.state.settings[key] == "v1"
    with e.revoked("manage_roles"):
        text = await e.err("set_setting", {"key": key, "value": "v2"})
    assert "manage_roles" in text and "admin" in text.lower()
    assert e.sb.state.settings[key] == "v1"


async def case_get_settings(e: Env) -> None:
    key = e.name("g")
    await e.call("set_setting", {"key": key, "value": "on"})
    res = await call_ok(e.client, "get_settings")
    assert res.structured_content["settings"][key] == "on"  # type: ignore[index]
    assert f"{key}=on" in text_of(res).split("\n")
    with e.revoked("manage_roles"):
        assert "manage_roles" in await e.err("get_settings")


async def case_poll_events(e: Env) -> None:
    ch = await e.new_channel()
    start = (await e.call("poll_events", {"after": 10**9}))["next_after"]
    message_id = await e.alice.send_message(ch, "event\nbody")
    with anyio.fail_after(5):
        while True:
            res = await call_ok(e.client, "poll_events", {"after": start, "channel": ch})
            out = res.structured_content
            assert out is not None
            if out["events"]:
                break
            await anyio.sleep(0.02)
    event = out["events"][0]
    assert event["type"] == "message.new" and event["data"]["id"] == message_id
    assert event["data"]["from"] == "alice" and event["channel"] == ch
    assert "channel" not in event["data"] and "caught_up" not in event  # absent unless true
    assert out["next_after"] == event["seq"] and out["dropped"] == 0 and out["timed_out"] is False
    lines = text_of(res).split("\n")
    assert lines[0].startswith(f"#{event['seq']} [{message_id}] ") and lines[0].endswith(r"event\nbody")
    assert lines[-1] == f"next_after={out['next_after']}"
    assert_validation_error(await e.err("poll_events", {"limit": 0}), "limit")
    assert_validation_error(await e.err("poll_events", {"types": ["bogus"]}), "types")


async def case_wait_for_events(e: Env) -> None:
    ch = await e.new_channel()
    start = (await e.call("poll_events", {"after": 10**9}))["next_after"]
    message_id = await e.alice.send_message(ch, "waited")
    out = await e.call("wait_for_events", {"after": start, "channel": ch, "timeout_seconds": 5})
    assert out["timed_out"] is False and [ev["data"]["id"] for ev in out["events"]] == [message_id]
    assert_validation_error(await e.err("wait_for_events", {"timeout_seconds": 51}), "timeout_seconds")


async def case_wait_for_messages(e: Env) -> None:
    ch = await e.new_channel()
    await e.call("poll_events", {"after": 10**9})  # move this session's cursor to the end
    message_id = await e.alice.send_message(ch, "for you")
    out = await e.call("wait_for_messages", {"channel": ch, "timeout_seconds": 5})
    assert out["timed_out"] is False and [ev["data"]["id"] for ev in out["events"]] == [message_id]
    assert_validation_error(await e.err("wait_for_messages", {"timeout_seconds": -1}), "timeout_seconds")


CASES: dict[str, Callable[[Env], Awaitable[None]]] = {
    name.removeprefix("case_"): fn for name, fn in dict(globals()).items() if name.startswith("case_")
}


def test_every_tool_has_a_case() -> None:
    from .test_admin_tools import ADMIN as ROLE_TOOLS
    from .test_tools_list import SETTINGS_TOOLS, TOOL_NAMES

    assert set(CASES) == TOOL_NAMES | SETTINGS_TOOLS
    assert set(CASES) | ROLE_TOOLS == {spec.name for spec in TOOLS}


@pytest.mark.parametrize("tool", sorted(CASES))
async def test_tool(env: Env, tool: str) -> None:
    await CASES[tool](env)


async def test_unread_mentions_only(env: Env) -> None:
    ch = await env.new_channel()
    mention = await env.alice.send_message(ch, "for @agent")
    await env.alice.send_message(ch, "plain")
    out = await env.call("unread_messages", {"channel": ch, "mentions_only": True})
    assert [g["channel"] for g in out["channels"]] == [ch]
    assert [m["id"] for m in out["channels"][0]["messages"]] == [mention]
