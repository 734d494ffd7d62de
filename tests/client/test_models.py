"""Payload models and metadata handling, plus Hypothesis properties on the frame decoder and models."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharkfin_mcp.client import (
    DM,
    Channel,
    DMOpened,
    InvalidMetadata,
    MalformedReply,
    MentionGroup,
    Message,
    MessageEvent,
    RegisteredIdentity,
    SentMessage,
    UnreadCount,
    User,
    Webhook,
)
from sharkfin_mcp.client._events import parse_event
from sharkfin_mcp.client._models import decoded, items_of, metadata_as_object, metadata_as_text
from sharkfin_mcp.client._protocol import Frame, decode_frame


def test_history_message_with_everything() -> None:
    message = Message.model_validate(
        {
            "id": 42,
            "from": "bob",
            "body": "ack",
            "sent_at": "2026-04-18T09:30:09Z",
            "thread_id": 41,
            "metadata": '{"k":1}',
            "mentions": ["alice"],
            "channel": "general",
        }
    )
    assert message.id == 42
    assert message.sender == "bob"
    assert message.metadata == {"k": 1}
    assert message.thread_id == 41
    assert message.mentions == ["alice"]
    assert (
        message.sent_at is not None
        and message.sent_at.year == 2026
        and message.sent_at.utcoffset() is not None
    )


def test_unread_message_without_id_and_with_nulls() -> None:
    message = Message.model_validate(
        {"channel": "general", "from": "alice", "body": "x", "mentions": None, "metadata": None}
    )
    assert message.id is None
    assert message.mentions == []
    assert message.metadata is None


@pytest.mark.parametrize(
    ("wire", "decoded"),
    [
        ('{"a":{"b":[1,2]}}', {"a": {"b": [1, 2]}}),
        ("", None),
        ("not json", "not json"),  # WS stores any string; kept as text
        ("[1]", [1]),
        ({"already": "object"}, {"already": "object"}),  # REST POST response
    ],
)
def test_message_metadata_forms(wire: Any, decoded: Any) -> None:
    assert Message.model_validate({"metadata": wire}).metadata == decoded


def test_other_models() -> None:
    assert User.model_validate({"username": "bob", "online": False, "type": "agent"}) == User(
        username="bob", online=False, type="agent", state=None
    )
    assert Channel.model_validate({"id": 1, "name": "general", "public": True, "member": False}).id == 1
    assert DM.model_validate({"channel": "dm-alice-bob", "participant": "bob"}).participant == "bob"
    opened = DMOpened.model_validate({"channel": "dm-alice-bob", "created": True, "participant": "bob"})
    assert opened.created is True
    group = MentionGroup.model_validate(
        {"id": 3, "slug": "backend", "created_by": "alice", "created_at": "2026-04-18T09:00:00Z"}
    )
    assert group.members == [] and group.created_at is not None
    count = UnreadCount.model_validate(
        {"channel": "dm-a-b", "type": "dm", "unread_count": 3, "mention_count": 1}
    )
    assert (count.type, count.unread_count, count.mention_count) == ("dm", 3, 1)
    assert Webhook.model_validate({"active": True, "id": "ab" * 16, "url": "http://x/hook"}).id == "ab" * 16
    ident = RegisteredIdentity.model_validate(
        {"id": "f" * 32, "role": "bot", "type": "service", "username": "fb"}
    )
    assert ident.role == "bot"
    sent = SentMessage.model_validate(
        {"body": "t", "id": 58, "metadata": None, "sent_at": "2026-04-18T09:32:00Z"}
    )
    assert sent.id == 58 and sent.metadata is None


def test_models_are_frozen() -> None:
    user = User(username="bob")
    with pytest.raises(ValueError, match=r"frozen"):
        user.username = "eve"  # type: ignore[misc]


# -- metadata conversions ---------------------------------------------------------------------


def test_metadata_as_text_and_object() -> None:
    assert metadata_as_text(None) is None
    assert metadata_as_object(None) is None
    assert metadata_as_text({"k": 1, "n": {"x": [1]}}) == '{"k":1,"n":{"x":[1]}}'
    assert metadata_as_text('{ "k" : 1 }') == '{ "k" : 1 }'  # text is sent verbatim
    assert metadata_as_object('{"k": {"nested": true}}') == {"k": {"nested": True}}
    assert metadata_as_object({"k": 1}) == {"k": 1}


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", '"text"', "3", "null", "", {"k": object()}])
def test_invalid_metadata_raises(bad: Any) -> None:
    with pytest.raises(InvalidMetadata) as info:
        metadata_as_object(bad)
    assert isinstance(info.value, ValueError)
    with pytest.raises(InvalidMetadata):
        metadata_as_text(bad)


# -- Hypothesis ---------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(st.text() | st.binary())
def test_decode_frame_never_raises_on_arbitrary_input(raw: str | bytes) -> None:
    frame = decode_frame(raw)
    assert frame is None or isinstance(frame, Frame)


@settings(max_examples=80)
@given(st.dictionaries(st.sampled_from(["type", "ref", "ok", "d", "x"]), json_values))
def test_decode_frame_on_arbitrary_objects(obj: dict[str, Any]) -> None:
    frame = decode_frame(json.dumps(obj))
    assert frame is not None
    assert isinstance(frame.type, str)
    assert frame.ref is None or (isinstance(frame.ref, str) and frame.ref)
    assert frame.ok in (None, True, False)
    assert frame.ref == (obj.get("ref") or None if isinstance(obj.get("ref"), str) else None)


@settings(max_examples=60)
@given(
    extra=st.dictionaries(
        st.text(min_size=1, max_size=8).filter(lambda k: k not in Message.model_fields and k != "from"),
        json_values,
        max_size=4,
    ),
    mentions=st.none() | st.lists(st.text(max_size=8), max_size=3),
    message_id=st.none() | st.integers(min_value=1, max_value=2**63 - 1),
    metadata=st.none() | st.text(max_size=20),
)
def test_message_model_accepts_null_lists_and_extra_fields(
    extra: dict[str, Any], mentions: list[str] | None, message_id: int | None, metadata: str | None
) -> None:
    payload = {
        **extra,
        "from": "alice",
        "body": "b",
        "mentions": mentions,
        "id": message_id,
        "metadata": metadata,
    }
    message = Message.model_validate(payload)
    assert message.mentions == (mentions or [])
    assert message.id == message_id
    assert message.sender == "alice"


@settings(max_examples=60)
@given(
    extra=st.dictionaries(st.sampled_from(["zzz", "Channel_Type2", "x", "room"]), json_values, max_size=3),
    mentions=st.none() | st.lists(st.text(max_size=8), max_size=3),
    message_id=st.integers(min_value=1, max_value=2**63 - 1),
)
def test_message_event_accepts_null_lists_and_extra_fields(
    extra: dict[str, Any], mentions: list[str] | None, message_id: int
) -> None:
    event = parse_event("message.new", {**extra, "id": message_id, "channel": "c", "mentions": mentions})
    assert isinstance(event, MessageEvent)
    assert event.id == message_id
    assert event.mentions == (mentions or [])


@settings(max_examples=60)
@given(st.sampled_from(["message.new", "presence", "capabilities", "typing", ""]), json_values)
def test_parse_event_never_raises(event_type: str, data: Any) -> None:
    parse_event(event_type, data)


@settings(max_examples=80)
@given(
    items=st.none() | st.lists(json_values, max_size=4) | json_values,
    channel=st.none() | st.text(max_size=5),
)
def test_items_of_matches_validating_each_item(items: Any, channel: str | None) -> None:
    """The one-call list validation accepts and refuses exactly what validating item by item did."""
    extra = {"channel": channel} if channel is not None else {}

    def one_by_one() -> list[Message]:
        return [Message.model_validate({**i, **extra} if extra else i) for i in items or []]

    try:
        expected: list[Message] | None = decoded("history", one_by_one)
    except MalformedReply:
        expected = None
    try:
        got: list[Message] | None = decoded("history", lambda: items_of(Message, items, **extra))
    except MalformedReply:
        got = None
    assert got == expected
