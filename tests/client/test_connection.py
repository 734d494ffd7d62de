"""Events, concurrency, timeouts, disconnects, reconnects and shutdown, through real sockets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anyio
import pytest
from websockets.asyncio.server import ServerConnection

from sharkfin_mcp.client import (
    CapabilitiesEvent,
    ClientClosed,
    ConnectError,
    DisconnectEvent,
    Event,
    EventsDropped,
    ExponentialBackoff,
    MessageEvent,
    NotConnected,
    PresenceEvent,
    PresenceKeeper,
    ReconnectEvent,
    RequestTimeout,
    SharkfinClient,
)

from .helpers import client_as, closed_port, eventually, next_event, no_event

pytestmark = pytest.mark.anyio

FAST = ExponentialBackoff(initial=0.05, maximum=0.2)


async def test_message_new_to_member_and_sender(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice, client_as(sandbox, "bob") as bob:
        assert await next_event(alice) == PresenceEvent(username="bob", status="online", state="idle")
        await alice.join_channel("general")
        await bob.join_channel("general")
        message_id = await alice.send_message("general", "hello @bob", metadata={"k": 1})
        # send_message returned first; the sender's own event is then read from events().
        mine = await next_event(alice)
        theirs = await next_event(bob)
        for event in (mine, theirs):
            assert isinstance(event, MessageEvent)
            assert (event.id, event.channel, event.channel_type, event.sender, event.body) == (
                message_id,
                "general",
                "channel",
                "alice",
                "hello @bob",
            )
            assert event.mentions == ["bob"]
            assert event.metadata == {"k": 1}
            assert event.thread_id is None
            assert event.sent_at is not None


async def test_message_new_not_sent_to_non_members(sandbox: Any) -> None:
    async with client_as(sandbox, "bob") as bob, client_as(sandbox, "alice") as alice:
        assert await next_event(bob) == PresenceEvent(username="alice", status="online", state="idle")
        await bob.join_channel("general")
        dm = await alice.dm_open("bob")
        await alice.send_message(dm.channel, "psst")  # alice gets her own, bob is a member too
        event = await next_event(bob)
        assert (
            isinstance(event, MessageEvent) and event.channel_type == "dm" and event.channel == "dm-alice-bob"
        )
        await bob.send_message("general", "only me here")
        own = await next_event(bob)
        assert isinstance(own, MessageEvent) and own.body == "only me here"
        alice_events = [await next_event(alice)]
        await no_event(alice)  # alice is not in general
        assert [e.body for e in alice_events if isinstance(e, MessageEvent)] == ["psst"]


async def test_presence_online_state_offline(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice:
        async with client_as(sandbox, "bob") as bob:
            assert await next_event(alice) == PresenceEvent(username="bob", status="online", state="idle")
            await bob.set_state("active")
            assert await next_event(alice) == PresenceEvent(username="bob", status="online", state="active")
            await alice.set_state("idle")
            assert await next_event(bob) == PresenceEvent(username="alice", status="online", state="idle")
            await no_event(bob, 0.05)  # the subject never gets its own
        assert await next_event(alice) == PresenceEvent(username="bob", status="offline", state=None)


async def test_capabilities_push(sandbox: Any) -> None:
    async with client_as(sandbox, "bob") as bob:
        await bob.ping()
        sandbox.set_role("bob", "admin", push=True)
        event = await next_event(bob)
        assert isinstance(event, CapabilitiesEvent)
        assert "create_channel" in event.permissions and "manage_roles" in event.permissions
        await bob.create_channel("bobs", True)


async def test_concurrent_requests_get_their_own_replies(sandbox: Any) -> None:
    async with client_as(sandbox, "alice") as alice:
        await alice.join_channel("general")
        ids = [await alice.send_message("general", f"m{i}") for i in range(5)]
        results: dict[int, Any] = {}

        async def call(i: int) -> None:
            if i % 2:
                results[i] = await alice.ping()
            else:
                results[i] = [m.id for m in await alice.history("general", limit=1 + i % 5)]

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for i in range(50):
                    tg.start_soon(call, i)
        assert len(results) == 50
        for i, result in results.items():
            assert result == (None if i % 2 else ids[-(1 + i % 5) :])
        assert alice._pending == {}


async def test_disconnect_mid_request_is_prompt(sandbox: Any) -> None:
    async with client_as(sandbox, "alice", request_timeout=10.0) as alice:
        sandbox.stall = True
        started = time.monotonic()
        with anyio.fail_after(3):
            async with anyio.create_task_group() as tg:

                async def cut() -> None:
                    await anyio.sleep(0.1)
                    await sandbox.disconnect_all()

                tg.start_soon(cut)
                with pytest.raises(NotConnected, match=r"may not have been carried out"):
                    await alice.users()
        assert time.monotonic() - started < 2.0
        assert not alice.connected
        events = [event async for event in alice.events()]  # no reconnect: the stream ends
        assert len(events) == 1 and isinstance(events[0], DisconnectEvent)


async def test_request_timeout_when_daemon_stalls(sandbox: Any) -> None:
    async with client_as(sandbox, "alice", request_timeout=0.2) as alice:
        sandbox.stall = True
        started = time.monotonic()
        with pytest.raises(RequestTimeout, match=r"no reply to ping within 0.2 s"):
            await alice.ping()
        assert 0.15 < time.monotonic() - started < 1.5
        assert alice._pending == {}
        sandbox.stall = False
        await alice.ping()  # the connection survives a timeout


async def test_dropped_reply_is_request_timeout(sandbox: Any) -> None:
    async with client_as(sandbox, "alice", request_timeout=0.2) as alice:
        await alice.join_channel("general")
        count = sandbox.message_count()
        sandbox.drop_replies = 1
        with pytest.raises(RequestTimeout):
            await alice.send_message("general", "carried out, reply lost")
        assert sandbox.message_count() == count + 1  # the request was executed
        history = await alice.history("general")
        assert [m.body for m in history] == ["carried out, reply lost"]


async def _until_reconnected(client: SharkfinClient, within: float = 3.0) -> list[Event]:
    """Events up to and including the next ReconnectEvent."""
    events: list[Event] = []
    with anyio.fail_after(within):
        async for event in client.events():
            events.append(event)
            if isinstance(event, ReconnectEvent):
                return events
    raise AssertionError(f"events ended without a reconnect: {events}")


async def _restart_and_collect(sandbox: Any, client: SharkfinClient, username: str) -> list[Event]:
    """Restart the sandbox; return every event the client saw until it is back and quiet."""
    await sandbox.stop()
    assert not client.connected
    started = time.monotonic()
    with pytest.raises(NotConnected, match=r"reconnecting"):  # fast, no waiting
        await client.ping()
    assert time.monotonic() - started < 0.2
    await anyio.sleep(0.3)  # let a few attempts fail
    await sandbox.start()
    await eventually(lambda: client.connected and sandbox.is_connected(username))
    events: list[Event] = []
    while True:
        with anyio.move_on_after(0.1) as quiet:
            events.append(await anext(client.events()))
        if quiet.cancelled_caught:
            return events


async def test_reconnect_after_daemon_restart(sandbox: Any) -> None:
    async with client_as(sandbox, "alice", reconnect=FAST) as alice:
        await alice.join_channel("general")
        events = await _restart_and_collect(sandbox, alice, "alice")
        assert [type(e) for e in events] == [DisconnectEvent, ReconnectEvent]
        reconnect = events[-1]
        assert isinstance(reconnect, ReconnectEvent) and reconnect.attempts >= 2  # it failed while down
        assert alice.connected and alice.last_error is None
        await alice.send_message("general", "back")  # state survived the restart
        assert [m.body for m in await alice.history("general")] == ["back"]


async def test_daemon_restart_gives_one_disconnect_then_one_reconnect(sandbox: Any) -> None:
    async with client_as(sandbox, "alice", reconnect=FAST) as alice:
        events = await _restart_and_collect(sandbox, alice, "alice")
        assert [type(e) for e in events] == [DisconnectEvent, ReconnectEvent]


async def test_reconnect_after_disconnect_all(sandbox: Any) -> None:
    async with client_as(sandbox, "alice", reconnect=FAST) as alice:
        await sandbox.disconnect_all()
        events = await _until_reconnected(alice)
        assert [type(e) for e in events] == [DisconnectEvent, ReconnectEvent]
        assert events[1] == ReconnectEvent(attempts=1)  # attempt 0 has no delay
        assert await alice.version() == "v0.0.0-sandbox"


async def test_wait_for_connection_waits_for_reconnect(sandbox: Any) -> None:
    async with client_as(
        sandbox, "alice", reconnect=FAST, wait_for_connection=True, request_timeout=3
    ) as alice:
        await sandbox.stop()
        assert isinstance(await next_event(alice), DisconnectEvent)
        result: dict[str, Any] = {}

        async def request() -> None:
            result["version"] = await alice.version()
            result["at"] = time.monotonic()

        with anyio.fail_after(4):
            async with anyio.create_task_group() as tg:
                tg.start_soon(request)
                await anyio.sleep(0.3)
                assert "version" not in result  # still waiting, not failed
                restarted = time.monotonic()
                await sandbox.start()
        assert result["version"] == "v0.0.0-sandbox"
        assert result["at"] >= restarted


async def test_wait_for_connection_gives_up_after_request_timeout(sandbox: Any) -> None:
    async with client_as(
        sandbox, "alice", reconnect=FAST, wait_for_connection=True, request_timeout=0.3
    ) as alice:
        await sandbox.stop()
        assert isinstance(await next_event(alice), DisconnectEvent)
        started = time.monotonic()
        with pytest.raises(NotConnected, match=r"reconnecting"):
            await alice.ping()
        assert 0.25 < time.monotonic() - started < 1.5


async def test_giving_up_reconnecting_ends_events(mock_daemon: Any) -> None:
    backoff = ExponentialBackoff(initial=0.02, maximum=0.05, max_attempts=3)

    async def idle(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with mock_daemon(idle) as daemon:
        alice = await SharkfinClient.connect(daemon.url, reconnect=backoff)
    # The mock daemon is gone (listener closed, then its connections): every attempt fails.
    try:
        with anyio.fail_after(3):
            events = [event async for event in alice.events()]
        assert len(events) == 1 and isinstance(events[0], DisconnectEvent)
        assert isinstance(alice.last_error, ConnectError)
        with pytest.raises(NotConnected, match=r"not connected"):
            await alice.ping()
    finally:
        await alice.close()


async def test_open_in_background(sandbox: Any) -> None:
    client = SharkfinClient(sandbox.ws_url, api_key=sandbox.key("alice"), reconnect=FAST, request_timeout=2)
    try:
        client.open_in_background()
        assert await client.wait_connected(within=2)
        assert await client.version() == "v0.0.0-sandbox"
        await no_event(client, 0.05)  # the first connection is no "reconnect"
    finally:
        await client.close()


async def test_open_in_background_reports_last_error() -> None:
    client = SharkfinClient(
        f"ws://127.0.0.1:{closed_port()}/ws", api_key="k", reconnect=FAST, connect_timeout=0.5
    )
    try:
        client.open_in_background()
        assert not await client.wait_connected(within=0.3)
        assert client.last_error is not None and "cannot reach Sharkfin" in str(client.last_error)
        with pytest.raises(NotConnected, match=r"cannot reach Sharkfin"):
            await client.ping()
    finally:
        await client.close()


async def test_bounded_event_stream_counts_drops(sandbox: Any) -> None:
    async with client_as(sandbox, "bob") as bob, client_as(sandbox, "alice", event_buffer=5) as alice:
        await alice.join_channel("general")
        await bob.join_channel("general")
        for i in range(20):
            await bob.send_message("general", f"m{i}")
        await alice.ping()  # queued after the 20 pushes, so all of them have been read
        assert alice.dropped_events == 15
        assert await next_event(alice) == EventsDropped(count=15)
        bodies = []
        for _ in range(5):
            event = await next_event(alice)
            assert isinstance(event, MessageEvent)
            bodies.append(event.body)
        assert bodies == [f"m{i}" for i in range(15, 20)]
        await no_event(alice, 0.05)
        assert alice.dropped_events == 15


async def test_close_is_idempotent_and_ends_events(sandbox: Any) -> None:
    alice = await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("alice"))
    seen: list[Any] = []

    async def consume() -> None:
        async for event in alice.events():
            seen.append(event)

    with anyio.fail_after(3):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.sleep(0.05)
            await alice.close()
            await alice.close()
    assert seen == []
    assert alice.closed and not alice.connected
    with pytest.raises(ClientClosed):
        await alice.ping()
    await anyio.sleep(0.2)
    assert not sandbox.is_connected("alice")


async def test_close_fails_pending_requests_with_client_closed(sandbox: Any) -> None:
    alice = await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("alice"), request_timeout=5)
    sandbox.stall = True
    errors: list[BaseException] = []

    async def call() -> None:
        try:
            await alice.ping()
        except Exception as exc:
            errors.append(exc)

    with anyio.fail_after(3):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await anyio.sleep(0.1)
            await alice.close()
    assert len(errors) == 1 and isinstance(errors[0], ClientClosed)


def _client_tasks(tasks: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Tasks the client (or its websockets connection) started; sandbox tasks are uvicorn's/anyio's."""
    out = []
    for task in tasks:
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None)
        filename = code.co_filename if code is not None else ""
        if (
            task.get_name().startswith("sharkfin-")
            or "websockets/asyncio" in filename
            or "client" in filename
        ):
            out.append(task)
    return out


async def test_no_leftover_tasks_after_close(sandbox: Any) -> None:
    before = asyncio.all_tasks()
    client = await SharkfinClient.connect(
        sandbox.ws_url, api_key=sandbox.key("alice"), reconnect=FAST, ping_interval=0.5
    )
    await client.users()
    await sandbox.disconnect_all()  # exercise the reconnect supervisor too
    assert isinstance(await next_event(client), DisconnectEvent)
    assert isinstance(await next_event(client), ReconnectEvent)
    await client.ping()
    during = _client_tasks(asyncio.all_tasks() - before)
    assert during, "expected the reader/keepalive tasks while connected"
    await client.close()
    leftover = [t for t in _client_tasks(asyncio.all_tasks() - before) if not t.done()]
    assert leftover == []


async def test_no_leftover_tasks_while_reconnecting_then_closed() -> None:
    before = asyncio.all_tasks()
    client = SharkfinClient(f"ws://127.0.0.1:{closed_port()}/ws", reconnect=FAST, connect_timeout=0.2)
    client.open_in_background()
    await anyio.sleep(0.15)
    await client.close()
    leftover = [t for t in asyncio.all_tasks() - before if not t.done()]
    assert leftover == []


async def test_presence_keeper_makes_user_online(sandbox: Any) -> None:
    keeper = PresenceKeeper(sandbox.http_url, api_key=sandbox.key("bob"), backoff=FAST)
    async with client_as(sandbox, "alice") as alice:
        assert [u.online for u in await alice.users() if u.username == "bob"] == [False]
        keeper.start()

        async def bob_online() -> bool:
            return [u.online for u in await alice.users() if u.username == "bob"] == [True]

        async def bob_offline() -> bool:
            return not await bob_online()

        try:
            await eventually(lambda: keeper.online)
            await eventually(bob_online)
        finally:
            await keeper.close()
        assert not keeper.online
        await eventually(bob_offline)
