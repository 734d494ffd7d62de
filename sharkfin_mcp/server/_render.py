"""Text renderings of tool results: exactly one line per row, whatever the fields contain.

Channel names, usernames, slugs, bodies, metadata and URLs come from other parties, and a line
break (or U+2028, U+0085, a bidi override ...) in any of them would otherwise start what looks
like a row of its own: a forged message. Every interpolated field therefore goes through
:func:`clean` (or :func:`clean_json` for JSON values); ``tests/server/test_render.py`` checks the
one-line-per-row property for every rendering with arbitrary field values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from ..client import DM, Channel, MentionGroup, UnreadCount, User, Webhook

__all__ = [
    "channel_line",
    "clean",
    "clean_json",
    "dm_line",
    "group_detail",
    "group_line",
    "is_clean",
    "lines",
    "setting_line",
    "unread_count_line",
    "user_line",
    "webhook_line",
]

T = TypeVar("T")

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff{_BIDI}\ud800-\udfff]")
"""Backslash (so escapes stay unambiguous), C0 and C1 controls (which include \\n, \\r, \\v, \\f,
U+001C-001E and U+0085), the Unicode line and paragraph separators, the byte-order mark, bidi
controls, and lone surrogates (which cannot even be encoded as UTF-8)."""
_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f\u2028\u2029\ufeff{_BIDI}\ud800-\udfff]")
"""What ``json.dumps`` leaves unescaped that :data:`_UNSAFE` covers (it escapes C0 and ``\\``)."""
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: object) -> str:
    """``value`` as text safe to put in one line: every line terminator, other control
    character and bidi override escaped as ``\\n``, ``\\x85``, ``\\u2028`` ... (backslash doubled)."""
    text = value if isinstance(value, str) else str(value)
    return text if is_clean(text) else _UNSAFE.sub(_escape, text)


def is_clean(text: str) -> bool:
    """Whether :func:`clean` would leave ``text`` as it is."""
    return _UNSAFE.search(text) is None


def clean_json(value: Any) -> str:
    """Compact JSON on one line, with the characters JSON itself leaves alone escaped too."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return text if _UNSAFE_IN_JSON.search(text) is None else _UNSAFE_IN_JSON.sub(_escape, text)


def lines(rows: Iterable[T], render: Callable[[T], str], empty: str) -> str:
    """One rendered line per row, or ``empty`` when there are none."""
    return "\n".join(render(row) for row in rows) or empty


def channel_line(channel: Channel) -> str:
    member = " member" if channel.member else ""
    return f"#{clean(channel.name)} {'public' if channel.public else 'private'}{member}"


def unread_count_line(count: UnreadCount) -> str:
    return (
        f"#{clean(count.channel)} ({clean(count.type)}): {count.unread_count} unread, "
        f"{count.mention_count} mentions"
    )


def user_line(user: User) -> str:
    state = f" {clean(user.state)}" if user.state else ""
    online = "online" if user.online else "offline"
    return f"{clean(user.username)} ({clean(user.type or '-')}) {online}{state}"


def dm_line(dm: DM) -> str:
    return f"#{clean(dm.channel)} with {clean(dm.participant)}"


def group_line(group: MentionGroup) -> str:
    return f"@{clean(group.slug)} ({len(group.members)} members)"


def group_detail(group: MentionGroup) -> str:
    members = ", ".join(clean(m) for m in group.members) or "no members"
    return f"@{clean(group.slug)} by {clean(group.created_by)}: {members}"


def webhook_line(hook: Webhook) -> str:
    return f"{clean(hook.id)} {clean(hook.url)}"


def setting_line(item: tuple[str, Any]) -> str:
    key, value = item
    return f"{clean(key)}={clean(value)}"


def settings_lines(settings: Mapping[str, Any]) -> str:
    return lines(sorted(settings.items()), setting_line, "no settings")
