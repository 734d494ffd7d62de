"""Webhooks and the daemon's global settings (PROTOCOL.md §5.9, §6, §7)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from .._render import clean, lines, settings_lines, webhook_line
from .._results import SettingResult, SettingsResult, WebhookResult, WebhooksResult, result
from ._spec import EXTERNAL, READ, REMOVE, Ctx, ToolSpec, runtime

__all__ = ["TOOLS"]


async def register_webhook(
    url: Annotated[
        str,
        Field(
            min_length=1, max_length=2000, pattern=r"^https?://", description="http(s) URL, max 2000 chars"
        ),
    ],
    ctx: Ctx,
) -> Annotated[CallToolResult, WebhookResult]:
    """POST your channels' messages to a URL (service identities)."""
    webhook_id = await runtime(ctx).call(lambda c: c.register_webhook(url))
    return result(WebhookResult(id=webhook_id, url=url), f"webhook id {clean(webhook_id)}")


async def unregister_webhook(
    webhook_id: Annotated[str, Field(min_length=1, max_length=100, description="Id from list_webhooks")],
    ctx: Ctx,
) -> Annotated[CallToolResult, WebhookResult]:
    """Delete one of your webhooks."""
    rt = runtime(ctx)
    # The daemon answers 204 to any id (PROTOCOL.md §6), so look first.
    if webhook_id not in {h.id for h in await rt.call(lambda c: c.list_webhooks())}:
        raise ToolError(
            f"webhook id {webhook_id} is unknown: it is not one of your active webhooks "
            "(list_webhooks shows them); nothing was removed"
        )
    await rt.call(lambda c: c.unregister_webhook(webhook_id))
    return result(WebhookResult(id=webhook_id), f"webhook {clean(webhook_id)} removed")


async def list_webhooks(ctx: Ctx) -> Annotated[CallToolResult, WebhooksResult]:
    """Your active webhooks."""
    hooks = await runtime(ctx).call(lambda c: c.list_webhooks())
    return result(WebhooksResult(webhooks=hooks), lines(hooks, webhook_line, "no webhooks"))


async def get_settings(ctx: Ctx) -> Annotated[CallToolResult, SettingsResult]:
    """Global settings (needs manage_roles)."""
    settings = await runtime(ctx).call(lambda c: c.get_settings())
    return result(SettingsResult(settings=settings), settings_lines(settings))


async def set_setting(
    key: Annotated[str, Field(min_length=1, max_length=200, description="e.g. webhook_url")],
    value: Annotated[str, Field(max_length=4000, description="Max 4000 chars")],
    ctx: Ctx,
) -> Annotated[CallToolResult, SettingResult]:
    """Set one global setting (needs manage_roles)."""
    await runtime(ctx).call(lambda c: c.set_setting(key, value))
    return result(SettingResult(key=key), f"{clean(key)} set")


TOOLS = [
    ToolSpec(register_webhook, EXTERNAL),
    ToolSpec(unregister_webhook, REMOVE),
    ToolSpec(list_webhooks, READ),
    ToolSpec(get_settings, READ, admin=True),
    ToolSpec(set_setting, REMOVE, admin=True),
]
