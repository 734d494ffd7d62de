"""Unread messages *with ids*, read without consuming them.

The daemon's ``unread_messages`` omits ids and, unfiltered, moves the read cursor past what it
returns: an agent that stops halfway loses the rest. Instead, the unread messages of a channel are
the messages from others newer than the cursor, ``unread_counts`` says how many there are, so the
newest ``unread_count`` messages from others in ``history`` are exactly the unread ones.

Messages may arrive while this reads. The walk is repeated until the counts before and after it
agree; if traffic never lets them agree, the later counts are applied to the earlier snapshot
(extended further back where needed). That errs toward showing an already-read message, never
toward skipping an unread one, which a following ``mark_read`` would then lose.
"""

from __future__ import annotations

from ..client import SharkfinClient
from ._results import MessageRow, message_row

__all__ = ["collect_unread"]

PAGE = 100
ATTEMPTS = 3


async def collect_unread(
    client: SharkfinClient,
    me: str,
    channel: str | None,
    mentions_only: bool,
    thread_id: int | None,
    limit: int,
) -> tuple[list[tuple[str, MessageRow]], int]:
    """The oldest ``limit`` matching unread messages as (channel, message), oldest first, and how
    many more there are."""

    async def counts() -> dict[str, int]:
        found = {c.channel: c.unread_count for c in await client.unread_counts() if c.unread_count}
        return {channel: found.get(channel, 0)} if channel else found

    snapshot: dict[str, list[MessageRow]] = {}
    for _ in range(ATTEMPTS):
        before = await counts()
        snapshot = {name: await _newest_from_others(client, name, me, n) for name, n in before.items() if n}
        after = await counts()
        if after == before:
            break
    for name, wanted in after.items():
        have = snapshot.setdefault(name, [])
        if 0 < len(have) < wanted:  # older pages are unaffected by arrivals
            have += await _newest_from_others(client, name, me, wanted - len(have), before=have[-1]["id"])
        elif not have and wanted:
            have += await _newest_from_others(client, name, me, wanted)
        del have[wanted:]
    found = [(name, m) for name, messages in snapshot.items() if name in after for m in messages]
    if mentions_only:
        found = [(name, m) for name, m in found if me in m.get("mentions", ())]
    if thread_id is not None:
        found = [(name, m) for name, m in found if m.get("thread_id") == thread_id]
    found.sort(key=lambda item: int(item[1]["id"]))
    return found[:limit], max(0, len(found) - limit)


async def _newest_from_others(
    client: SharkfinClient, channel: str, me: str, count: int, *, before: int | None = None
) -> list[MessageRow]:
    """Up to ``count`` messages not sent by ``me``, newest first, older than ``before``."""
    picked: list[MessageRow] = []
    while len(picked) < count:
        page = await client.history(channel, before=before, limit=PAGE)
        for message in reversed(page):
            if message.sender != me:
                picked.append(message_row(message))
                if len(picked) == count:
                    break
        if len(page) < PAGE or not page[0].id:
            break
        before = page[0].id
    return picked
