"""Mention groups: ``@slug`` mentions every member (PROTOCOL.md §5.7)."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult

from ...client import MentionGroup
from .._render import clean, group_detail, group_line, lines
from .._results import MentionGroupMemberResult, MentionGroupResult, MentionGroupsResult, result
from ._params import NewSlug, Slug, Username
from ._spec import APPEND, READ, REMOVE, WRITE, Ctx, ToolSpec, runtime

__all__ = ["TOOLS"]


async def mention_group_create(slug: NewSlug, ctx: Ctx) -> Annotated[CallToolResult, MentionGroupResult]:
    """Create a group; @slug then mentions its members."""
    group_id = await runtime(ctx).call(lambda c: c.create_mention_group(slug))
    return result(MentionGroupResult(slug=slug, id=group_id), f"created @{clean(slug)} (id {group_id})")


async def mention_group_delete(slug: Slug, ctx: Ctx) -> Annotated[CallToolResult, MentionGroupResult]:
    """Delete your group."""
    await runtime(ctx).call(lambda c: c.delete_mention_group(slug))
    return result(MentionGroupResult(slug=slug), f"deleted @{clean(slug)}")


async def mention_group_get(slug: Slug, ctx: Ctx) -> Annotated[CallToolResult, MentionGroup]:
    """One group with its members."""
    group = await runtime(ctx).call(lambda c: c.get_mention_group(slug))
    return result(group, group_detail(group))


async def mention_group_list(ctx: Ctx) -> Annotated[CallToolResult, MentionGroupsResult]:
    """All mention groups."""
    groups = await runtime(ctx).call(lambda c: c.list_mention_groups())
    return result(MentionGroupsResult(groups=groups), lines(groups, group_line, "none"))


async def mention_group_add_member(
    slug: Slug, username: Username, ctx: Ctx
) -> Annotated[CallToolResult, MentionGroupMemberResult]:
    """Add a user to your group."""
    await runtime(ctx).call(lambda c: c.add_mention_group_member(slug, username))
    out = MentionGroupMemberResult(slug=slug, username=username)
    return result(out, f"added {clean(username)} to @{clean(slug)}")


async def mention_group_remove_member(
    slug: Slug, username: Username, ctx: Ctx
) -> Annotated[CallToolResult, MentionGroupMemberResult]:
    """Remove a user from your group."""
    await runtime(ctx).call(lambda c: c.remove_mention_group_member(slug, username))
    out = MentionGroupMemberResult(slug=slug, username=username)
    return result(out, f"removed {clean(username)} from @{clean(slug)}")


TOOLS = [
    ToolSpec(mention_group_create, APPEND),
    ToolSpec(mention_group_delete, REMOVE),
    ToolSpec(mention_group_get, READ),
    ToolSpec(mention_group_list, READ),
    ToolSpec(mention_group_add_member, WRITE),
    ToolSpec(mention_group_remove_member, REMOVE),
]
