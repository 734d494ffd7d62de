"""In-memory store and semantics of the Sharkfin daemon (PROTOCOL.md §2.4, §3, §5).

Pure and synchronous: no sockets, no clocks except the injectable ``clock``. The
WebSocket and REST layers translate wire frames into calls on :class:`State` and
turn :class:`StoreError` into the exact error texts. Keeping this layer free of I/O
makes the quirks (paging, unread cursors, mention views) easy to test and reason about.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ALL_PERMISSIONS: tuple[str, ...] = (
    "send_message",
    "create_channel",
    "join_channel",
    "invite_channel",
    "history",
    "unread_messages",
    "unread_counts",
    "mark_read",
    "user_list",
    "channel_list",
    "dm_open",
    "dm_list",
    "manage_roles",
)
_USER_PERMS = frozenset(ALL_PERMISSIONS) - {"create_channel", "manage_roles"}
BUILTIN_ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset(ALL_PERMISSIONS),
    "user": _USER_PERMS,
    "agent": _USER_PERMS,
    "bot": frozenset(
        {
            "send_message",
            "join_channel",
            "channel_list",
            "history",
            "unread_messages",
            "unread_counts",
            "mark_read",
            "create_channel",
            "dm_list",
            "dm_open",
            "user_list",
        }
    ),
}

NOT_PARTICIPANT = "you are not a participant of this channel"
UNIQUE_CHANNEL = "constraint failed: UNIQUE constraint failed: channels.name (2067)"
UNIQUE_MEMBER = (
    "constraint failed: UNIQUE constraint failed: channel_members.channel_id, "
    "channel_members.identity_id (1555)"
)
UNIQUE_SLUG = "constraint failed: UNIQUE constraint failed: mention_groups.slug (2067)"
_MENTION_RE = re.compile(r"@([A-Za-z0-9_-]+)")
_SLUG_RE = re.compile(r"^[a-zA-Z0-9_-]+$")


class StoreError(Exception):
    """A failure whose ``str()`` is the exact text the daemon sends to the client."""


def wire_time(moment: datetime) -> str:
    """RFC 3339 UTC with second precision and ``Z`` — the only timestamp shape on the wire."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class IdentityRow:
    id: str  # 32 lowercase hex characters, like the daemon's internal ids
    username: str
    type: str
    role: str


@dataclass
class Channel:
    id: int
    name: str
    public: bool
    type: str  # "channel" | "dm"
    members: list[str] = field(default_factory=list)  # usernames, insertion order


@dataclass
class Message:
    id: int
    channel_id: int
    sender: str
    body: str
    created_at: str
    thread_id: int | None = None
    metadata: str | None = None
    mentions: frozenset[str] = frozenset()  # stored view: usernames incl. expanded groups


@dataclass
class MentionGroup:
    id: int
    slug: str
    created_by: str
    created_at: str
    members: set[str] = field(default_factory=set)


@dataclass
class Webhook:
    id: str
    owner: str
    url: str
    active: bool = True


@dataclass
class SendResult:
    """What a send produced: the stored message plus the *pushed/bus* mentions view."""

    message: Message
    channel: Channel
    bus_mentions: list[str]  # direct usernames (body order) then group slugs


class State:
    """All daemon state. Survives a sandbox restart (only the sockets go away)."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.identities: dict[str, IdentityRow] = {}
        self.roles: dict[str, set[str]] = {name: set(perms) for name, perms in BUILTIN_ROLES.items()}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.cursors: dict[tuple[str, int], int] = {}
        self.groups: dict[str, MentionGroup] = {}
        self.settings: dict[str, str] = {}
        self.webhooks: dict[str, Webhook] = {}
        self._next_channel = 1
        self._next_message = 1
        self._next_group = 1
        self.create_channel("general", public=True, creator=None)

    def now(self) -> str:
        return wire_time(self.clock())

    # ---- identities and RBAC (§2.4, §3) -------------------------------------------------

    def upsert_identity(self, username: str, type_: str) -> IdentityRow:
        row = self.identities.get(username)
        if row is not None:
            row.type = type_  # the role is never changed on update
            return row
        if not self.identities:
            role = "admin"
        elif type_ == "service":
            role = "bot"
        else:
            role = type_ or "user"
        row = IdentityRow(id=secrets.token_hex(16), username=username, type=type_, role=role)
        self.identities[username] = row
        return row

    def permissions_of_role(self, role: str) -> list[str]:
        return sorted(self.roles.get(role, set()))

    def permissions(self, username: str) -> list[str]:
        row = self.identities.get(username)
        return self.permissions_of_role(row.role) if row else []

    def has_permission(self, username: str, permission: str) -> bool:
        return permission in self.permissions(username)

    def _user(self, username: str) -> IdentityRow:
        row = self.identities.get(username)
        if row is None:
            raise StoreError(f"user not found: {username}")
        return row

    # ---- channels (§5.1, §5.2) -----------------------------------------------------------

    def channel_by_name(self, name: str) -> Channel | None:
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        return None

    def _channel(self, name: str) -> Channel:
        channel = self.channel_by_name(name)
        if channel is None:
            raise StoreError(f"channel not found: {name}")
        return channel

    def _member(self, channel: Channel, username: str) -> None:
        if username not in channel.members:
            raise StoreError(NOT_PARTICIPANT)

    def create_channel(
        self,
        name: str,
        *,
        public: bool,
        creator: str | None,
        members: Sequence[str] = (),
        kind: str = "channel",
    ) -> Channel:
        for member in members:
            self._user(member)
        if self.channel_by_name(name) is not None:
            raise StoreError(f"insert channel: {UNIQUE_CHANNEL}")
        channel = Channel(id=self._next_channel, name=name, public=public, type=kind)
        self._next_channel += 1
        self.channels[channel.id] = channel
        if creator is not None:
            channel.members.append(creator)
        for member in members:
            if member == creator:
                continue
            if member in channel.members:
                raise StoreError(f"insert member {self.identities[member].id}: {UNIQUE_MEMBER}")
            channel.members.append(member)
        return channel

    def list_channels(self, username: str) -> list[Channel]:
        return sorted((c for c in self.channels.values() if c.type != "dm"), key=lambda c: c.name)

    def invite(self, username: str, channel_name: str, invitee: str) -> None:
        channel = self._channel(channel_name)
        self._member(channel, username)
        self._user(invitee)
        if invitee in channel.members:
            raise StoreError(f"add member: {UNIQUE_MEMBER}")
        channel.members.append(invitee)

    def join(self, username: str, channel_name: str) -> None:
        channel = self._channel(channel_name)
        if username in channel.members:
            raise StoreError("already a member")
        channel.members.append(username)

    def dm_open(self, username: str, other: str) -> tuple[Channel, bool]:
        if not other:
            raise StoreError("username is required")
        if other == username:
            raise StoreError("cannot open DM with yourself")
        self._user(other)
        for channel in self.channels.values():
            if channel.type == "dm" and username in channel.members and other in channel.members:
                return channel, False
        a, b = sorted([username, other], key=lambda s: s.encode())
        name = f"dm-{a}-{b}"
        if self.channel_by_name(name) is not None:
            raise StoreError(f"create dm: insert channel: {UNIQUE_CHANNEL}")
        channel = self.create_channel(name, public=False, creator=username, members=[other], kind="dm")
        return channel, True

    def dm_list(self, username: str) -> list[tuple[str, str]]:
        pairs = [
            (c.name, m)
            for c in self.channels.values()
            if c.type == "dm" and username in c.members
            for m in c.members
            if m != username
        ]
        return sorted(pairs, key=lambda p: p[1])

    # ---- messages, threads, mentions (§5.3, §5.4, §5.7) ---------------------------------

    def parse_mentions(self, body: str) -> tuple[list[str], frozenset[str]]:
        """Return (bus view: usernames then slugs, stored view: expanded usernames)."""
        candidates = list(dict.fromkeys(_MENTION_RE.findall(body)))
        direct = [c for c in candidates if c in self.identities]
        slugs: list[str] = []
        stored = set(direct)
        for candidate in candidates:
            group = self.groups.get(candidate)
            if candidate in self.identities or group is None or not group.members:
                continue
            slugs.append(candidate)
            stored |= group.members
        return direct + slugs, frozenset(stored)

    def send(
        self,
        username: str,
        channel_name: str,
        body: str,
        *,
        thread_id: int | None = None,
        metadata: str | None = None,
        check_member: bool = True,
        parse_mentions: bool = True,
    ) -> SendResult:
        channel = self._channel(channel_name)
        if check_member:
            self._member(channel, username)
        if thread_id is not None:
            parent = self.messages.get(thread_id)
            if parent is None:
                raise StoreError(f"parent message not found: {thread_id}")
            if parent.channel_id != channel.id:
                raise StoreError("parent message is in a different channel")
            if parent.thread_id is not None:
                raise StoreError("cannot reply to a reply (threads are 1 level deep)")
        bus, stored = self.parse_mentions(body) if parse_mentions else ([], frozenset[str]())
        message = Message(
            id=self._next_message,
            channel_id=channel.id,
            sender=username,
            body=body,
            created_at=self.now(),
            thread_id=thread_id,
            metadata=metadata,
            mentions=stored,
        )
        self._next_message += 1
        self.messages[message.id] = message
        return SendResult(message=message, channel=channel, bus_mentions=bus)

    def history(
        self,
        username: str,
        channel_name: str,
        *,
        before: int = 0,
        after: int = 0,
        limit: int = 0,
        thread_id: int = 0,
        check_member: bool = True,
    ) -> list[Message]:
        channel = self._channel(channel_name)
        if check_member:
            self._member(channel, username)
        return self.page(channel, before=before, after=after, limit=limit, thread_id=thread_id)

    def page(self, channel: Channel, *, before: int, after: int, limit: int, thread_id: int) -> list[Message]:
        """The store query of §5.5: ascending ids; ``before`` beats ``after``; >100 → 50."""
        if limit <= 0 or limit > 100:
            limit = 50
        rows = [m for m in self.messages.values() if m.channel_id == channel.id]
        if thread_id:
            rows = [m for m in rows if m.thread_id == thread_id]
        rows.sort(key=lambda m: m.id)
        if before:
            return [m for m in rows if m.id < before][-limit:]
        if after:
            return [m for m in rows if m.id > after][:limit]
        return rows[-limit:]

    # ---- unread tracking (§5.6) ---------------------------------------------------------

    def _newer(self, username: str, channel: Channel) -> list[Message]:
        cursor = self.cursors.get((username, channel.id), 0)
        return sorted(
            (m for m in self.messages.values() if m.channel_id == channel.id and m.id > cursor),
            key=lambda m: m.id,
        )

    def unread(
        self, username: str, channel_name: str = "", *, mentions_only: bool = False, thread_id: int = 0
    ) -> list[tuple[Channel, Message]]:
        if channel_name:
            scanned = [self._channel(channel_name)]
        else:
            scanned = sorted((c for c in self.channels.values() if username in c.members), key=lambda c: c.id)
        consume = not mentions_only and not thread_id
        out: list[tuple[Channel, Message]] = []
        for channel in scanned:
            newer = self._newer(username, channel)
            key = (username, channel.id)
            if consume:
                if newer:
                    self.cursors[key] = max(self.cursors.get(key, 0), newer[-1].id)
                else:
                    self.cursors.setdefault(key, self.cursors.get(key, 0))
            for message in newer:
                if message.sender == username:
                    continue
                if mentions_only and username not in message.mentions:
                    continue
                if thread_id and message.thread_id != thread_id:
                    continue
                out.append((channel, message))
        return out

    def unread_counts(self, username: str) -> list[tuple[Channel, int, int]]:
        out = []
        for channel in sorted(self.channels.values(), key=lambda c: c.id):
            if username not in channel.members:
                continue
            mine = [m for m in self._newer(username, channel) if m.sender != username]
            if mine:
                out.append((channel, len(mine), sum(1 for m in mine if username in m.mentions)))
        return out

    def mark_read(self, username: str, channel_name: str, message_id: int | None) -> None:
        if not channel_name:
            raise StoreError("channel is required")
        channel = self._channel(channel_name)
        self._member(channel, username)
        if message_id is None:
            ids = [m.id for m in self.messages.values() if m.channel_id == channel.id]
            if not ids:
                return
            target = max(ids)
        elif message_id == 0:
            return
        else:
            if message_id not in self.messages:
                raise StoreError("mark read: constraint failed: FOREIGN KEY constraint failed (787)")
            target = message_id
        key = (username, channel.id)
        self.cursors[key] = max(self.cursors.get(key, 0), target)

    # ---- mention groups (§4.5, §5.7) ----------------------------------------------------

    def _group(self, slug: str) -> MentionGroup:
        group = self.groups.get(slug)
        if group is None:
            raise StoreError(f"mention group not found: {slug}")
        return group

    def group_create(self, username: str, slug: str) -> MentionGroup:
        if not _SLUG_RE.match(slug) or slug.endswith("\n"):
            raise StoreError("invalid slug: must match [a-zA-Z0-9_-]+")
        if slug in self.identities:
            raise StoreError(f"slug conflicts with existing username: {slug}")
        if slug in self.groups:
            raise StoreError(f"create mention group: {UNIQUE_SLUG}")
        group = MentionGroup(id=self._next_group, slug=slug, created_by=username, created_at=self.now())
        self._next_group += 1
        self.groups[slug] = group
        return group

    def group_delete(self, username: str, slug: str) -> None:
        group = self._group(slug)
        if group.created_by != username:
            raise StoreError("only the group creator can delete it")
        del self.groups[slug]

    def group_get(self, slug: str) -> MentionGroup:
        return self._group(slug)

    def group_list(self) -> list[MentionGroup]:
        return [self.groups[s] for s in sorted(self.groups)]

    def group_member(self, username: str, slug: str, member: str, *, add: bool) -> None:
        group = self._group(slug)
        if group.created_by != username:
            raise StoreError("only the group creator can manage members")
        self._user(member)
        if add:
            group.members.add(member)
        else:
            group.members.discard(member)

    # ---- webhooks (§6, §7.1) ------------------------------------------------------------

    def webhook_register(self, owner: str, url: str) -> Webhook:
        for hook in self.webhooks.values():
            if hook.owner == owner and hook.url == url:
                hook.active = True
                return hook
        hook = Webhook(id=secrets.token_hex(16), owner=owner, url=url)
        self.webhooks[hook.id] = hook
        return hook

    def webhook_list(self, owner: str) -> list[Webhook]:
        return [h for h in self.webhooks.values() if h.owner == owner and h.active]

    def webhook_delete(self, owner: str, hook_id: str) -> None:
        hook = self.webhooks.get(hook_id)
        if hook is not None and hook.owner == owner:
            del self.webhooks[hook_id]

    def recipients(self, result: SendResult) -> list[str]:
        """§7.2 recipient rule (also used for /presence notifications): never the sender."""
        channel = result.channel
        names: list[str] = list(result.bus_mentions)
        if channel.type == "dm":
            names += channel.members
        names += [m for m in channel.members if m in self.identities and self.identities[m].type == "service"]
        return [n for n in dict.fromkeys(names) if n != result.message.sender]

    def message_event(self, result: SendResult, sent_at: str) -> dict[str, Any]:
        """The ``message.new`` payload (a Go map, so keys in alphabetical order)."""
        m = result.message
        d: dict[str, Any] = {
            "body": m.body,
            "channel": result.channel.name,
            "channel_type": result.channel.type,
            "from": m.sender,
            "id": m.id,
        }
        if result.bus_mentions:
            d["mentions"] = result.bus_mentions
        if m.metadata:
            d["metadata"] = m.metadata
        d["sent_at"] = sent_at
        if m.thread_id is not None:
            d["thread_id"] = m.thread_id
        return d
