"""The filter/limit matrix: no call may make a later call miss an event, and no reader is given
an event twice (issue 9, "Filters and limits never consume").

Two levels, both Hypothesis:

* ``EventBuffer`` + ``Reader`` with no network: random interleavings of appends and reader calls
  (implicit cursor, explicit ``after``, waits with arrivals during the wait), each call checked
  against an independent model of what it must return;
* the MCP server through the SDK ``Client`` in both eras against the sandbox: alice posts over
  ``/ws`` and over REST in two channels, the agent posts too, and polls and waits with random
  filters and limits never pass ``after``; a final drain must give back every message, once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
import hypothesis
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from sharkfin_mcp.client import SharkfinClient
from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server import build_server
from sharkfin_mcp.server._buffer import BufferedEvent, EventBuffer, Predicate
from sharkfin_mcp.server._readers import Reader

from .conftest import MODES, agent_settings, structured, wait_ready

# -- level 1: EventBuffer + Reader ---------------------------------------------------------------

TYPES = ["message.new", "presence", "connection"]
CHANNELS = ["general", "side"]


@dataclass(frozen=True)
class Filter:
    types: frozenset[str] | None
    channel: str | None
    mentions_only: bool
    exclude_own: bool

    def __call__(self, event: BufferedEvent) -> bool:
        """The predicate the event tools build (``_tools._matcher``), restated independently."""
        if self.types is not None and event.type not in self.types:
            return False
        if self.channel is not None and event.channel != self.channel:
            return False
        if self.mentions_only and not event.mentions_me:
            return False
        return not ((self.exclude_own or self.mentions_only) and event.from_self)


filters = st.builds(
    Filter,
    types=st.none() | st.frozensets(st.sampled_from(TYPES), min_size=1),
    channel=st.none() | st.sampled_from(CHANNELS),
    mentions_only=st.booleans(),
    exclude_own=st.booleans(),
)
UNFILTERED = Filter(None, None, False, False)

appends = st.tuples(
    st.just("append"),
    st.sampled_from(TYPES),
    st.sampled_from(CHANNELS),
    st.booleans(),  # from_self
    st.booleans(),  # mentions_me
)
reads = st.tuples(st.just("read"), filters, st.integers(1, 5))
explicit_reads = st.tuples(st.just("explicit"), filters, st.integers(1, 5), st.integers(0, 60))
waits = st.tuples(st.just("wait"), filters, st.integers(1, 5), st.lists(appends, max_size=3))


def append(buffer: EventBuffer, op: tuple[Any, ...]) -> BufferedEvent:
    _, type_, channel, from_self, mentions_me = op
    return buffer.append(
        type_,
        {"n": buffer.last_seq + 1},
        channel=channel if type_ == "message.new" else None,
        from_self=from_self and type_ == "message.new",
        mentions_me=mentions_me and type_ == "message.new",
    )


@dataclass
class Model:
    """What the reader must have been given, kept without looking at the reader's own state."""

    capacity: int
    appended: list[int] = field(default_factory=list)
    events: dict[int, BufferedEvent] = field(default_factory=dict)
    given: set[int] = field(default_factory=set)
    """Every seq returned to the reader, by any call (explicit calls count as given too)."""
    implicit: list[int] = field(default_factory=list)
    """Seqs returned by implicit-cursor calls, in order, duplicates kept (so they can be caught)."""
    reported_dropped: int = 0
    lost: set[int] = field(default_factory=set)

    def add(self, event: BufferedEvent) -> None:
        self.appended.append(event.seq)
        self.events[event.seq] = event

    def held(self) -> list[BufferedEvent]:
        """What a ring of ``capacity`` still holds: the newest ``capacity`` appended."""
        return [self.events[s] for s in self.appended[-self.capacity :]]

    def expect(self, matches: Predicate, limit: int) -> list[int]:
        """An implicit call returns the first ``limit`` matching held events it was not given."""
        return [e.seq for e in self.held() if e.seq not in self.given and matches(e)][:limit]

    def newly_lost(self) -> int:
        """Events that left the buffer before the reader was given them, not reported before."""
        gone = set(self.appended[: -self.capacity]) - self.given - self.lost
        self.lost |= gone
        return len(gone)


def implicit_call(buffer: EventBuffer, reader: Reader, model: Model, matches: Filter, limit: int) -> None:
    expected = model.expect(matches, limit)
    read = buffer.read(reader.cursor, limit, reader.unseen(matches))
    got = [e.seq for e in read.events]
    assert all(matches(e) for e in read.events), "a call returned an event its filter excludes"
    assert got == expected, f"filter {matches} limit {limit}: got {got}, every unseen match is {expected}"
    dropped = reader.take(read.events, buffer)
    assert dropped == model.newly_lost()
    model.reported_dropped += dropped
    model.given.update(got)
    model.implicit.extend(got)


def explicit_call(buffer: EventBuffer, reader: Reader, model: Model, op: tuple[Any, ...]) -> None:
    """``after`` given: a stateless read from that cursor, recorded as given for the reader."""
    _, matches, limit, after = op
    read = buffer.read(after, limit, matches)
    assert [e.seq for e in read.events] == [e.seq for e in model.held() if e.seq > after and matches(e)][
        :limit
    ]
    reader.take(read.events, buffer)
    model.given.update(e.seq for e in read.events)


def final_drain(buffer: EventBuffer, reader: Reader, model: Model, limit: int) -> None:
    for _ in range(len(model.appended) + 1):
        before = len(model.implicit)
        implicit_call(buffer, reader, model, UNFILTERED, limit)
        if len(model.implicit) == before:
            return
    raise AssertionError("an unfiltered drain never ran dry")


def check_once(model: Model) -> None:
    assert len(model.implicit) == len(set(model.implicit)), "an implicit call repeated an event"


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(appends | reads | explicit_reads, max_size=60),
    drain_limit=st.integers(1, 7),
)
def test_filters_and_limits_never_skip_and_never_repeat(ops: list[tuple[Any, ...]], drain_limit: int) -> None:
    buffer = EventBuffer(capacity=1000)  # never overflows here; see the overflow property below
    reader = Reader(cursor=0)
    model = Model(capacity=buffer.capacity)
    for op in ops:
        if op[0] == "append":
            model.add(append(buffer, op))
        elif op[0] == "read":
            implicit_call(buffer, reader, model, op[1], op[2])
        else:
            explicit_call(buffer, reader, model, op)
    final_drain(buffer, reader, model, drain_limit)
    check_once(model)
    assert model.given == set(model.appended), "the union of what the reader got is not everything"
    assert model.reported_dropped == 0
    assert reader.given == set() and reader.cursor == buffer.last_seq, "state did not shrink back"


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.integers(1, 6),
    ops=st.lists(appends | reads, max_size=60),
    drain_limit=st.integers(1, 7),
)
def test_with_overflow_dropped_plus_got_is_everything(
    capacity: int, ops: list[tuple[Any, ...]], drain_limit: int
) -> None:
    buffer = EventBuffer(capacity=capacity)
    reader = Reader(cursor=0)
    model = Model(capacity=capacity)
    for op in ops:
        if op[0] == "append":
            model.add(append(buffer, op))
        else:
            implicit_call(buffer, reader, model, op[1], op[2])
    final_drain(buffer, reader, model, drain_limit)
    check_once(model)
    assert model.reported_dropped + len(model.implicit) == len(model.appended)
    assert set(model.implicit) | model.lost == set(model.appended)


@settings(max_examples=100, deadline=None)
@given(
    ops=st.lists(appends | reads | waits, max_size=30),
    drain_limit=st.integers(1, 7),
)
def test_waits_with_arrivals_never_skip_and_never_repeat(
    ops: list[tuple[Any, ...]], drain_limit: int
) -> None:
    """``EventBuffer.wait`` on the reader's unseen-filter, with events arriving during the wait:
    it returns what a poll right after the arrivals would, and leaves the rest."""

    async def scenario() -> None:
        buffer = EventBuffer(capacity=1000)
        reader = Reader(cursor=0)
        model = Model(capacity=buffer.capacity)
        for op in ops:
            if op[0] == "append":
                model.add(append(buffer, op))
            elif op[0] == "read":
                implicit_call(buffer, reader, model, op[1], op[2])
            else:
                _, matches, limit, arrivals = op

                async def arrive(arrivals: list[tuple[Any, ...]] = arrivals) -> None:
                    await anyio.lowlevel.checkpoint()  # once the waiter is parked
                    for arrival in arrivals:
                        model.add(append(buffer, arrival))

                before = model.expect(matches, limit)
                async with anyio.create_task_group() as tg:
                    tg.start_soon(arrive)
                    read = await buffer.wait(reader.cursor, limit, reader.unseen(matches), 0.01)
                # A wait with something already there returns it without waiting; otherwise every
                # arrival lands in one step, so the wait sees them all at once.
                expected = before or model.expect(matches, limit)
                assert [e.seq for e in read.events] == expected
                reader.take(read.events, buffer)
                model.given.update(expected)
                model.implicit.extend(expected)
        final_drain(buffer, reader, model, drain_limit)
        check_once(model)
        assert model.given == set(model.appended)

    anyio.run(scenario)


# -- level 2: the MCP server, both eras, against the sandbox ---------------------------------------

ME = "agent"
LEVEL2_CHANNELS = ["general", "side", "dm"]
"""``dm`` stands for the DM channel between agent and alice (its name is the daemon's choice)."""
CHANNEL_FILTERS = ["general", "#general", "side", "#side", "dm", "#dm"]
TIMEOUTS = [0, 0.05, 0.15]


@dataclass
class World:
    sandbox: Sandbox
    alice: SharkfinClient
    dm: str
    posted: set[int] = field(default_factory=set)
    """Every message id posted by the examples run so far (posts, own posts and probes)."""

    def resolve(self, channel: str) -> str:
        """The ``dm`` placeholder as the DM channel's name, keeping a leading ``#``."""
        return channel.replace("dm", self.dm) if channel.removeprefix("#") == "dm" else channel


@asynccontextmanager
async def _world() -> AsyncIterator[World]:
    """One sandbox for the module: agent and alice in #general, the private #side and a DM."""
    async with Sandbox() as sandbox:
        async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key(ME)) as agent:
            await agent.join_channel("general")
            await agent.create_channel("side", False, ["alice"])
            dm = (await agent.dm_open("alice")).channel
        async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("alice")) as alice:
            await alice.join_channel("general")
            yield World(sandbox, alice, dm)


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[BlockingPortal, World]]:
    """Hypothesis drives examples synchronously; sandbox and alice live on a loop in a thread."""
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(_world()) as world:
        yield portal, world


def bare(channel: str | None) -> str | None:
    return channel.removeprefix("#") if channel else None


posts = st.tuples(st.sampled_from(["ws", "rest"]), st.sampled_from(LEVEL2_CHANNELS), st.booleans())
own_posts = st.tuples(st.just("own"), st.sampled_from(LEVEL2_CHANNELS))
polls = st.tuples(
    st.just("poll_events"),
    st.fixed_dictionaries(
        {},
        optional={
            "types": st.lists(st.sampled_from(["message.new", "presence", "connection"]), min_size=1),
            "channel": st.sampled_from(CHANNEL_FILTERS),
            "exclude_own": st.booleans(),
            "limit": st.integers(1, 4),
        },
    ),
)
event_waits = st.tuples(
    st.just("wait_for_events"),
    st.fixed_dictionaries(
        {"timeout_seconds": st.sampled_from(TIMEOUTS)},
        optional={
            "types": st.lists(st.sampled_from(["message.new", "presence", "connection"]), min_size=1),
            "channel": st.sampled_from(CHANNEL_FILTERS),
            "mentions_only": st.booleans(),
            "exclude_own": st.booleans(),
            "limit": st.integers(1, 4),
        },
    ),
)
message_waits = st.tuples(
    st.just("wait_for_messages"),
    st.fixed_dictionaries(
        {"timeout_seconds": st.sampled_from(TIMEOUTS)},
        optional={
            "channel": st.sampled_from(CHANNEL_FILTERS),
            "mentions_only": st.booleans(),
            "limit": st.integers(1, 4),
        },
    ),
)
steps = st.lists(posts | own_posts | polls | event_waits | message_waits, min_size=1, max_size=14)


def admitted(tool: str, args: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether ``event`` (as returned) passes the call's filters, from the tool descriptions."""
    types = ["message.new"] if tool == "wait_for_messages" else args.get("types")
    if types and event["type"] not in types:
        return False
    data = event["data"]
    channel = bare(args.get("channel"))
    if channel is not None and event.get("channel") != channel:
        return False
    own = event["type"] == "message.new" and data.get("from") == ME
    if args.get("mentions_only") and (ME not in (data.get("mentions") or []) or own):
        return False
    return not (own and (args.get("exclude_own") or tool == "wait_for_messages"))


@dataclass
class Run:
    posted: list[int] = field(default_factory=list)
    probes: list[int] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    earlier: set[int] = field(default_factory=set)
    """Ids posted by earlier examples before this server started: the start-up read delivers
    those sent within a second or so of the start (``Inbox.take_floor``, judged by ``sent_at``)."""
    calls: int = 0

    def took(self, tool: str, args: dict[str, Any], out: dict[str, Any]) -> None:
        self.calls += 1
        assert out["dropped"] == 0, out
        assert out.get("hint") is None or "no session" not in out["hint"], "this client has a session"
        for event in out["events"]:
            assert event["seq"] not in self.seqs, f"{tool}({args}) repeated event {event}"
            assert admitted(tool, args, event), f"{tool}({args}) returned an excluded event {event}"
            self.seqs.append(event["seq"])
            if event["type"] == "message.new":
                # The event names the channel; the row inside does not repeat it.
                assert event.get("channel") and "channel" not in event["data"], event
                self.messages.append(event)


async def settle(client: Client, world: World, run: Run) -> None:
    """Until a REST post arrives, so the script starts once the server delivers (start-up itself
    is test_delivery_startup.py's subject). The probe that arrived is part of the run; earlier
    ones may arrive or not."""
    with anyio.fail_after(10):
        while True:
            probe = (await world.alice.rest.send_message("general", "probe")).id
            run.probes.append(probe)
            with anyio.move_on_after(0.3):
                while probe not in {m["data"]["id"] for m in run.messages}:
                    run.took("poll_events", {}, await structured(client, "poll_events", {}))
                    await anyio.sleep(0.02)
                run.posted.append(probe)
                return


async def play(world: World, mode: str, script: list[tuple[Any, ...]]) -> Run:
    run = Run(earlier=set(world.posted))
    try:
        return await _play(world, mode, script, run)
    finally:
        world.posted |= set(run.posted) | set(run.probes)


async def _play(world: World, mode: str, script: list[tuple[Any, ...]], run: Run) -> Run:
    # A fresh server per example: its reader starts empty; of what is older, only what the
    # start-up read judges recent may come back (``Run.earlier``).
    server = build_server(agent_settings(world.sandbox, max_sends_per_minute=0))
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        await wait_ready(client)
        await settle(client, world, run)
        for n, step in enumerate(script):
            kind = step[0]
            if kind in ("ws", "rest"):
                _, channel, mention = step
                channel = world.resolve(channel)
                body = f"{kind} {n}" + (f" @{ME}" if mention else "")
                if kind == "ws":
                    run.posted.append(await world.alice.send_message(channel, body))
                else:
                    run.posted.append((await world.alice.rest.send_message(channel, body)).id)
            elif kind == "own":
                own = {"channel": world.resolve(step[1]), "body": f"own {n}"}
                sent = await structured(client, "send_message", own)
                run.posted.append(sent["id"])
            else:
                tool, args = step
                if "channel" in args:
                    args = {**args, "channel": world.resolve(args["channel"])}
                run.took(tool, args, await structured(client, tool, args))
        # The final drain: unfiltered polls until every post has arrived (REST posts arrive
        # through the notice feed and a history read, a moment after the post).
        with anyio.move_on_after(10):
            while not set(run.posted) <= {m["data"]["id"] for m in run.messages}:
                run.took("poll_events", {}, await structured(client, "poll_events", {"limit": 500}))
                await anyio.sleep(0.02)
        missing = set(run.posted) - {m["data"]["id"] for m in run.messages}
        assert not missing, f"never given to the reader, even by an unfiltered drain: {sorted(missing)}"
        await anyio.sleep(0.1)  # anything extra (a duplicate from a late push) would show now
        run.took("poll_events", {}, await structured(client, "poll_events", {"limit": 500}))
    return run


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=steps)
def test_through_mcp_every_message_once_whatever_the_filters(
    world: tuple[BlockingPortal, World], mode: str, script: list[tuple[Any, ...]]
) -> None:
    portal, state = world
    hypothesis.event(
        f"{len(script) // 5 * 5}-{len(script) // 5 * 5 + 4} steps"
    )  # the matrix size, in the statistics
    run = portal.call(play, state, mode, script)
    ids = [m["data"]["id"] for m in run.messages]
    assert len(ids) == len(set(ids)), f"a message was given twice: {ids}"
    assert set(run.posted) <= set(ids), "the union of what the reader got is not every message posted"
    nobody_posted = set(ids) - set(run.posted) - set(run.probes) - run.earlier
    assert not nobody_posted, f"the reader got messages nobody posted: {sorted(nobody_posted)}"
    for channel in ["general", "side", state.dm]:  # the buffer holds each channel's messages in id order
        in_order = [
            m["data"]["id"] for m in sorted(run.messages, key=lambda m: m["seq"]) if m["channel"] == channel
        ]
        assert in_order == sorted(in_order)
