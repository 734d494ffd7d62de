"""What tools return: typed results (the ``outputSchema``) and their compact text rendering.

Agents pay for every token they read, so the text block is one line per item rather than the
SDK's default pretty-printed JSON; the full data is in ``structuredContent``.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from ..client import Message, MessageEvent
from ._buffer import BufferedEvent
from ._render import clean, clean_json

__all__ = [
    "Done",
    "EventsResult",
    "HistoryResult",
    "ItemsResult",
    "MessageRow",
    "MessagesResult",
    "SendResult",
    "message_line",
    "message_row",
    "result",
]


class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, defer_build=True)


MessageRow = dict[str, Any]
"""One message as agents see it: ``id``, ``channel``, ``from``, ``body``, ``sent_at``, and when
present ``thread_id``, ``mentions``, ``metadata``. Plain dicts rather than models: a history page
builds up to a hundred per call, and they are already validated by the client's models."""


def message_row(message: Message | MessageEvent, channel: str | None = None) -> MessageRow:
    row: MessageRow = {
        "id": message.id or 0,
        "channel": channel or message.channel or "",
        "from": message.sender,
        "body": message.body,
    }
    if message.sent_at:
        row["sent_at"] = message.sent_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if message.thread_id:
        row["thread_id"] = message.thread_id
    if message.mentions:
        row["mentions"] = list(message.mentions)
    if message.metadata is not None:
        row["metadata"] = message.metadata
    return row


def message_line(row: MessageRow) -> str:
    """``[id] time #channel sender ↳thread: body`` on one line, every field escaped (``_render``)."""
    thread = f" ↳{clean(row['thread_id'])}" if row.get("thread_id") else ""
    meta = f" meta={clean_json(row['metadata'])}" if row.get("metadata") else ""
    sent_at = clean(row.get("sent_at") or "-")
    head = f"[{clean(row.get('id'))}] {sent_at} #{clean(row.get('channel'))} {clean(row.get('from'))}"
    return f"{head}{thread}: {clean(row.get('body', ''))}{meta}"


MESSAGE_ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "channel", "from", "body"],
    "description": "A message: id (integer; reply with thread_id=id, or mark_read up to it), channel "
    "(string), from (string), body (string), sent_at (RFC 3339 UTC string), thread_id (integer, the "
    "parent of a reply), mentions (array of usernames), metadata (any JSON); optional fields are "
    "absent when empty.",
}
"""A lean schema for one message: its required fields, and the rest named in the description.

MCP clients validate every structured result against the output schema, and with a full per-field
schema that was the largest single cost of a history call (about 0.9 ms of client CPU for 20
messages with the Python SDK's jsonschema, more than the server's own work). The fields are few and
stable, so they are documented here instead of checked one by one; a test keeps this in step with
:func:`message_row`.
"""


Messages = Annotated[list[MessageRow], WithJsonSchema({"type": "array", "items": MESSAGE_ITEM_SCHEMA})]


class MessagesResult(Out):
    messages: Messages


class HistoryResult(MessagesResult):
    channel: str
    next_before: int | None = Field(
        default=None, description="Pass as before= to page further back; null when this is the start"
    )


class UnreadResult(MessagesResult):
    remaining: int = Field(description="Unread messages not returned because of the limit")


class SendResult(Out):
    id: int
    channel: str
    thread_id: int | None = None
    duplicate: bool = Field(
        default=False, description="True if an earlier send with the same idempotency_key was reused"
    )


class ItemsResult(Out):
    items: list[dict[str, Any]]


class Done(Out):
    ok: bool = True
    detail: str


class EventOut(Out):
    seq: int
    type: str
    data: dict[str, Any]
    received_at: str
    caught_up: bool = False

    @classmethod
    def of(cls, event: BufferedEvent) -> EventOut:
        return cls(
            seq=event.seq,
            type=event.type,
            data=event.data,
            received_at=event.received_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            caught_up=event.caught_up,
        )

    def line(self) -> str:
        d = self.data
        if self.type == "message.new":
            return f"#{self.seq} {'(caught up) ' if self.caught_up else ''}{message_line(d)}"
        return f"#{self.seq} {clean(self.type)} {clean_json(d)}"


class EventsResult(Out):
    events: list[EventOut]
    next_after: int = Field(description="Pass as after= on the next poll/wait to continue from here")
    dropped: int = Field(description="Events that left the buffer before you read them (0 = none lost)")
    timed_out: bool = False
    hint: str | None = Field(default=None, description="What to do next, when you must do something")


def result(model: BaseModel, text: str) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json", by_alias=True),
    )


def render_messages(messages: list[MessageRow], empty: str = "no messages") -> str:
    return "\n".join(message_line(m) for m in messages) if messages else empty
