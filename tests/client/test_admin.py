"""Role administration via the client's own JSON-RPC to ``/mcp``, against the sandbox over real sockets."""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharkfin_mcp.client import (
    AdminClient,
    AuthenticationError,
    CapabilitiesEvent,
    Conflict,
    ConnectError,
    McpRpc,
    NotFound,
    PermissionDenied,
    RESTClient,
    Role,
    ServerError,
    SharkfinClient,
    SharkfinError,
)
from sharkfin_mcp.sandbox import Sandbox

from .._protocol import USER_PERMISSIONS
from .helpers import client_as, closed_port, next_event, no_event

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sharkfin", "rest", "admin"])
async def admin(request: pytest.FixtureRequest, sandbox: Sandbox) -> AsyncIterator[Any]:
    """The admin identity ``agent`` through each public entry point."""
    key = sandbox.key("agent")
    if request.param == "sharkfin":
        async with client_as(sandbox, "agent") as client:
            yield client
    elif request.param == "rest":
        async with RESTClient(sandbox.http_url, api_key=key, timeout=2.0) as rest:
            yield rest
    else:
        client = AdminClient(sandbox.ws_url, api_key=key, timeout=2.0)
        try:
            yield client
        finally:
            await client.aclose()


async def test_each_method(sandbox: Sandbox, admin: Any) -> None:
    roles = await admin.list_roles()
    assert all(isinstance(r, Role) for r in roles)
    assert [r.name for r in roles] == ["admin", "agent", "bot", "user"]
    assert roles[3] == Role(name="user", built_in=True, permissions=USER_PERMISSIONS)

    assert await admin.create_role("reviewer") is None
    assert Role(name="reviewer", built_in=False, permissions=[]) in await admin.list_roles()
    await admin.grant_permission("reviewer", "history")
    await admin.grant_permission("reviewer", "history")  # already granted: a no-op
    await admin.grant_permission("reviewer", "send_message")
    assert sandbox.state.roles["reviewer"] == {"history", "send_message"}
    await admin.set_role("bob", "reviewer")
    assert sandbox.role_of("bob") == "reviewer"
    await admin.revoke_permission("reviewer", "send_message")
    await admin.revoke_permission("reviewer", "send_message")  # not granted: a no-op
    assert next(r for r in await admin.list_roles() if r.name == "reviewer").permissions == ["history"]
    await admin.set_role("bob", "user")
    await admin.revoke_permission("reviewer", "history")
    await admin.delete_role("reviewer")
    assert "reviewer" not in [r.name for r in await admin.list_roles()]


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda a: a.set_role("ghost", "admin"), NotFound, "user not found: ghost"),
        (lambda a: a.create_role("admin"), Conflict, "UNIQUE constraint failed: roles.name"),
        (lambda a: a.delete_role("admin"), NotFound, "role not found or is built-in: admin"),
        (lambda a: a.delete_role("ghost"), NotFound, "role not found or is built-in: ghost"),
        (lambda a: a.delete_role("user-ish"), Conflict, "still has permissions; revoke them"),
        (
            lambda a: a.grant_permission("ghost", "history"),
            NotFound,
            "the role or the permission does not exist",
        ),
        (lambda a: a.grant_permission("user", "fly"), NotFound, "cannot grant 'fly' to 'user'"),
    ],
    ids=[
        "set_role-user",
        "create_role-dup",
        "delete-builtin",
        "delete-unknown",
        "delete-in-use",
        "grant-role",
        "grant-perm",
    ],
)
async def test_errors_map_onto_the_tree(
    sandbox: Sandbox, admin: Any, call: Callable[[Any], Awaitable[None]], error: type[ServerError], text: str
) -> None:
    sandbox.state.roles["user-ish"] = {"history"}
    with pytest.raises(error) as caught:
        await call(admin)
    assert text in str(caught.value)
    assert isinstance(caught.value, SharkfinError)


@pytest.mark.parametrize(
    "method",
    ["set_role", "create_role", "delete_role", "grant_permission", "revoke_permission", "list_roles"],
)
async def test_a_non_admin_is_told_what_is_missing_and_how_to_fix_it(sandbox: Sandbox, method: str) -> None:
    args = {
        "set_role": ("bob", "admin"),
        "create_role": ("x",),
        "delete_role": ("x",),
        "grant_permission": ("user", "history"),
        "revoke_permission": ("user", "history"),
        "list_roles": (),
    }
    async with client_as(sandbox, "alice") as alice:
        with pytest.raises(PermissionDenied) as caught:
            await getattr(alice, method)(*args[method])
    assert caught.value.permission == "manage_roles"
    message = str(caught.value)
    assert message.startswith("permission denied: manage_roles (")
    assert method in message and "grant_permission" in message and "set_role" in message
    assert sandbox.role_of("bob") == "user" and "x" not in sandbox.state.roles  # nothing changed


async def test_role_change_reaches_the_affected_identity_as_a_capabilities_event(sandbox: Sandbox) -> None:
    async with (
        client_as(sandbox, "agent") as agent,
        client_as(sandbox, "bob") as bob,
        client_as(sandbox, "alice") as alice,
    ):
        await next_event(agent)  # presence: bob online
        await next_event(agent)  # presence: alice online
        await next_event(bob)  # presence: alice online
        await agent.grant_permission("user", "create_channel")
        for user in (bob, alice):  # both hold ``user``
            event = await next_event(user)
            assert isinstance(event, CapabilitiesEvent)
            assert event.permissions == sorted([*USER_PERMISSIONS, "create_channel"])
        await no_event(agent)  # admin's role did not change
        await agent.create_role("reader")
        await agent.grant_permission("reader", "history")
        await no_event(bob)  # nobody holds ``reader`` yet
        await agent.set_role("bob", "reader")
        event = await next_event(bob)
        assert isinstance(event, CapabilitiesEvent) and event.permissions == ["history"]
        assert await bob.capabilities() == ["history"]
        await agent.revoke_permission("reader", "history")
        event = await next_event(bob)
        assert isinstance(event, CapabilitiesEvent) and event.permissions == []
        await no_event(alice)


# ---- the session ---------------------------------------------------------------------------------


async def test_a_daemon_restart_means_one_reinitialisation(sandbox: Sandbox) -> None:
    async with RESTClient(sandbox.http_url, api_key=sandbox.key("agent"), timeout=2.0) as rest:
        await rest.list_roles()
        rpc = rest.admin.rpc
        first = rpc.session_id
        assert first is not None and rpc.initializations == 1
        await sandbox.stop()
        await sandbox.start()
        await rest.create_role("after-restart")
        assert rpc.initializations == 2 and rpc.session_id not in (None, first)
        assert "after-restart" in sandbox.state.roles
        await rest.list_roles()
        assert rpc.initializations == 2


async def test_a_terminated_session_is_renewed(sandbox: Sandbox) -> None:
    client = AdminClient(sandbox.http_url, api_key=sandbox.key("agent"), timeout=2.0)
    try:
        await client.list_roles()
        old = client.rpc.session_id
        assert old is not None
        async with httpx.AsyncClient() as http:
            headers = {"Authorization": "ApiKey-v1 " + sandbox.key("agent"), "Mcp-Session-Id": old}
            assert (await http.delete(sandbox.http_url + "/mcp", headers=headers)).status_code == 200
        assert len(await client.list_roles()) == 4
        assert client.rpc.initializations == 2 and client.rpc.session_id != old
    finally:
        await client.aclose()
    assert client.rpc.session_id is None and old not in sandbox.mcp.sessions


class _Forgetful(httpx.AsyncHTTPTransport):
    """The real transport to the sandbox, which forgets every session just before each tool call."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if b'"tools/call"' in request.content:
            self.calls += 1
            self.sandbox.mcp.sessions.clear()
        return await super().handle_async_request(request)


async def test_a_session_lost_twice_in_one_call_is_an_error_not_a_loop(sandbox: Sandbox) -> None:
    transport = _Forgetful(sandbox)
    rpc = McpRpc(sandbox.http_url, api_key=sandbox.key("agent"), timeout=2.0, transport=transport)
    try:
        with pytest.raises(NotFound, match="lost the MCP session again"):
            await rpc.call_tool("list_roles")
        assert (transport.calls, rpc.initializations) == (2, 2)
    finally:
        await rpc.aclose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(["call", "restart", "terminate"]), min_size=1, max_size=10))
async def test_any_sequence_of_session_losses_costs_one_initialisation_each(
    sandbox: Sandbox, steps: list[str]
) -> None:
    """Whatever happens to the session between calls (the daemon forgets it, as on a restart, or
    it is ended by DELETE), every call succeeds and opens exactly one new session when needed."""
    client = AdminClient(sandbox.http_url, api_key=sandbox.key("agent"), timeout=2.0)
    expected, have_session = 0, False
    try:
        async with httpx.AsyncClient(base_url=sandbox.http_url) as http:
            for step in steps:
                session = client.rpc.session_id
                if step == "call":
                    assert len(await client.list_roles()) == 4
                    expected += 0 if have_session else 1
                    have_session = True
                elif step == "restart":
                    sandbox.mcp.sessions.discard(session or "")
                    have_session = False
                elif session is not None:
                    headers = {**auth_header(sandbox, "agent"), "Mcp-Session-Id": session}
                    assert (await http.delete("/mcp", headers=headers)).status_code == 200
                    have_session = False
        assert client.rpc.initializations == expected
    finally:
        await client.aclose()


def auth_header(sandbox: Sandbox, user: str) -> dict[str, str]:
    return {"Authorization": "ApiKey-v1 " + sandbox.key(user)}


async def test_concurrent_first_calls_share_one_session(sandbox: Sandbox) -> None:
    import anyio

    client = AdminClient(sandbox.http_url, api_key=sandbox.key("agent"), timeout=2.0)
    try:
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(client.list_roles)
        assert client.rpc.initializations == 1 and len(sandbox.mcp.sessions) == 1
    finally:
        await client.aclose()


async def test_sse_replies_are_understood(sandbox: Sandbox, admin: Any) -> None:
    sandbox.mcp.sse_responses = True
    await admin.create_role("sse")
    assert "sse" in [r.name for r in await admin.list_roles()]
    with pytest.raises(Conflict):
        await admin.create_role("sse")


async def test_server_info_and_raw_tool_calls(sandbox: Sandbox) -> None:
    rpc = McpRpc(sandbox.ws_url, api_key=sandbox.key("bob"), timeout=2.0)
    try:
        assert await rpc.call_tool("set_state", {"state": "active"}) == "state set to active"
        assert rpc.server_info == {"name": "sharkfin", "version": "v0.0.0-sandbox"}
        with pytest.raises(NotFound, match="tool 'nope' not found"):
            await rpc.call_tool("nope")
        with pytest.raises(NotFound, match="Method nope/x not found"):
            await rpc.request("nope/x")
    finally:
        await rpc.aclose()
    admin = McpRpc(sandbox.ws_url, api_key=sandbox.key("agent"), timeout=2.0)
    try:
        with pytest.raises(ServerError, match="create channel: insert channel"):  # -32603
            await admin.call_tool("channel_create", {"name": "general", "public": True})
    finally:
        await admin.aclose()


def test_sse_bodies_yield_every_event_and_the_answer_is_picked_by_id() -> None:
    """mcp-go streams notifications before the reply on one POST; data may span lines."""
    from sharkfin_mcp.client._mcp_rpc import _sse_messages

    body = (
        'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n'
        ": a comment\n"
        'event: message\ndata: {"jsonrpc":"2.0",\ndata: "id":3,"result":{}}\n\n'
        "data: not json\n\n"
        'data:{"id":4}'
    )
    assert _sse_messages(body) == [
        {"jsonrpc": "2.0", "method": "notifications/progress"},
        {"jsonrpc": "2.0", "id": 3, "result": {}},
        {"id": 4},
    ]


# ---- the key never leaks -------------------------------------------------------------------------

SECRET = "wf-agent_s3cr3t-key-that-must-not-leak"


async def _fail_with(sandbox: Sandbox, kind: str) -> SharkfinError:
    url = {"refused": f"http://127.0.0.1:{closed_port()}"}.get(kind, sandbox.http_url)
    if kind == "denied":
        from sharkfin_mcp.sandbox import Identity

        sandbox.add_identity(Identity("leaky", SECRET, "user"))
    client = AdminClient(url, api_key=SECRET, timeout=2.0)
    try:
        await client.set_role("bob", "admin")
    except SharkfinError as exc:
        return exc
    finally:
        await client.aclose()
    raise AssertionError("no error")


@pytest.mark.parametrize(
    ("kind", "error"),
    [("unauthenticated", AuthenticationError), ("refused", ConnectError), ("denied", PermissionDenied)],
)
async def test_the_api_key_never_appears_in_errors(
    sandbox: Sandbox, kind: str, error: type[SharkfinError]
) -> None:
    exc = await _fail_with(sandbox, kind)
    assert isinstance(exc, error)
    rendered = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
    assert SECRET not in rendered
    assert "s3cr3t" not in repr(AdminClient(sandbox.http_url, api_key=SECRET))


async def test_sharkfin_client_closes_its_mcp_session(sandbox: Sandbox) -> None:
    client = await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("agent"))
    await client.list_roles()
    assert len(sandbox.mcp.sessions) == 1
    await client.close()
    assert sandbox.mcp.sessions == set()
