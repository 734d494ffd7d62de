"""Pydantic models of every payload the daemon sends, tolerant of what it really sends.

The daemon is written in Go, so empty lists arrive as ``null``, ``d`` is omitted when empty, and
fields come and go with ``omitempty``; every model therefore ignores unknown fields and turns
``null`` lists into ``[]``. The Go client's type bugs are fixed here rather than copied
(PROTOCOL.md §13.1): a DM has one ``participant``, messages keep their ``metadata``, mention
groups keep ``created_at``, and ``Message.id`` is optional because ``unread_messages`` omits it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from ._errors import InvalidMetadata, MalformedReply

__all__ = [
    "DM",
    "Channel",
    "CreatedChannel",
    "DMOpened",
    "MentionGroup",
    "Message",
    "RegisteredIdentity",
    "SentMessage",
    "UnreadCount",
    "User",
    "Webhook",
    "decoded",
    "items_of",
    "metadata_as_object",
    "metadata_as_text",
]


def _none_to_empty_list(value: Any) -> Any:
    return [] if value is None else value


def _none_to_empty_dict(value: Any) -> Any:
    return {} if value is None else value


def _decode_metadata(value: Any) -> Any:
    """Metadata travels as JSON text on most paths; give callers the object when it is one."""
    if isinstance(value, str):
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


NullableList = Annotated[list[str], BeforeValidator(_none_to_empty_list)]
Metadata = Annotated[Any, BeforeValidator(_decode_metadata)]


class WireModel(BaseModel):
    # defer_build: validators are built on first use, not at import (start-up is on the clock).
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)


class User(WireModel):
    username: str
    online: bool = False
    type: str = ""
    state: str | None = None


class Channel(WireModel):
    name: str
    public: bool = False
    member: bool = False
    id: int | None = None
    """Only REST exposes channel ids."""


class CreatedChannel(WireModel):
    name: str
    id: int | None = None
    public: bool | None = None


class Message(WireModel):
    """A stored message, from ``history``, ``unread_messages`` or REST listings."""

    id: int | None = None
    """``None`` only for ``unread_messages`` items, which the daemon sends without ids."""
    channel: str | None = None
    sender: str = Field(default="", alias="from")
    body: str = ""
    sent_at: datetime | None = None
    thread_id: int | None = None
    mentions: NullableList = []
    metadata: Metadata = None


class SentMessage(WireModel):
    """The REST reply to a send: the daemon echoes the body, metadata and its clock."""

    id: int
    body: str = ""
    sent_at: datetime | None = None
    metadata: Metadata = None


class UnreadCount(WireModel):
    channel: str
    type: Literal["channel", "dm"] | str = "channel"
    unread_count: int = 0
    mention_count: int = 0


class DM(WireModel):
    channel: str
    participant: str


class DMOpened(WireModel):
    channel: str
    participant: str
    created: bool = False


class MentionGroup(WireModel):
    id: int
    slug: str
    created_by: str = ""
    members: NullableList = []
    created_at: datetime | None = None


class Webhook(WireModel):
    id: str
    url: str
    active: bool = True


class RegisteredIdentity(WireModel):
    id: str
    username: str
    role: str = ""
    type: str = ""


def _metadata_object(metadata: Mapping[str, Any] | str) -> dict[str, Any]:
    if isinstance(metadata, str):
        try:
            value = json.loads(metadata)
        except ValueError as exc:
            raise InvalidMetadata(f"metadata is not valid JSON: {exc}") from None
    else:
        value = metadata
    if not isinstance(value, Mapping):
        raise InvalidMetadata(f"metadata must be a JSON object, not {type(value).__name__}")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise InvalidMetadata(f"metadata is not JSON-serializable: {exc}") from None
    return dict(value)


def metadata_as_object(metadata: Mapping[str, Any] | str | None) -> dict[str, Any] | None:
    """The object form REST wants; invalid metadata fails here, before any request."""
    return None if metadata is None else _metadata_object(metadata)


def metadata_as_text(metadata: Mapping[str, Any] | str | None) -> str | None:
    """The string form the WebSocket wants (the daemon rejects an object there)."""
    if metadata is None:
        return None
    obj = _metadata_object(metadata)
    return metadata if isinstance(metadata, str) else json.dumps(obj, separators=(",", ":"))


T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def decoded(operation: str, build: Callable[[], T]) -> T:
    """Decode a reply, turning a shape we do not understand into a :class:`MalformedReply`
    (instead of a bare ValidationError or KeyError escaping to the caller)."""
    try:
        return build()
    except (ValidationError, KeyError, TypeError, ValueError) as exc:
        detail = exc.errors(include_input=False) if isinstance(exc, ValidationError) else repr(exc)
        raise MalformedReply(f"the daemon's reply to {operation} was not understood: {detail}") from None


@functools.cache
def _list_of(model: type[M]) -> TypeAdapter[list[M]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def items_of(model: type[M], items: Any, **extra: Any) -> list[M]:
    """A list of models from a Go list that may be ``null``, each item optionally completed.

    The list is validated in one call (a history page holds up to a hundred messages; one
    ``model_validate`` per item was the client's largest cost per page)."""
    if not items:
        return []
    if extra and isinstance(items, list):
        items = [{**item, **extra} if isinstance(item, dict) else item for item in items]
    return _list_of(model).validate_python(items)
