"""The tools: plain typed module-level functions, one module per domain.

============== ===============================================================================
module         tools
============== ===============================================================================
messages       send_message, history, unread_messages, unread_counts, mark_read
channels       channel_list, channel_create, channel_join, channel_invite, dm_open, dm_list
people         user_list, set_state, capabilities, whoami
mention_groups mention_group_create/_delete/_get/_list/_add_member/_remove_member
webhooks       register_webhook, unregister_webhook, list_webhooks, get_settings, set_setting
events         poll_events, wait_for_events, wait_for_messages
admin          list_roles, set_role, create_role, delete_role, grant_permission,
               revoke_permission (the ``admin`` profile, off by default, with the settings tools)
============== ===============================================================================

Each module ends with ``TOOLS``, a list of :class:`ToolSpec` (function, annotations, profile
membership: ``core``, or ``admin`` for the tools only ``SHARKFIN_TOOLS=...,admin`` lists);
:data:`TOOLS` here is their concatenation in catalogue order, and the profiles derive from it.
Tools are thin adapters: arguments → ``Runtime`` → typed result + one-line-per-row
text. Message bodies are other parties' words; the server instructions say so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer

from .._arguments import add_tool
from . import admin, channels, events, mention_groups, messages, people, webhooks
from ._spec import ToolSpec, check_returns

__all__ = ["DEFAULT_TOOLS", "TOOLS", "ToolSpec", "register_tools"]

TOOLS: list[ToolSpec] = [
    *messages.TOOLS,
    *channels.TOOLS,
    *people.TOOLS,
    *mention_groups.TOOLS,
    *webhooks.TOOLS,
    *events.TOOLS,
    *admin.TOOLS,
]


DEFAULT_TOOLS = [spec.name for spec in TOOLS if not spec.admin]
"""The tools listed with the default settings, in catalogue order."""


def register_tools(mcp: MCPServer[Any], include: Callable[[ToolSpec], bool]) -> None:
    """Register every tool that ``include`` admits (read-only mode and profiles filter here)."""
    for spec in TOOLS:
        if include(spec):
            arguments = add_tool(mcp, spec.fn, annotations=spec.annotations, description=spec.description)
            check_returns(spec.name, arguments.returns)
