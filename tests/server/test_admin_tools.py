"""The ``admin`` tool profile through a real in-memory MCP client, in both protocol eras, against
the sandbox's ``/mcp`` (the only place the daemon serves role administration, PROTOCOL.md §10.2):
each tool, the profile off by default, refusals for a non-admin, the advice that names the fixing
tool, ``capabilities`` events for the affected identity, and hostile arguments."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from sharkfin_mcp.client import Role
from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server import ConfigError, Settings, build_server
from sharkfin_mcp.server._render import clean_json
from sharkfin_mcp.server.tools import TOOLS
from sharkfin_mcp.server.tools.admin import role_line

from .._fuzz import arguments_for, assert_one_plain_answer
from .conftest import ConnectMCP, agent_settings, call_err, call_ok, text_of, wait_ready
from .test_render import field as render_field

pytestmark = pytest.mark.anyio

ADMIN = {spec.name for spec in TOOLS if spec.admin}
"""The admin profile: the six role tools, and get_settings / set_setting."""
ROLE_TOOLS = {spec.name for spec in TOOLS if spec.admin and spec.fn.__module__.endswith(".admin")}
ARGS: dict[str, dict[str, Any]] = {
    "list_roles": {},
    "set_role": {"username": "bob", "role": "bot"},
    "create_role": {"name": "reviewer"},
    "delete_role": {"name": "reviewer"},
    "grant_permission": {"role": "user", "permission": "create_channel"},
    "revoke_permission": {"role": "user", "permission": "history"},
}
"""A valid call of each tool."""


def roles_in(sandbox: Sandbox) -> list[dict[str, Any]]:
    """What list_roles must report: the sandbox's own role table."""
    return [
        {"name": name, "built_in": name in ("admin", "agent", "bot", "user"), "permissions": sorted(perms)}
        for name, perms in sorted(sandbox.state.roles.items())
    ]


def snapshot(sandbox: Sandbox) -> tuple[dict[str, list[str]], dict[str, str]]:
    roles = {name: sorted(perms) for name, perms in sandbox.state.roles.items()}
    return roles, {name: row.role for name, row in sandbox.state.identities.items()}


@pytest.fixture
async def admin(connect_mcp: ConnectMCP, mode: str) -> AsyncIterator[Client]:
    """The MCP server acting as agent (role admin) with the admin profile on."""
    async with connect_mcp(mode, tool_profile="all,admin") as client:
        yield client


# -- the profile -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "read_only", "admin_listed", "core_only"),
    [
        (None, False, set(), False),
        ("all", False, set(), False),
        ("core", False, set(), True),
        ("all,admin", False, ADMIN, False),
        ("core,admin", False, ADMIN, True),
        ("+admin", False, ADMIN, False),
        ("all,admin", True, {"list_roles", "get_settings"}, False),
    ],
)
async def test_the_profile_is_off_by_default_and_adds_exactly_the_admin_tools(
    connect_mcp: ConnectMCP,
    mode: str,
    profile: str | None,
    read_only: bool,
    admin_listed: set[str],
    core_only: bool,
) -> None:
    settings: dict[str, Any] = {"read_only": read_only}
    if profile is not None:
        settings["tool_profile"] = profile
    async with connect_mcp(mode, ready=False, **settings) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    base = await _names(Settings(tool_profile="core" if core_only else "all", read_only=read_only))
    assert names & ADMIN == admin_listed
    assert names - ADMIN == base, "the admin profile adds tools and removes none"


async def _names(settings: Settings) -> set[str]:
    return {t.name for t in await build_server(settings).list_tools()}


@pytest.mark.parametrize(
    ("given", "profile"),
    [
        ("all", "all"),
        (" CORE ", "core"),
        ("all,admin", "all,admin"),
        ("Admin, Core", "core,admin"),
        ("core+admin", "core,admin"),
        ("+admin", "all,admin"),
        ("all,admin,admin", "all,admin"),
    ],
)
def test_profile_spellings(given: str, profile: str) -> None:
    settings = Settings.from_env({"SHARKFIN_TOOLS": given})
    assert settings.tool_profile == profile
    assert settings.admin_tools is profile.endswith(",admin")


@pytest.mark.parametrize("given", ["admin", "all,core", "everything", "all,admins", ",", "core,admin,x"])
def test_other_profiles_are_refused_in_one_line(given: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"SHARKFIN_TOOLS": given})
    message = str(refused.value)
    assert message.startswith("SHARKFIN_TOOLS / --tools must be all or core, optionally with admin added")
    assert repr(given) in message and "\n" not in message


async def test_annotations_say_what_each_tool_does(admin: Client) -> None:
    listed = {t.name: t for t in (await admin.list_tools()).tools if t.name in ROLE_TOOLS}
    hints = {
        name: (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint)
        for name, t in listed.items()
        if (a := t.annotations) is not None
    }
    assert hints == {
        "list_roles": (True, False, True, False),
        "set_role": (False, True, True, False),  # replaces a role: may take permissions away
        "create_role": (False, False, False, False),  # a repeat is refused: the role exists
        "delete_role": (False, True, False, False),  # a repeat is refused: not found
        "grant_permission": (False, False, True, False),
        "revoke_permission": (False, True, True, False),
    }
    for tool in listed.values():
        assert tool.description and tool.description.count(". ") == 0, "one sentence each"
        assert tool.output_schema and tool.output_schema["type"] == "object"


# -- each tool against the sandbox's /mcp ------------------------------------------------------------


async def test_each_tool_changes_the_daemon_and_says_so(admin: Client, sandbox: Sandbox) -> None:
    listed = await call_ok(admin, "list_roles")
    assert listed.structured_content == {"roles": roles_in(sandbox)}
    assert text_of(listed).splitlines() == [
        f"{r['name']} (built-in): {', '.join(r['permissions'])}" for r in roles_in(sandbox)
    ]

    created = await call_ok(admin, "create_role", {"name": "reviewer"})
    assert created.structured_content == {"role": "reviewer"}
    assert sandbox.state.roles["reviewer"] == set()
    assert "reviewer: no permissions" in text_of(await call_ok(admin, "list_roles")).splitlines()

    first = await call_ok(admin, "grant_permission", {"role": "reviewer", "permission": "history"})
    again = await call_ok(admin, "grant_permission", {"role": "reviewer", "permission": "history"})
    granted = {"role": "reviewer", "permission": "history"}
    assert first.structured_content == again.structured_content == granted
    assert text_of(first) == text_of(again) == "granted history to role reviewer"  # idempotent
    await call_ok(admin, "grant_permission", {"role": "reviewer", "permission": "send_message"})
    assert sandbox.state.roles["reviewer"] == {"history", "send_message"}

    assigned = await call_ok(admin, "set_role", {"username": "@bob", "role": "reviewer"})
    assert assigned.structured_content == {"username": "bob", "role": "reviewer"}
    assert text_of(assigned) == "bob now has role reviewer"
    assert sandbox.role_of("bob") == "reviewer"

    for _ in range(2):  # the second revoke is a no-op with the same answer
        pair = {"role": "reviewer", "permission": "send_message"}
        revoked = await call_ok(admin, "revoke_permission", pair)
        assert revoked.structured_content == pair
        assert text_of(revoked) == "revoked send_message from role reviewer"
    assert sandbox.state.roles["reviewer"] == {"history"}
    assert (await call_ok(admin, "list_roles")).structured_content == {"roles": roles_in(sandbox)}

    await call_ok(admin, "set_role", {"username": "bob", "role": "user"})
    await call_ok(admin, "revoke_permission", {"role": "reviewer", "permission": "history"})
    deleted = await call_ok(admin, "delete_role", {"name": "reviewer"})
    assert deleted.structured_content == {"role": "reviewer"}
    assert text_of(deleted) == "deleted role reviewer"
    assert "reviewer" not in sandbox.state.roles


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        ("set_role", {"username": "ghost", "role": "user"}, "user not found: ghost"),
        ("set_role", {"username": "bob", "role": "admn"}, "role 'admn' does not exist"),
        ("create_role", {"name": "admin"}, "that role exists already (list_roles)"),
        ("delete_role", {"name": "admin"}, "role not found or is built-in: admin"),
        ("delete_role", {"name": "ghost"}, "role not found or is built-in: ghost"),
        ("delete_role", {"name": "user"}, "role not found or is built-in: user"),
        ("delete_role", {"name": "staffed"}, "still has permissions; revoke them before deleting it"),
        ("grant_permission", {"role": "ghost", "permission": "history"}, "permission does not exist"),
        ("grant_permission", {"role": "user", "permission": "fly"}, "cannot grant 'fly' to 'user'"),
    ],
)
async def test_refusals_are_clear_and_change_nothing(
    admin: Client, sandbox: Sandbox, tool: str, arguments: dict[str, Any], says: str
) -> None:
    sandbox.state.roles["staffed"] = {"history"}
    before = snapshot(sandbox)
    text = await call_err(admin, tool, arguments)
    assert says in text, text
    assert len(text.splitlines()) == 1
    assert snapshot(sandbox) == before


# -- who may ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", sorted(ROLE_TOOLS))
async def test_a_non_admin_is_refused_with_a_clear_message(
    connect_mcp: ConnectMCP, mode: str, sandbox: Sandbox, tool: str
) -> None:
    before = snapshot(sandbox)
    async with connect_mcp(mode, identity="alice", tool_profile="all,admin") as client:
        text = await call_err(client, tool, ARGS[tool])
    assert "permission denied: manage_roles" in text
    assert "'alice'" in text and "'user'" in text  # who and which role
    assert "ask a Sharkfin admin" in text and "do not retry" in text
    assert "grant_permission(role='user', permission='manage_roles')" not in text, "never advise that"
    assert snapshot(sandbox) == before


async def test_the_advice_names_the_tool_that_fixes_it(connect_mcp: ConnectMCP, mode: str) -> None:
    """A caller holding manage_roles is told the exact grant_permission call when the profile is
    on, and how to turn it on when it is off; anyone else is told who can grant it."""
    async with connect_mcp(mode, tool_profile="all,admin") as agent:
        await call_ok(agent, "revoke_permission", {"role": "admin", "permission": "create_channel"})
        text = await call_err(agent, "channel_create", {"name": "c-advice-1"})
        assert "permission denied: create_channel" in text
        call = "grant_permission(role='admin', permission='create_channel')"
        assert f"so it can fix this itself: {call}" in text, text
        async with connect_mcp(mode) as plain:  # the same identity, admin tools off
            off = await call_err(plain, "channel_create", {"name": "c-advice-2"})
        assert "admin tools are off: restart it with SHARKFIN_TOOLS=all,admin" in off, off
        assert call in off and "do not retry" in off
        # Following the advice works.
        await call_ok(agent, "grant_permission", {"role": "admin", "permission": "create_channel"})
        await call_ok(agent, "channel_create", {"name": "c-advice-3"})

    async with connect_mcp(mode, identity="alice", tool_profile="all,admin") as alice:
        text = await call_err(alice, "channel_create", {"name": "c-advice-4"})
    assert "A Sharkfin admin can grant it (grant_permission(role='user', permission='create_channel')" in text
    assert "fix this itself" not in text


async def test_whoami_tells_an_admin_whether_the_role_tools_are_on(
    connect_mcp: ConnectMCP, mode: str
) -> None:
    for profile, on in (("all", False), ("core,admin", True)):
        async with connect_mcp(mode, tool_profile=profile) as client:
            who = await call_ok(client, "whoami")
        assert who.structured_content["admin_tools"] is on  # type: ignore[index]
        note = "role tools on" if on else "role tools off (SHARKFIN_TOOLS=all,admin"
        assert note in text_of(who)
    async with connect_mcp(mode, identity="alice", tool_profile="all,admin") as alice:
        assert "role tools" not in text_of(await call_ok(alice, "whoami"))


# -- capabilities events -----------------------------------------------------------------------------


async def _capabilities(client: Client, after: int = 0) -> list[dict[str, Any]]:
    polled = await call_ok(client, "poll_events", {"after": after, "types": ["capabilities"]})
    assert polled.structured_content is not None
    return list(polled.structured_content["events"])


async def _next_capabilities(client: Client, after: int) -> dict[str, Any]:
    with anyio.fail_after(5):
        while not (events := await _capabilities(client, after)):
            await anyio.sleep(0.02)
    assert len(events) == 1, events
    return events[0]


async def test_a_role_change_is_a_capabilities_event_for_the_affected_identity(
    admin: Client, connect_mcp: ConnectMCP, mode: str, sandbox: Sandbox
) -> None:
    async with connect_mcp(mode, identity="bob") as bob:
        assert await _capabilities(bob) == []
        assert "role user" in text_of(await call_ok(bob, "whoami"))

        await call_ok(admin, "set_role", {"username": "bob", "role": "bot"})
        event = await _next_capabilities(bob, 0)
        assert event["data"] == {"permissions": sorted(sandbox.state.roles["bot"])}
        assert "invite_channel" not in event["data"]["permissions"]
        polled = text_of(await call_ok(bob, "poll_events", {"after": 0, "types": ["capabilities"]}))
        assert f"#{event['seq']} capabilities {clean_json(event['data'])}" in polled.splitlines()
        who = await call_ok(bob, "whoami")  # the server asks again who it is
        assert who.structured_content["role"] == "bot"  # type: ignore[index]

        await call_ok(admin, "grant_permission", {"role": "bot", "permission": "invite_channel"})
        granted = await _next_capabilities(bob, event["seq"])
        assert "invite_channel" in granted["data"]["permissions"]

        await call_ok(admin, "revoke_permission", {"role": "bot", "permission": "invite_channel"})
        revoked = await _next_capabilities(bob, granted["seq"])
        assert revoked["data"]["permissions"] == event["data"]["permissions"]

        # Whom it does not concern hears nothing: the admin's own role did not change.
        assert await _capabilities(admin) == []
        await call_ok(admin, "set_role", {"username": "bob", "role": "user"})
        back = await _next_capabilities(bob, revoked["seq"])
        assert back["data"]["permissions"] == sorted(sandbox.state.roles["user"])


# -- hostile arguments -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        ("set_role", {"username": None, "role": "user"}, "username is required: a non-empty string"),
        ("set_role", {"username": "bob"}, "role is required: a non-empty string"),
        ("set_role", {"username": "", "role": "user"}, "username must be a non-empty string"),
        ("set_role", {"username": 7, "role": "user"}, "username must be a non-empty string"),
        ("create_role", {"name": "x" * 201}, "name must be a non-empty string of at most 200 characters"),
        ("grant_permission", {"role": ["user"], "permission": "history"}, "role must be a non-empty string"),
        ("revoke_permission", {"role": "user", "permission": {"p": 1}}, "permission must be a non-empty"),
    ],
)
async def test_bad_arguments_get_one_plain_sentence(
    admin: Client, sandbox: Sandbox, tool: str, arguments: dict[str, Any], says: str
) -> None:
    before = snapshot(sandbox)
    text = await call_err(admin, tool, arguments)
    assert says in text and len(text.splitlines()) == 1, text
    assert snapshot(sandbox) == before


async def test_null_optional_style_and_unknown_arguments_are_ignored(admin: Client, sandbox: Sandbox) -> None:
    result = await call_ok(admin, "list_roles", {"verbose": True, "filter": None})
    assert result.structured_content == {"roles": roles_in(sandbox)}
    await call_ok(admin, "create_role", {"name": "extra", "public": None, "whatever": 1})
    assert "extra" in sandbox.state.roles


LIKELY = ["alice", "@alice", "bob", "user", "bot", "agent", "admin", "history", "create_channel", "", "null"]
hostile = st.one_of(
    st.none(),
    st.sampled_from(LIKELY),
    st.text(max_size=30),
    st.sampled_from(["line\nbreak", "\u2028sep", "bi\u202edi", "tab\tx", "back\\slash", "'quote\""]),
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.lists(st.text(max_size=3), max_size=2),
)
HOSTILE_CALLS = [0]


@asynccontextmanager
async def _admin_target() -> AsyncIterator[tuple[Client, Sandbox]]:
    async with Sandbox() as sandbox:
        server = build_server(agent_settings(sandbox, tool_profile="all,admin", request_timeout=5.0))
        async with Client(server, mode="legacy") as client:
            await wait_ready(client)
            yield client, sandbox


@pytest.fixture(scope="module")
def hostile_target() -> Iterator[tuple[BlockingPortal, Client, Sandbox]]:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(_admin_target()) as (client, sandbox),
    ):
        yield portal, client, sandbox


PARAMETERS = {
    "list_roles": [],
    "set_role": ["username", "role"],
    "create_role": ["name"],
    "delete_role": ["name"],
    "grant_permission": ["role", "permission"],
    "revoke_permission": ["role", "permission"],
}


@pytest.mark.parametrize("tool", sorted(ROLE_TOOLS))  # the settings tools: tests/faults/test_fuzz_tools.py
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_arguments_get_exactly_one_plain_answer(
    hostile_target: tuple[BlockingPortal, Client, Sandbox], tool: str, data: st.DataObject
) -> None:
    """Whatever arrives, one answer: a success whose text is one line and whose effect the daemon
    shows, or one plain-sentence error. The admin's own role is kept so later examples still run."""
    portal, client, sandbox = hostile_target
    arguments = arguments_for(data, PARAMETERS[tool], hostile)
    if tool == "set_role" and str(arguments.get("username", "")).lstrip("@") == "agent":
        arguments["username"] = "bob"
    if tool == "revoke_permission" and arguments.get("role") == "admin":
        arguments["role"] = "bot"
    result = portal.call(client.call_tool, tool, arguments)
    HOSTILE_CALLS[0] += 1
    assert_one_plain_answer(tool, result)
    text = text_of(result)
    assert len(text.splitlines()) == (len(sandbox.state.roles) if tool == "list_roles" else 1), text
    if not result.is_error and tool == "set_role":
        out = result.structured_content
        assert out is not None and sandbox.role_of(out["username"]) == out["role"]
    if not result.is_error and tool == "create_role":
        assert arguments["name"] in sandbox.state.roles


# -- the text rendering ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    roles=st.lists(
        st.builds(
            Role, name=render_field, built_in=st.booleans(), permissions=st.lists(render_field, max_size=3)
        ),
        max_size=4,
    )
)
def test_one_line_per_role_whatever_the_names_hold(roles: list[Role]) -> None:
    text = "\n".join(role_line(r) for r in roles)
    assert len(text.splitlines()) == len(roles) or (not roles and text == "")
    text.encode("utf-8")  # no lone surrogate reaches the wire
