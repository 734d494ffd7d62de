"""The tools: thin adapters from MCP arguments to client calls and from models to results.

Each tool's description is written for the model that reads it: what it does, what it costs,
what it changes. Message bodies are other parties' words; the server instructions say so.
"""

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar, cast

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BeforeValidator, Field

from ..client import Message, ServerError, SharkfinClient
from ._arguments import add_tool
from ._buffer import BufferedEvent, Predicate, ReadResult
from ._errors import admin_note
from ._render import (
    channel_line,
    clean,
    dm_line,
    group_detail,
    group_line,
    lines,
    settings_lines,
    unread_count_line,
    user_line,
    webhook_line,
)
from ._results import (
    Done,
    EventOut,
    EventsResult,
    HistoryResult,
    ItemsResult,
    SendResult,
    UnreadResult,
    message_row,
    render_messages,
    result,
)
from ._runtime import Runtime
from ._unread import collect_unread
from ._uris import UNREAD_URI

__all__ = ["CORE_TOOLS", "register_tools"]

def _without(prefix: str) -> BeforeValidator:
    """Agents write channels as ``#general`` and people as ``@alice`` (our own text output does):
    accept those as the bare names."""
    return BeforeValidator(lambda v: v[1:] if isinstance(v, str) and v.startswith(prefix) else v)


# The validator comes after Field: pydantic then keeps the constraints in the JSON schema too.
Channel = Annotated[
    str,
    Field(min_length=1, max_length=200, description="Channel name, e.g. general or #general"),
    _without("#"),
]
ChannelFilter = Annotated[
    str | None,
    Field(max_length=200, description="Only this channel (a name you are a member of)"),
    _without("#"),
]
Username = Annotated[
    str,
    Field(min_length=1, max_length=200, description="Sharkfin username, e.g. alice or @alice"),
    _without("@"),
]
Slug = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[a-zA-Z0-9_-]+$",
        description="Group slug, e.g. backend or @backend",
    ),
    _without("@"),
]
Body = Annotated[
    str, Field(max_length=32_000, description="Message text, ≤32000 chars; @username mentions a user")
]

READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
APPEND = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
REMOVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)
CURSOR = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
"""Reads that move this session's event cursor (server-side only; nothing changes on Sharkfin)."""
EXTERNAL = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)

F = TypeVar("F", bound=Callable[..., Any])

PROGRESS_EVERY = 5.0
"""Seconds between progress notifications during a wait (for clients that asked for them)."""

EventType = Literal["message.new", "presence", "capabilities", "connection", "events.dropped", "gap"]
After = Annotated[
    int | None,
    Field(ge=0, description="Cursor: next_after from your last call (0 = oldest buffered); default: "
          "everything you have not been given yet"),
]
Timeout = Annotated[float, Field(ge=0, le=50, description="Seconds to wait, at most 50")]
Types = Annotated[list[EventType] | None, Field(description="Only these event types")]


def _rt(ctx: Context) -> Runtime:
    return cast(Runtime, ctx.request_context.lifespan_context)


def _done(detail: str) -> CallToolResult:
    return result(Done(detail=detail), detail)


CORE_TOOLS = frozenset(
    {
        "send_message",
        "history",
        "unread_messages",
        "unread_counts",
        "mark_read",
        "dm_open",
        "dm_list",
        "channel_list",
        "channel_join",
        "user_list",
        "whoami",
        "poll_events",
        "wait_for_events",
        "wait_for_messages",
    }
)
"""The ``core`` profile: what an agent needs to converse, at about half the catalogue's tokens."""

Include = Callable[[str, ToolAnnotations], bool]


def _everything(name: str, annotations: ToolAnnotations) -> bool:
    return True


def register_tools(mcp: MCPServer[Any], include: Include = _everything) -> None:
    """Register every tool that ``include`` admits (read-only mode and profiles filter here)."""

    def tool(annotations: ToolAnnotations) -> Callable[[F], F]:
        def decorate(fn: F) -> F:
            if include(fn.__name__, annotations):
                # One plain paragraph: docstring indentation is tokens the model pays for.
                description = " ".join((fn.__doc__ or "").split())
                add_tool(mcp, fn, annotations=annotations, description=description)
            return fn

        return decorate

    # -- messages ------------------------------------------------------------------------------

    @tool(APPEND)
    async def send_message(
        channel: Channel,
        body: Body,
        ctx: Context,
        thread_id: Annotated[
            int | None, Field(ge=1, description="Reply in the thread of this top-level message id")
        ] = None,
        metadata: Annotated[
            dict[str, Any] | None, Field(description="Optional JSON object stored with the message")
        ] = None,
        idempotency_key: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=100,
                description="Any unique string, ≤100 chars; retrying with the same key within 10 "
                "minutes never posts twice, even if the first reply was lost",
            ),
        ] = None,
    ) -> Annotated[CallToolResult, SendResult]:
        """Post a message to a channel or DM channel you are a member of; returns its id.
        Threads are one level deep: thread_id must be a top-level message. Pass an
        idempotency_key when you might retry."""
        new_id, duplicate = await _rt(ctx).send(
            channel, body, thread_id=thread_id, metadata=metadata, idempotency_key=idempotency_key
        )
        out = SendResult(id=new_id, channel=channel, thread_id=thread_id, duplicate=duplicate)
        where = f" in thread {thread_id}" if thread_id else ""
        note = " (already sent earlier with this idempotency_key)" if duplicate else ""
        return result(out, f"sent [{new_id}] to #{clean(channel)}{where}{note}")

    @tool(READ)
    async def history(
        channel: Channel,
        ctx: Context,
        before: Annotated[int | None, Field(ge=1, description="Only messages with id < before")] = None,
        after: Annotated[
            int | None, Field(ge=0, description="Only messages with id > after; 0 = from the start")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="How many messages (1-100)")] = 30,
        thread_id: Annotated[int | None, Field(ge=1, description="Only the replies to this message")] = None,
    ) -> Annotated[CallToolResult, HistoryResult]:
        """Read a channel's messages, oldest first: the newest `limit`, or those before/after an id
        (before wins if both are given). Does not change unread state. Page back with
        before=next_before."""
        rt = _rt(ctx)
        if after == 0 and before is None:
            found = await rt.call(lambda c: _from_start(c, channel, limit, thread_id))
        else:
            found = await rt.call(
                lambda c: c.history(channel, before=before, after=after, limit=limit, thread_id=thread_id)
            )
        messages = [message_row(m, channel) for m in found]
        more = len(messages) == limit and after is None
        out = HistoryResult(
            channel=channel, messages=messages, next_before=messages[0]["id"] if more else None
        )
        tail = f"\n(more: before={out.next_before})" if out.next_before else ""
        return result(out, render_messages(messages) + tail)

    @tool(READ)
    async def unread_messages(
        ctx: Context,
        channel: ChannelFilter = None,
        mentions_only: Annotated[bool, Field(description="Only messages that mention you")] = False,
        thread_id: Annotated[int | None, Field(ge=1, description="Only replies to this message")] = None,
        limit: Annotated[
            int, Field(ge=1, le=200, description="At most this many, 1-200 (oldest first)")
        ] = 50,
    ) -> Annotated[CallToolResult, UnreadResult]:
        """Unread messages from others, oldest first, each with its id. This only reads: nothing
        is marked read, so nothing is lost if you stop halfway. When you have handled messages,
        call mark_read(channel, message_id) with the newest id you handled in that channel."""
        rt = _rt(ctx)
        me = (await rt.me()).username
        unread, remaining = await rt.call(
            lambda c: collect_unread(c, me, channel, mentions_only, thread_id, limit)
        )
        out = UnreadResult(messages=unread, remaining=remaining)
        text = render_messages(unread, "no unread messages")
        if remaining:
            text += f"\n({remaining} more unread; mark these read or page with history)"
        return result(out, text)

    @tool(READ)
    async def unread_counts(ctx: Context) -> Annotated[CallToolResult, ItemsResult]:
        """Unread and mention counts per channel (only channels with something unread)."""
        counts = await _rt(ctx).call(lambda c: c.unread_counts())
        rows = [c.model_dump() for c in counts]
        return result(ItemsResult(items=rows), lines(counts, unread_count_line, "nothing unread"))

    @tool(WRITE)
    async def mark_read(
        channel: Channel,
        ctx: Context,
        message_id: Annotated[
            int | None, Field(ge=1, description="Mark read up to and including this id; default: all")
        ] = None,
    ) -> Annotated[CallToolResult, Done]:
        """Mark a channel read up to message_id (or entirely). The read position only moves forward."""
        rt = _rt(ctx)
        await rt.call(lambda c: c.mark_read(channel, message_id))
        await rt.resources_updated(UNREAD_URI)
        return _done(f"marked #{clean(channel)} read" + (f" up to {message_id}" if message_id else ""))

    # -- direct messages -------------------------------------------------------------------------

    @tool(WRITE)
    async def dm_open(username: Username, ctx: Context) -> Annotated[CallToolResult, ItemsResult]:
        """Open (or find) the direct-message channel with a user; send to it with send_message."""
        dm = await _rt(ctx).call(lambda c: c.dm_open(username))
        state = "created" if dm.created else "existing"
        text = f"#{clean(dm.channel)} ({state}) with {clean(username)}"
        return result(ItemsResult(items=[dm.model_dump()]), text)

    @tool(READ)
    async def dm_list(ctx: Context) -> Annotated[CallToolResult, ItemsResult]:
        """Your direct-message channels and who is on the other side."""
        dms = await _rt(ctx).call(lambda c: c.dm_list())
        return result(ItemsResult(items=[d.model_dump() for d in dms]), lines(dms, dm_line, "no DMs"))

    # -- channels ---------------------------------------------------------------------------------

    @tool(READ)
    async def channel_list(ctx: Context) -> Annotated[CallToolResult, ItemsResult]:
        """All channels (not DMs): name, public or private, and whether you are a member."""
        channels = await _rt(ctx).call(lambda c: c.channels())
        rows = [c.model_dump(exclude={"id"}) for c in channels]
        return result(ItemsResult(items=rows), lines(channels, channel_line, "no channels"))

    @tool(APPEND)
    async def channel_create(
        name: Channel,
        ctx: Context,
        public: Annotated[bool, Field(description="Anyone may join a public channel")] = True,
        members: Annotated[list[Username] | None, Field(description="Users to add besides you")] = None,
    ) -> Annotated[CallToolResult, Done]:
        """Create a channel; you become a member. Needs the create_channel permission."""
        await _rt(ctx).call(lambda c: c.create_channel(name, public, members))
        return _done(f"created #{clean(name)} ({'public' if public else 'private'})")

    @tool(WRITE)
    async def channel_join(channel: Channel, ctx: Context) -> Annotated[CallToolResult, Done]:
        """Join a public channel (needed before reading history or sending). Private channels
        need an invite (channel_invite by a member); DMs are opened with dm_open."""
        rt = _rt(ctx)
        listed = {c.name: c for c in await rt.call(lambda c: c.channels())}
        found = listed.get(channel)
        if found is None:
            raise ToolError(f"channel not found: {channel} (see channel_list; for a DM use dm_open)")
        if found.member:
            return _done(f"already a member of #{clean(channel)}")
        if not found.public:
            raise ToolError(
                f"#{channel} is private and requires an invite: ask a member to channel_invite you"
            )
        await rt.call(lambda c: c.join_channel(channel))
        return _done(f"joined #{clean(channel)}")

    @tool(WRITE)
    async def channel_invite(
        channel: Channel, username: Username, ctx: Context
    ) -> Annotated[CallToolResult, Done]:
        """Add a user to a channel you are a member of (the way into private channels). Inviting
        someone who is already a member succeeds and says so."""
        added = await _rt(ctx).call(lambda c: _invite(c, channel, username))
        if not added:
            return _done(f"{clean(username)} is already a member of #{clean(channel)}")
        return _done(f"invited {clean(username)} to #{clean(channel)}")

    # -- people and state -----------------------------------------------------------------------

    @tool(READ)
    async def user_list(ctx: Context) -> Annotated[CallToolResult, ItemsResult]:
        """Everyone on this Sharkfin: username, type, online, and active/idle state when online."""
        users = await _rt(ctx).call(lambda c: c.users())
        rows = [u.model_dump(exclude_none=True) for u in users]
        return result(ItemsResult(items=rows), lines(users, user_line, "no users"))

    @tool(WRITE)
    async def set_state(
        state: Annotated[Literal["active", "idle"], Field(description="active or idle")], ctx: Context
    ) -> Annotated[CallToolResult, Done]:
        """Tell others whether you are actively working (active) or waiting (idle)."""
        await _rt(ctx).call(lambda c: c.set_state(state))
        return _done(f"state set to {state}")

    @tool(READ)
    async def capabilities(ctx: Context) -> Annotated[CallToolResult, ItemsResult]:
        """The permissions your Sharkfin role grants."""
        perms = await _rt(ctx).call(lambda c: c.capabilities())
        text = ", ".join(clean(p) for p in perms) or "none"
        return result(ItemsResult(items=[{"permission": p} for p in perms]), text)

    @tool(READ)
    async def whoami(ctx: Context) -> Annotated[CallToolResult, ItemsResult]:
        """Who this server acts as on Sharkfin: username, type, role, permissions, connection."""
        rt = _rt(ctx)
        me = await rt.me()
        perms = await rt.call(lambda c: c.capabilities())
        info = {
            "username": me.username,
            "type": me.type,
            "role": me.role,
            "permissions": perms,
            "url": rt.client.url,
            "connected": rt.client.connected,
            "online": bool(rt.presence and rt.presence.online),
            "admin_tools": rt.settings.admin_tools,
        }
        text = (
            f"{clean(me.username)} ({clean(me.type)}, role {clean(me.role)}) on {clean(rt.client.url)}; "
            "permissions: " + ", ".join(clean(p) for p in perms) + admin_note(perms, rt.settings.admin_tools)
        )
        return result(ItemsResult(items=[info]), text)

    # -- mention groups ---------------------------------------------------------------------------

    @tool(APPEND)
    async def mention_group_create(slug: Slug, ctx: Context) -> Annotated[CallToolResult, Done]:
        """Create a mention group: @slug in a message then mentions all its members."""
        group_id = await _rt(ctx).call(lambda c: c.create_mention_group(slug))
        return _done(f"created @{clean(slug)} (id {group_id})")

    @tool(REMOVE)
    async def mention_group_delete(slug: Slug, ctx: Context) -> Annotated[CallToolResult, Done]:
        """Delete a mention group you created."""
        await _rt(ctx).call(lambda c: c.delete_mention_group(slug))
        return _done(f"deleted @{clean(slug)}")

    @tool(READ)
    async def mention_group_get(slug: Slug, ctx: Context) -> Annotated[CallToolResult, ItemsResult]:
        """One mention group with its members."""
        group = await _rt(ctx).call(lambda c: c.get_mention_group(slug))
        return result(ItemsResult(items=[group.model_dump(mode="json")]), group_detail(group))

    @tool(READ)
    async def mention_group_list(ctx: Context) -> Annotated[CallToolResult, ItemsResult]:
        """All mention groups."""
        groups = await _rt(ctx).call(lambda c: c.list_mention_groups())
        rows = [g.model_dump(mode="json") for g in groups]
        return result(ItemsResult(items=rows), lines(groups, group_line, "none"))

    @tool(WRITE)
    async def mention_group_add_member(
        slug: Slug, username: Username, ctx: Context
    ) -> Annotated[CallToolResult, Done]:
        """Add a user to a mention group you created."""
        await _rt(ctx).call(lambda c: c.add_mention_group_member(slug, username))
        return _done(f"added {clean(username)} to @{clean(slug)}")

    @tool(REMOVE)
    async def mention_group_remove_member(
        slug: Slug, username: Username, ctx: Context
    ) -> Annotated[CallToolResult, Done]:
        """Remove a user from a mention group you created."""
        await _rt(ctx).call(lambda c: c.remove_mention_group_member(slug, username))
        return _done(f"removed {clean(username)} from @{clean(slug)}")

    # -- webhooks and settings ------------------------------------------------------------------

    @tool(EXTERNAL)
    async def register_webhook(
        url: Annotated[
            str,
            Field(
                min_length=1, max_length=2000, pattern=r"^https?://", description="http(s) URL, ≤2000 chars"
            ),
        ],
        ctx: Context,
    ) -> Annotated[CallToolResult, Done]:
        """Have Sharkfin POST every message in your channels to a URL (fires only for service
        identities). Returns the webhook id; registering the same URL again returns the same id."""
        webhook_id = await _rt(ctx).call(lambda c: c.register_webhook(url))
        return result(Done(detail=webhook_id), f"webhook id {clean(webhook_id)}")

    @tool(REMOVE)
    async def unregister_webhook(
        webhook_id: Annotated[str, Field(min_length=1, max_length=100, description="Id from list_webhooks")],
        ctx: Context,
    ) -> Annotated[CallToolResult, Done]:
        """Delete one of your webhooks by id (an id that is not one of yours is an error)."""
        rt = _rt(ctx)
        # The daemon answers 204 to any id (PROTOCOL.md §6), so look first.
        if webhook_id not in {h.id for h in await rt.call(lambda c: c.list_webhooks())}:
            raise ToolError(
                f"webhook id {webhook_id} is unknown: it is not one of your active webhooks "
                "(list_webhooks shows them); nothing was removed"
            )
        await rt.call(lambda c: c.unregister_webhook(webhook_id))
        return _done(f"webhook {clean(webhook_id)} removed")

    @tool(READ)
    async def list_webhooks(ctx: Context) -> Annotated[CallToolResult, ItemsResult]:
        """Your active webhooks."""
        hooks = await _rt(ctx).call(lambda c: c.list_webhooks())
        rows = [h.model_dump() for h in hooks]
        return result(ItemsResult(items=rows), lines(hooks, webhook_line, "no webhooks"))

    @tool(READ)
    async def get_settings(ctx: Context) -> Annotated[CallToolResult, ItemsResult]:
        """Sharkfin's global settings (needs the manage_roles permission)."""
        settings = await _rt(ctx).call(lambda c: c.get_settings())
        return result(ItemsResult(items=[settings]), settings_lines(settings))

    @tool(REMOVE)
    async def set_setting(
        key: Annotated[
            str, Field(min_length=1, max_length=200, description="Setting name, e.g. webhook_url")
        ],
        value: Annotated[str, Field(max_length=4000, description="New value, ≤4000 chars")],
        ctx: Context,
    ) -> Annotated[CallToolResult, Done]:
        """Set one global setting, replacing its value (needs manage_roles). webhook_url sets the
        daemon's legacy global webhook."""
        await _rt(ctx).call(lambda c: c.set_setting(key, value))
        return _done(f"{clean(key)} set")

    # -- events ---------------------------------------------------------------------------------

    @tool(CURSOR)
    async def poll_events(
        ctx: Context,
        after: After = None,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many events (1-500)")] = 100,
        types: Types = None,
        channel: ChannelFilter = None,
        exclude_own: Annotated[bool, Field(description="Leave out the messages you sent")] = False,
    ) -> Annotated[CallToolResult, EventsResult]:
        """Return buffered events without waiting: new messages (message.new), presence,
        capabilities, connection changes. Without after, returns what you have not been given yet
        (filters and limit never skip anything for later calls); with after=next_after, continues
        that query. Says how many were dropped if the buffer overflowed."""
        rt = _rt(ctx)
        matches = await _matcher(rt, types, channel, mentions_only=False, others_only=exclude_own)
        return await _events(rt, ctx, after, limit, matches, wait=None)

    @tool(CURSOR)
    async def wait_for_events(
        ctx: Context,
        after: After = None,
        timeout_seconds: Timeout = 25,
        types: Types = None,
        channel: ChannelFilter = None,
        mentions_only: Annotated[bool, Field(description="Only messages that mention you")] = False,
        exclude_own: Annotated[bool, Field(description="Leave out the messages you sent")] = False,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many events (1-500)")] = 100,
    ) -> Annotated[CallToolResult, EventsResult]:
        """Wait until a matching event exists, then return at once; after timeout_seconds return
        an empty result (timed_out=true): call again. Cursor as in poll_events. Other tool calls
        keep working while this waits."""
        rt = _rt(ctx)
        matches = await _matcher(rt, types, channel, mentions_only=mentions_only, others_only=exclude_own)
        return await _events(rt, ctx, after, limit, matches, wait=timeout_seconds)

    @tool(CURSOR)
    async def wait_for_messages(
        ctx: Context,
        after: After = None,
        timeout_seconds: Timeout = 25,
        channel: ChannelFilter = None,
        mentions_only: Annotated[bool, Field(description="Only messages that mention you")] = False,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many messages (1-500)")] = 100,
    ) -> Annotated[CallToolResult, EventsResult]:
        """Wait for new messages from others (however they were posted), returning as soon as any
        arrive, or empty after timeout_seconds: then call again, passing next_after as after.
        What a filter or the limit leaves out stays for your next call. Does not mark anything
        read."""
        rt = _rt(ctx)
        own = not rt.settings.exclude_own_messages
        matches = await _matcher(
            rt, ["message.new"], channel, mentions_only=mentions_only, others_only=not own
        )
        return await _events(rt, ctx, after, limit, matches, wait=timeout_seconds)


ALREADY_MEMBER = "UNIQUE constraint failed: channel_members."
"""The store error the daemon sends when the invitee is already a member (PROTOCOL.md §4.5)."""


async def _invite(client: SharkfinClient, channel: str, username: str) -> bool:
    """Invite; False if ``username`` was a member already (an idempotent success)."""
    try:
        await client.invite_to_channel(channel, username)
    except ServerError as exc:
        if ALREADY_MEMBER in exc.message:
            return False
        raise
    return True


async def _from_start(
    client: SharkfinClient, channel: str, limit: int, thread_id: int | None
) -> list[Message]:
    """The oldest ``limit`` messages (``after=0``). The daemon reads ``after=0`` as no cursor at
    all (PROTOCOL.md §5.5), so this pages back from the newest to the first message."""
    page = await client.history(channel, limit=100, thread_id=thread_id)
    oldest = page
    while len(page) == 100 and page[0].id:
        page = await client.history(channel, before=page[0].id, limit=100, thread_id=thread_id)
        oldest = (page + oldest)[:limit]
    return oldest[:limit]


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
    if channel is not None and channel not in rt.inbox.marks:
        known = await rt.call(lambda c: c.channels())
        dms = await rt.call(lambda c: c.dm_list())
        if channel not in {c.name for c in known} | {d.channel for d in dms}:
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
    rt: Runtime, ctx: Context, after: int | None, limit: int, matches: Predicate, *, wait: float | None
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
    taken = reader.take(read.events, rt.buffer) if reader is not None else 0
    dropped = read.dropped if after is not None else taken
    hint = None
    if after is None and reader is None:
        hint = "this request has no session: pass after=next_after on the next call to continue"
    elif wait is not None and not read.events:
        hint = "timed out with nothing new: call again"
    timed_out = wait is not None and not read.events
    return _events_result(ReadResult(read.events, read.cursor, dropped), timed_out=timed_out, hint=hint)


async def _wait(
    rt: Runtime, ctx: Context, after: int, limit: int, matches: Predicate, seconds: float
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
