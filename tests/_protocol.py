"""Facts of the Sharkfin protocol that several test modules check against (PROTOCOL.md §3)."""

from __future__ import annotations

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
