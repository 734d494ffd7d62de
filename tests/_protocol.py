"""Facts of the Sharkfin protocol that several test modules check against (PROTOCOL.md §3), and
the MCP ``initialize`` request the raw-stdio tests send."""

from __future__ import annotations

from typing import Any

USER_PERMISSIONS = [
    "channel_list",
    "dm_list",
    "dm_open",
    "history",
    "invite_channel",
    "join_channel",
    "mark_read",
    "send_message",
    "unread_counts",
    "unread_messages",
    "user_list",
]
"""The permissions of the built-in ``user`` role, sorted."""

INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
}
"""The JSON-RPC ``initialize`` request (handshake era) sent over raw stdio, one line."""
