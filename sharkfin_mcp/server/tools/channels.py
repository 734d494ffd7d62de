"""Channels and direct messages (PROTOCOL.md §4.5, §5.1, §5.2)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from ...client import DMOpened, ServerError, SharkfinClient
from .._render import channel_line, clean, dm_line, lines
from .._results import ChannelCreateResult, ChannelsResult, DMListResult, InviteResult, JoinResult, result
from ._params import Channel, NewChannel, Username
from ._spec import APPEND, READ, WRITE, Ctx, ToolSpec, runtime

__all__ = ["TOOLS"]

ALREADY_MEMBER = "UNIQUE constraint failed: channel_members."
"""The store error the daemon sends when the invitee is already a member (PROTOCOL.md §4.5)."""


async def channel_list(ctx: Ctx) -> Annotated[CallToolResult, ChannelsResult]:
    """All channels (not DMs)."""
    channels = await runtime(ctx).call(lambda c: c.channels())
    return result(ChannelsResult(channels=channels), lines(channels, channel_line, "no channels"))


async def channel_create(
    name: NewChannel,
    ctx: Ctx,
    public: Annotated[bool, Field(description="Anyone may join")] = True,
    members: Annotated[list[Username] | None, Field(description="Users to add")] = None,
) -> Annotated[CallToolResult, ChannelCreateResult]:
    """Create a channel and join it."""
    await runtime(ctx).call(lambda c: c.create_channel(name, public, members))
    out = ChannelCreateResult(channel=name, public=public, members=members or [])
    return result(out, f"created #{clean(name)} ({'public' if public else 'private'})")


async def channel_join(channel: Channel, ctx: Ctx) -> Annotated[CallToolResult, JoinResult]:
    """Join a public channel."""
    rt = runtime(ctx)
    listed = {c.name: c for c in await rt.call(lambda c: c.channels())}
    found = listed.get(channel)
    if found is None:
        raise ToolError(f"channel not found: {channel} (see channel_list; for a DM use dm_open)")
    if found.member:
        return result(JoinResult(channel=channel, joined=False), f"already a member of #{clean(channel)}")
    if not found.public:
        raise ToolError(f"#{channel} is private and requires an invite: ask a member to channel_invite you")
    await rt.call(lambda c: c.join_channel(channel))
    return result(JoinResult(channel=channel, joined=True), f"joined #{clean(channel)}")


async def _invite(client: SharkfinClient, channel: str, username: str) -> bool:
    """Invite; False if ``username`` was a member already (an idempotent success)."""
    try:
        await client.invite_to_channel(channel, username)
    except ServerError as exc:
        if ALREADY_MEMBER in exc.message:
            return False
        raise
    return True


async def channel_invite(
    channel: Channel, username: Username, ctx: Ctx
) -> Annotated[CallToolResult, InviteResult]:
    """Add a user to a channel you are in."""
    added = await runtime(ctx).call(lambda c: _invite(c, channel, username))
    out = InviteResult(channel=channel, username=username, invited=added)
    if not added:
        return result(out, f"{clean(username)} is already a member of #{clean(channel)}")
    return result(out, f"invited {clean(username)} to #{clean(channel)}")


async def dm_open(username: Username, ctx: Ctx) -> Annotated[CallToolResult, DMOpened]:
    """Open (or find) your DM channel with a user."""
    dm = await runtime(ctx).call(lambda c: c.dm_open(username))
    state = "created" if dm.created else "existing"
    return result(dm, f"#{clean(dm.channel)} ({state}) with {clean(username)}")


async def dm_list(ctx: Ctx) -> Annotated[CallToolResult, DMListResult]:
    """Your DM channels."""
    dms = await runtime(ctx).call(lambda c: c.dm_list())
    return result(DMListResult(dms=dms), lines(dms, dm_line, "no DMs"))


TOOLS = [
    ToolSpec(dm_open, WRITE, core=True),
    ToolSpec(dm_list, READ, core=True),
    ToolSpec(channel_list, READ, core=True),
    ToolSpec(channel_create, APPEND),
    ToolSpec(channel_join, WRITE, core=True),
    ToolSpec(channel_invite, WRITE),
]
