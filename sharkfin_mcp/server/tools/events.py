"""The event stream: poll or wait for messages and other events (see ``_readers`` for whose
cursor a call without ``after`` uses, and ``_inbox`` for how messages get into the buffer)."""

from __future__ import annotations

from typing import Annotated

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult

from .._buffer import BufferedEvent, Predicate, ReadResult
from .._results import EventOut, EventsResult, result
from .._runtime import Runtime
from ._params import After, ChannelFilter, EventLimit, EventType, ExcludeOwn, MentionsOnly, Timeout, Types
from ._spec import CURSOR, Ctx, ToolSpec, runtime

__all__ = ["PROGRESS_EVERY", "TOOLS"]

PROGRESS_EVERY = 5.0
"""Seconds between progress notifications during a wait (for clients that asked for them)."""


async def poll_events(
    ctx: Ctx,
    after: After = None,
    limit: EventLimit = 100,
    types: Types = None,
    channel: ChannelFilter = None,
    exclude_own: ExcludeOwn = False,
) -> Annotated[CallToolResult, EventsResult]:
    """Events not yet given to you (or after a cursor), without waiting."""
    rt = runtime(ctx)
    matches = await _matcher(rt, types, channel, mentions_only=False, others_only=exclude_own)
    return await _events(rt, ctx, after, limit, matches, wait=None)


async def wait_for_events(
    ctx: Ctx,
    after: After = None,
    timeout_seconds: Timeout = 25,
    types: Types = None,
    channel: ChannelFilter = None,
    mentions_only: MentionsOnly = False,
    exclude_own: ExcludeOwn = False,
    limit: EventLimit = 100,
) -> Annotated[CallToolResult, EventsResult]:
    """Like poll_events, but waits for a matching event; on timed_out, call again."""
    rt = runtime(ctx)
    matches = await _matcher(rt, types, channel, mentions_only=mentions_only, others_only=exclude_own)
    return await _events(rt, ctx, after, limit, matches, wait=timeout_seconds)


async def wait_for_messages(
    ctx: Ctx,
    after: After = None,
    timeout_seconds: Timeout = 25,
    channel: ChannelFilter = None,
    mentions_only: MentionsOnly = False,
    limit: EventLimit = 100,
) -> Annotated[CallToolResult, EventsResult]:
    """Wait for new messages from others; on timed_out, call again."""
    rt = runtime(ctx)
    own = not rt.settings.exclude_own_messages
    matches = await _matcher(rt, ["message.new"], channel, mentions_only=mentions_only, others_only=not own)
    return await _events(rt, ctx, after, limit, matches, wait=timeout_seconds)


async def _known_channel(rt: Runtime, channel: str) -> bool:
    """Whether ``channel`` names a channel or DM: the inbox's own first (no daemon call), then
    the channel list, and the DM list only when the channel list has not got it."""
    if channel in rt.inbox.marks or channel in rt.inbox.dms:
        return True
    if channel in {c.name for c in await rt.call(lambda c: c.channels())}:
        return True
    return channel in {d.channel for d in await rt.call(lambda c: c.dm_list())}


async def _matcher(
    rt: Runtime,
    types: list[EventType] | list[str] | None,
    channel: str | None,
    *,
    mentions_only: bool,
    others_only: bool,
) -> Predicate:
    """The filter of one call; an unknown channel is refused rather than waited on for ever."""
    wanted = set(types) if types else None
    if channel is not None and not await _known_channel(rt, channel):
        raise ToolError(
            f"unknown channel in the channel filter: {channel!r}; leave channel out to get "
            "every channel, or use a name from channel_list or dm_list"
        )

    def matches(event: BufferedEvent) -> bool:
        if wanted is not None and event.type not in wanted:
            return False
        if channel is not None and event.channel != channel:
            return False
        if mentions_only and not event.mentions_me:
            return False
        return not ((others_only or mentions_only) and event.from_self)

    return matches


async def _events(
    rt: Runtime, ctx: Ctx, after: int | None, limit: int, matches: Predicate, *, wait: float | None
) -> CallToolResult:
    """One poll or wait: from ``after`` when given, else as this client's reader (see _readers)."""
    reader = rt.readers.reader(ctx.session)
    if after is not None:
        start = after
    elif reader is not None:
        start, matches = reader.cursor, reader.unseen(matches)
    else:
        start = rt.buffer.last_seq
    if wait is None:
        read = rt.buffer.read(start, limit, matches)
    else:
        read = await _wait(rt, ctx, start, limit, matches, wait)
    # What an explicit cursor returned counts as given too: the client's next call without one
    # does not repeat it.
    if reader is None or after is not None:
        dropped = read.dropped
        if reader is not None:
            reader.record(read.events)
    else:
        dropped = reader.take(read.events, rt.buffer)
    hint = None
    if after is None and reader is None:
        hint = "this request has no session: pass after=next_after on the next call to continue"
    elif wait is not None and not read.events:
        hint = "timed out with nothing new: call again"
    timed_out = wait is not None and not read.events
    return _events_result(ReadResult(read.events, read.cursor, dropped), timed_out=timed_out, hint=hint)


async def _wait(
    rt: Runtime, ctx: Ctx, after: int, limit: int, matches: Predicate, seconds: float
) -> ReadResult:
    """Wait in slices so progress can be reported; a client without a progress token gets none."""
    deadline = anyio.current_time() + seconds
    read = rt.buffer.read(after, limit, matches)
    dropped = read.dropped
    while not read.events:
        left = deadline - anyio.current_time()
        if left <= 0:
            break
        read = await rt.buffer.wait(read.cursor, limit, matches, min(left, PROGRESS_EVERY))
        dropped += read.dropped
        if not read.events and deadline - anyio.current_time() > 0:
            await ctx.report_progress(seconds - (deadline - anyio.current_time()), seconds, "waiting")
    return ReadResult(events=read.events, cursor=read.cursor, dropped=dropped)


def _events_result(read: ReadResult, *, timed_out: bool, hint: str | None) -> CallToolResult:
    events = [EventOut.of(e) for e in read.events]
    out = EventsResult(
        events=events, next_after=read.cursor, dropped=read.dropped, timed_out=timed_out, hint=hint
    )
    lines = [e.line() for e in events]
    if read.dropped:
        lines.insert(0, f"({read.dropped} events were dropped from the buffer before you read them)")
    if not events:
        lines.append("no new events" + (" (timed out; call again)" if timed_out else ""))
    lines.append(f"next_after={read.cursor}")
    return result(out, "\n".join(lines))


TOOLS = [
    ToolSpec(poll_events, CURSOR, core=True),
    ToolSpec(wait_for_events, CURSOR),
    ToolSpec(wait_for_messages, CURSOR, core=True),
]
