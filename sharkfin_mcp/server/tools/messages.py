"""Messages: send, read history, read and mark unread (PROTOCOL.md §4.5, §5.3-§5.6)."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field

from ...client import Message, SharkfinClient
from .._render import clean, lines, unread_count_line
from .._results import (
    ChannelMessages,
    HistoryResult,
    MarkReadResult,
    SendResult,
    UnreadCountsResult,
    UnreadResult,
    message_row,
    render_messages,
    result,
)
from .._unread import collect_unread
from .._uris import UNREAD_URI
from ._params import Body, Channel, ChannelFilter, MentionsOnly, ThreadFilter
from ._spec import APPEND, READ, WRITE, Ctx, ToolSpec, runtime

__all__ = ["TOOLS"]

PAGE = 100
"""The daemon's largest history page (§5.5)."""


async def send_message(
    channel: Channel,
    body: Body,
    ctx: Ctx,
    thread_id: Annotated[int | None, Field(ge=1, description="Reply in this thread")] = None,
    metadata: Annotated[dict[str, Any] | None, Field(description="JSON object to store")] = None,
    idempotency_key: Annotated[
        str | None,
        Field(min_length=1, max_length=100, description="Max 100 chars; a retry never posts twice"),
    ] = None,
) -> Annotated[CallToolResult, SendResult]:
    """Post to a channel or DM; returns its id."""
    new_id, duplicate = await runtime(ctx).sending.send(
        channel, body, thread_id=thread_id, metadata=metadata, idempotency_key=idempotency_key
    )
    out = SendResult(id=new_id, channel=channel, thread_id=thread_id, duplicate=duplicate)
    where = f" in thread {thread_id}" if thread_id else ""
    note = " (already sent earlier with this idempotency_key)" if duplicate else ""
    return result(out, f"sent [{new_id}] to #{clean(channel)}{where}{note}")


async def _page(
    client: SharkfinClient,
    channel: str,
    before: int | None,
    after: int | None,
    limit: int,
    thread_id: int | None,
) -> tuple[list[Message], bool]:
    """A history page and whether older messages exist. One extra message is asked for where the
    daemon allows it, so ``next_before`` is only offered when there really is more."""
    if after == 0 and before is None:
        return await _from_start(client, channel, limit, thread_id), False
    if after is not None and before is None:
        return await client.history(channel, after=after, limit=limit, thread_id=thread_id), False
    ask = min(limit + 1, PAGE)
    found = await client.history(channel, before=before, limit=ask, thread_id=thread_id)
    if len(found) > limit:
        return found[-limit:], True
    return found, len(found) == limit == PAGE


async def _from_start(
    client: SharkfinClient, channel: str, limit: int, thread_id: int | None
) -> list[Message]:
    """The oldest ``limit`` messages (``after=0``). The daemon reads ``after=0`` as no cursor at
    all (§5.5), so this pages back from the newest to the first message."""
    page = await client.history(channel, limit=PAGE, thread_id=thread_id)
    oldest = page
    while len(page) == PAGE and page[0].id:
        page = await client.history(channel, before=page[0].id, limit=PAGE, thread_id=thread_id)
        oldest = (page + oldest)[:limit]
    return oldest[:limit]


async def history(
    channel: Channel,
    ctx: Ctx,
    before: Annotated[int | None, Field(ge=1, description="Ids below this")] = None,
    after: Annotated[int | None, Field(ge=0, description="Ids above this; 0 = oldest")] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="1-100")] = 30,
    thread_id: ThreadFilter = None,
) -> Annotated[CallToolResult, HistoryResult]:
    """A channel's messages, oldest first; page back with next_before."""
    found, more = await runtime(ctx).call(lambda c: _page(c, channel, before, after, limit, thread_id))
    messages = [message_row(m) for m in found]
    out = HistoryResult(messages=messages, next_before=messages[0]["id"] if more and messages else None)
    tail = f"\n(more: before={out.next_before})" if out.next_before else ""
    return result(out, render_messages(messages, channel) + tail)


async def unread_messages(
    ctx: Ctx,
    channel: ChannelFilter = None,
    mentions_only: MentionsOnly = False,
    thread_id: ThreadFilter = None,
    limit: Annotated[int, Field(ge=1, le=200, description="1-200")] = 50,
) -> Annotated[CallToolResult, UnreadResult]:
    """Unread messages from others; marks none read (mark_read does)."""
    rt = runtime(ctx)
    me = (await rt.me()).username
    unread, remaining = await rt.call(
        lambda c: collect_unread(c, me, channel, mentions_only, thread_id, limit)
    )
    grouped: dict[str, list[dict[str, Any]]] = {}
    for name, row in unread:
        grouped.setdefault(name, []).append(row)
    out = UnreadResult(
        channels=[ChannelMessages(channel=name, messages=rows) for name, rows in grouped.items()],
        remaining=remaining,
    )
    text = "\n".join(render_messages(rows, name) for name, rows in grouped.items()) or "no unread messages"
    if remaining:
        text += f"\n({remaining} more unread; mark these read or page with history)"
    return result(out, text)


async def unread_counts(ctx: Ctx) -> Annotated[CallToolResult, UnreadCountsResult]:
    """Unread and mention counts per channel."""
    counts = await runtime(ctx).call(lambda c: c.unread_counts())
    return result(UnreadCountsResult(counts=counts), lines(counts, unread_count_line, "nothing unread"))


async def mark_read(
    channel: Channel,
    ctx: Ctx,
    message_id: Annotated[int | None, Field(ge=1, description="Default: all")] = None,
) -> Annotated[CallToolResult, MarkReadResult]:
    """Mark a channel read up to message_id."""
    rt = runtime(ctx)
    await rt.call(lambda c: c.mark_read(channel, message_id))
    await rt.notifier.resources_updated(UNREAD_URI)
    text = f"marked #{clean(channel)} read" + (f" up to {message_id}" if message_id else "")
    return result(MarkReadResult(channel=channel, message_id=message_id), text)


TOOLS = [
    ToolSpec(send_message, APPEND, core=True),
    ToolSpec(history, READ, core=True),
    ToolSpec(unread_messages, READ, core=True),
    ToolSpec(unread_counts, READ, core=True),
    ToolSpec(mark_read, WRITE, core=True),
]
