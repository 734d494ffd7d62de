"""Section 3: a burst of ``message.new`` events from alice into the server's event buffer.

* **Through the sandbox.** alice sends ``send_message`` frames on several raw WebSockets, each
  keeping a window of requests in flight (pipelined), as fast as the sandbox takes them. The
  server (agent) is a member of the channel, so each message reaches it as ``message.new``.
  bob, also a member, reads the same pushes on a bare socket: how fast the sandbox itself
  delivers to a reader that does nothing. After the burst, ``poll_events`` (limit 500) drains
  the server's buffer; the buffered ``received_at`` stamps give the server's ingestion rate.
* **In process** (around the sandbox): a ``Runtime`` with a never-connected client is fed
  synthetic events through ``Runtime.ingest``, once with ready ``MessageEvent`` objects and
  once from raw JSON frames through the client's own ``decode_frame`` + ``parse_event``: the
  server's own ceiling without any socket.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import stdio_client
from websockets.asyncio.client import ClientConnection, connect

from ._common import (
    KEYS,
    child_server_pid,
    memory_kib,
    sandbox_process,
    server_params,
    structured,
)
from .latency import setup_channel, until_ready

CHANNEL = "burst"
BODY = "burst message: a typical chat line of about one hundred characters, with a mention of @bob."


def _headers(identity: str) -> dict[str, str]:
    return {"Authorization": f"ApiKey-v1 {KEYS[identity]}"}


async def _pipelined_sender(ws: ClientConnection, count: int, window: int, prefix: str) -> int:
    """Send ``count`` messages keeping ``window`` unanswered; returns how many were acknowledged."""
    slots = anyio.Semaphore(window)
    acked = 0
    done = anyio.Event()

    async def reader() -> None:
        nonlocal acked
        answered = 0
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("ref"):
                answered += 1
                acked += 1 if frame.get("ok") else 0
                slots.release()
                if answered == count:
                    done.set()
                    return

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        for i in range(count):
            await slots.acquire()
            frame = {"type": "send_message", "ref": f"{prefix}{i}", "d": {"channel": CHANNEL, "body": BODY}}
            await ws.send(json.dumps(frame))
        with anyio.move_on_after(60):
            await done.wait()
        tg.cancel_scope.cancel()
    return acked


async def burst(ws_url: str, total: int, senders: int = 4, window: int = 2) -> dict[str, Any]:
    """alice sends ``total`` messages to CHANNEL; returns timing of the sends (wall clock start).

    The window is small on purpose: the sandbox, like the daemon, silently drops frames beyond
    256 queued per connection, and it accepts requests faster than it writes pushes, so deep
    pipelining loses events inside the sandbox (measured: 4 x 32 in flight lost 35 % of the
    pushes to every member; 4 x 4 still lost about 7 % with the MCP server running). alice's pushes go to a
    separate sink socket (connected last, so it is alice's broadcast target) that only drains,
    so the senders' replies are never queued behind 20,000 pushes.
    """
    share = [total // senders + (1 if i < total % senders else 0) for i in range(senders)]
    conns = [await connect(ws_url, additional_headers=_headers("alice"), compression=None) for _ in share]
    sink = await connect(ws_url, additional_headers=_headers("alice"), compression=None, max_queue=None)
    acked: list[int] = []
    try:
        async with anyio.create_task_group() as outer:
            outer.start_soon(_drain_socket, sink)
            started_wall, t0 = time.time(), time.perf_counter()

            async def one(i: int) -> None:
                acked.append(await _pipelined_sender(conns[i], share[i], window, f"s{i}-"))

            async with anyio.create_task_group() as tg:
                for i in range(senders):
                    tg.start_soon(one, i)
            send_s = time.perf_counter() - t0
            outer.cancel_scope.cancel()
    finally:
        for c in [*conns, sink]:
            await c.close()
    return {"started_wall": started_wall, "send_s": send_s, "acked": sum(acked)}


async def _drain_socket(ws: ClientConnection) -> None:
    async for _ in ws:
        pass


async def _observer(
    ws: ClientConnection, expect: int, stamps: list[float], ids: set[int], done: anyio.Event
) -> None:
    async for raw in ws:
        if '"message.new"' in raw:
            stamps.append(time.time())
            ids.add(int(json.loads(raw)["d"]["id"]))
            if len(stamps) >= expect:
                done.set()
                return


async def last_seq(session: ClientSession) -> int:
    """The server's newest buffer seq (a cursor past the end comes back clamped to it)."""
    out = structured(await session.call_tool("poll_events", {"after": 10**12, "limit": 1}))
    return int(out["next_after"])


async def drain(session: ClientSession, after: int, expect: int, idle_s: float = 3.0) -> dict[str, Any]:
    """Read message.new/events.dropped after ``after`` until ``expect`` ids arrived or nothing moves."""
    ids: set[int] = set()
    received: list[str] = []
    dropped_reports = 0
    buffer_dropped = 0
    polls = 0
    quiet_since = time.monotonic()
    cursor = after
    while len(ids) < expect and time.monotonic() - quiet_since < idle_s:
        out = structured(
            await session.call_tool(
                "poll_events",
                {"after": cursor, "limit": 500, "types": ["message.new", "events.dropped"]},
            )
        )
        polls += 1
        buffer_dropped += int(out.get("dropped") or 0)
        cursor = int(out["next_after"])
        if not out["events"]:
            await anyio.sleep(0.1)
            continue
        quiet_since = time.monotonic()
        for event in out["events"]:
            if event["type"] == "events.dropped":
                dropped_reports += int(event["data"].get("count", 0))
            elif event.get("channel") == CHANNEL:
                ids.add(int(event["data"]["id"]))
                received.append(event["received_at"])
    return {
        "ids": ids,
        "received_at": received,
        "client_stream_dropped": dropped_reports,
        "buffer_dropped": buffer_dropped,
        "polls": polls,
    }


def _stamp(text: str) -> float:
    return datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


async def run_through_sandbox(events: int) -> dict[str, Any]:
    with sandbox_process() as sb:
        await setup_channel(sb.ws_url, CHANNEL, seed=0)
        params = server_params(sb.ws_url, SHARKFIN_EVENT_BUFFER=str(events + 5000))
        async with (
            stdio_client(params) as (read, write),
            ClientSession(read, write) as session,
            connect(sb.ws_url, additional_headers=_headers("bob"), compression=None, max_queue=None) as bob,
        ):
            await session.initialize()
            pid = child_server_pid()
            await until_ready(session, channel=CHANNEL)
            await anyio.sleep(0.5)  # let presence and capability events settle
            before = await last_seq(session)
            rss_before = memory_kib(pid)
            bob_stamps: list[float] = []
            bob_ids: set[int] = set()
            bob_done = anyio.Event()
            async with anyio.create_task_group() as tg:
                tg.start_soon(_observer, bob, events, bob_stamps, bob_ids, bob_done)
                sent = await burst(sb.ws_url, events)
                with anyio.move_on_after(10):
                    await bob_done.wait()  # set by the observer once it has seen every message
                tg.cancel_scope.cancel()
            got = await drain(session, before, sent["acked"])
            mem = memory_kib(pid)
    stamps = sorted(_stamp(s) for s in got["received_at"])
    start = sent["started_wall"]
    through = len(got["ids"])
    ingest_s = (stamps[-1] - start) if stamps else float("nan")
    observer_s = (bob_stamps[-1] - start) if bob_stamps else float("nan")
    return {
        "events_sent": events,
        "events_acked_by_sandbox": sent["acked"],
        "sandbox_accept_per_s": sent["acked"] / sent["send_s"],
        "raw_observer_received": len(bob_stamps),
        "raw_observer_per_s": len(bob_stamps) / observer_s if bob_stamps else 0.0,
        "server_buffered": through,
        "server_ingest_per_s": through / ingest_s if stamps else 0.0,
        "lost": sent["acked"] - through,
        "lost_by_server": len(bob_ids - got["ids"]),
        "lost_in_sandbox": sent["acked"] - len(bob_ids | got["ids"]),
        "lost_reported_by_client_stream": got["client_stream_dropped"],
        "lost_reported_by_buffer": got["buffer_dropped"],
        "server_rss_before_kib": rss_before["VmRSS"],
        "server_rss_after_kib": mem["VmRSS"],
        "server_peak_rss_kib": mem["VmHWM"],
        "drain_polls": got["polls"],
    }


async def run_in_process(events: int) -> dict[str, Any]:
    """Feed ``Runtime.ingest`` directly, no sockets: what a push costs the server before the
    inbox reads the channel (that read is a history call, measured through the sandbox above)."""
    from sharkfin_mcp.client import MessageEvent, SharkfinClient
    from sharkfin_mcp.client._events import parse_event
    from sharkfin_mcp.client._protocol import decode_frame
    from sharkfin_mcp.server import Runtime, Settings
    from sharkfin_mcp.server._notify import QuietBus  # the bus build_server uses
    from sharkfin_mcp.server._runtime import Identity

    def fresh() -> Runtime:
        settings = Settings(url="ws://127.0.0.1:9/ws", api_key="unused", event_buffer=events + 10)
        client = SharkfinClient(settings.url, api_key=settings.api_key)
        rt = Runtime(settings, client, QuietBus())
        rt.identity = Identity("agent", "admin", "agent")
        rt.inbox.floor = 0  # delivering; with no task group, a push only marks its channel
        return rt

    frames = [
        json.dumps(
            {
                "type": "message.new",
                "d": {
                    "id": i + 1,
                    "channel": CHANNEL,
                    "channel_type": "channel",
                    "from": "alice",
                    "body": BODY,
                    "sent_at": "2026-04-18T09:30:05Z",
                    "mentions": ["bob"],
                },
            }
        )
        for i in range(events)
    ]
    out: dict[str, Any] = {"events": events}

    rt = fresh()
    parsed = [MessageEvent.model_validate(json.loads(f)["d"]) for f in frames]
    t0 = time.perf_counter()
    for event in parsed:
        await rt.ingest(event)
    out["ingest_only_per_s"] = events / (time.perf_counter() - t0)

    rt = fresh()
    t0 = time.perf_counter()
    for raw in frames:
        frame = decode_frame(raw)
        assert frame is not None
        event = parse_event(frame.type, frame.data)
        assert event is not None
        await rt.ingest(event)
    out["decode_parse_ingest_per_s"] = events / (time.perf_counter() - t0)
    return out


async def run(events: int, in_process_events: int) -> dict[str, Any]:
    through = await run_through_sandbox(events)
    inproc = await run_in_process(in_process_events)
    bottleneck = (
        "sandbox" if through["sandbox_accept_per_s"] < inproc["decode_parse_ingest_per_s"] * 0.5 else "server"
    )
    return {
        "through_sandbox": through,
        "in_process": inproc,
        "bottleneck": bottleneck,
        "no_loss": through["lost"] == 0,
        "no_loss_in_server": through["lost_by_server"] == 0,
    }
