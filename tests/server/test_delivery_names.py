"""Names as agents write them (issue 9): every tool argument that names a channel, a user or a
mention group accepts ``#general`` / ``@alice`` / ``@group`` and acts exactly as on the bare name.

Table-driven over the tool list: a case per tool that takes such an argument, and a check that
the table covers every such tool the server lists (a new tool cannot slip past).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest

from sharkfin_mcp.client import SharkfinClient

from .conftest import MODES, ToolEnv, call_err, call_ok, text_of, tool_env

pytestmark = pytest.mark.anyio

NAME_ARGUMENTS = {"channel", "username", "slug", "name", "members"}
"""Tool parameters that name a channel, a user or a mention group."""

_names = itertools.count(1)


class Env(ToolEnv):
    async def channel(self, public: bool = False) -> str:
        """A fresh channel with agent and alice (created with the bare name)."""
        name = f"names-{next(_names)}"
        await self.call("channel_create", {"name": name, "public": public, "members": ["alice"]})
        return name

    async def group(self) -> str:
        slug = f"grp-{next(_names)}"
        await self.call("mention_group_create", {"slug": slug})
        return slug

    async def member_of(self, username: str, channel: str) -> bool:
        async with await SharkfinClient.connect(self.sb.ws_url, api_key=self.sb.key(username)) as c:
            return any(ch.name == channel and ch.member for ch in await c.channels())

    async def group_members(self, slug: str) -> list[str]:
        group = await self.call("mention_group_get", {"slug": slug})
        assert group["slug"] == slug
        return list(group["members"])

    async def events_until(self, tool: str, args: dict[str, Any], wanted: int) -> list[dict[str, Any]]:
        """Repeat an event call (no ``after``) until message ``wanted`` comes back; all it returned."""
        seen: list[dict[str, Any]] = []
        with anyio.fail_after(10):
            while wanted not in [e["data"].get("id") for e in seen]:
                seen += (await self.call(tool, args))["events"]
                await anyio.sleep(0.02)
        return seen


@pytest.fixture(scope="module", params=MODES)
async def env(request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    """One sandbox and one agent server per era, shared by the table (each case has its own names)."""
    async with tool_env(Env, request.param, max_sends_per_minute=0) as e:
        yield e


# -- one case per tool --------------------------------------------------------------------------


async def case_send_message(e: Env) -> None:
    ch = await e.channel()
    sent = await e.call("send_message", {"channel": f"#{ch}", "body": "hash form"})
    assert sent["channel"] == ch
    history = await e.alice.history(ch)
    assert history[-1].id == sent["id"] and history[-1].body == "hash form"


async def case_history(e: Env) -> None:
    posted = await e.alice.send_message("general", "in general")
    result = await call_ok(e.client, "history", {"channel": "#general", "limit": 100})
    out = result.structured_content
    assert out is not None and "channel" not in out  # the request names it; rows do not repeat it
    assert posted in [m["id"] for m in out["messages"]]
    line = next(line for line in text_of(result).splitlines() if line.startswith(f"[{posted}] "))
    assert " #general " in line and "##general" not in line, line
    bare = await e.call("history", {"channel": "general", "limit": 100})
    assert out["messages"] == bare["messages"]


async def case_unread_messages(e: Env) -> None:
    ch = await e.channel()
    posted = await e.alice.send_message(ch, "unread here")
    out = await e.call("unread_messages", {"channel": f"#{ch}"})
    assert [(g["channel"], [m["id"] for m in g["messages"]]) for g in out["channels"]] == [(ch, [posted])]


async def case_mark_read(e: Env) -> None:
    ch = await e.channel()
    await e.alice.send_message(ch, "to be read")
    out = await e.call("mark_read", {"channel": f"#{ch}"})
    assert out == {"channel": ch}
    counts = (await e.call("unread_counts", {}))["counts"]
    assert ch not in [c["channel"] for c in counts]


async def case_dm_open(e: Env) -> None:
    out = await e.call("dm_open", {"username": "@bob"})
    assert out["participant"] == "bob"
    again = await e.call("dm_open", {"username": "bob"})
    assert again["channel"] == out["channel"] and again["created"] is False


async def case_channel_create(e: Env) -> None:
    name = f"names-{next(_names)}"
    out = await e.call("channel_create", {"name": f"#{name}", "public": False, "members": ["@alice", "bob"]})
    assert out == {"channel": name, "public": False, "members": ["alice", "bob"]}
    listed = {c["name"]: c for c in (await e.call("channel_list", {}))["channels"]}
    assert name in listed and f"#{name}" not in listed and listed[name]["member"]
    assert await e.member_of("alice", name) and await e.member_of("bob", name)


async def case_channel_join(e: Env) -> None:
    name = f"names-{next(_names)}"
    await e.alice.rest.create_channel(name, public=True)  # public, and agent is not in it
    first = await e.call("channel_join", {"channel": f"#{name}"})
    assert first == {"channel": name, "joined": True}
    assert await e.member_of("agent", name)
    out = await e.call("channel_join", {"channel": f"#{name}"})
    assert out == {"channel": name, "joined": False}


async def case_channel_invite(e: Env) -> None:
    ch = await e.channel()
    assert not await e.member_of("bob", ch)
    out = await e.call("channel_invite", {"channel": f"#{ch}", "username": "@bob"})
    assert out == {"channel": ch, "username": "bob", "invited": True}
    assert await e.member_of("bob", ch)


async def case_mention_group_create(e: Env) -> None:
    slug = f"grp-{next(_names)}"
    out = await e.call("mention_group_create", {"slug": f"@{slug}"})
    assert out["slug"] == slug
    assert await e.group_members(slug) == []
    slugs = [g["slug"] for g in (await e.call("mention_group_list", {}))["groups"]]
    assert slug in slugs and f"@{slug}" not in slugs


async def case_mention_group_get(e: Env) -> None:
    slug = await e.group()
    group = await e.call("mention_group_get", {"slug": f"@{slug}"})
    assert group["slug"] == slug


async def case_mention_group_add_member(e: Env) -> None:
    slug = await e.group()
    out = await e.call("mention_group_add_member", {"slug": f"@{slug}", "username": "@alice"})
    assert out == {"slug": slug, "username": "alice"}
    assert await e.group_members(slug) == ["alice"]


async def case_mention_group_remove_member(e: Env) -> None:
    slug = await e.group()
    await e.call("mention_group_add_member", {"slug": slug, "username": "alice"})
    out = await e.call("mention_group_remove_member", {"slug": f"@{slug}", "username": "@alice"})
    assert out == {"slug": slug, "username": "alice"}
    assert await e.group_members(slug) == []


async def case_mention_group_delete(e: Env) -> None:
    slug = await e.group()
    out = await e.call("mention_group_delete", {"slug": f"@{slug}"})
    assert out == {"slug": slug}
    slugs = [g["slug"] for g in (await e.call("mention_group_list", {}))["groups"]]
    assert slug not in slugs


async def case_poll_events(e: Env) -> None:
    ch = await e.channel()
    posted = await e.alice.send_message(ch, "poll me")
    seen = await e.events_until("poll_events", {"channel": f"#{ch}"}, posted)
    assert {ev["channel"] for ev in seen} == {ch}


async def case_wait_for_events(e: Env) -> None:
    ch = await e.channel()
    posted = await e.alice.send_message(ch, "wait for me")
    seen = await e.events_until("wait_for_events", {"channel": f"#{ch}", "timeout_seconds": 5}, posted)
    assert {ev["channel"] for ev in seen} == {ch}


async def case_wait_for_messages(e: Env) -> None:
    posted = await e.alice.rest.send_message("general", "posted in general over REST")
    seen = await e.events_until("wait_for_messages", {"channel": "#general", "timeout_seconds": 5}, posted.id)
    assert {ev["channel"] for ev in seen} == {"general"}


CASES: dict[str, Callable[[Env], Awaitable[None]]] = {
    name.removeprefix("case_"): fn for name, fn in dict(globals()).items() if name.startswith("case_")
}


async def test_every_tool_that_takes_a_name_has_a_case(env: Env) -> None:
    tools = (await env.client.list_tools()).tools
    taking_names = {t.name for t in tools if NAME_ARGUMENTS & set(t.input_schema.get("properties", {}))}
    assert taking_names == set(CASES)


@pytest.mark.parametrize("tool", sorted(CASES))
async def test_hash_and_at_forms_are_the_bare_names(env: Env, tool: str) -> None:
    await CASES[tool](env)


async def test_an_unknown_channel_filter_is_an_error_naming_the_bare_channel(env: Env) -> None:
    for tool in ("poll_events", "wait_for_events", "wait_for_messages"):
        text = await call_err(env.client, tool, {"channel": "#no-such-channel", "timeout_seconds": 0})
        assert "unknown channel" in text and "'no-such-channel'" in text, text


@pytest.mark.parametrize("tool", ["poll_events", "wait_for_events", "wait_for_messages", "unread_messages"])
async def test_a_null_channel_filter_means_every_channel(env: Env, tool: str) -> None:
    # LLMs send null for optional arguments (BRIEF.md): it must mean the default, not fail.
    args: dict[str, Any] = {"channel": None}
    if tool.startswith("wait"):
        args["timeout_seconds"] = 0
    await env.call(tool, args)
