"""No forged rows: every text rendering has exactly one line per row, whatever the fields hold
(line terminators of every kind, other controls, bidi overrides, lone surrogates), and the text
can always be encoded for the wire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sharkfin_mcp.client import DM, Channel, MentionGroup, Message, UnreadCount, User, Webhook
from sharkfin_mcp.server._buffer import BufferedEvent
from sharkfin_mcp.server._render import (
    channel_line,
    clean,
    clean_json,
    dm_line,
    group_detail,
    group_line,
    lines,
    setting_line,
    unread_count_line,
    user_line,
    webhook_line,
)
from sharkfin_mcp.server._results import (
    EventOut,
    _message_line,
    message_line,
    message_row,
    render_messages,
    utc_text,
)

DANGEROUS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\u202e\u2066\u200f\ufeff\x00\x1b\x7f\x9b\t\\\ud800\udfff"
"""Every kind of line terminator, controls, bidi overrides, the BOM, a backslash, lone surrogates."""
char = st.one_of(st.sampled_from(list(DANGEROUS)), st.characters(exclude_categories=()))
field = st.text(alphabet=char, max_size=12)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | field,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(field, inner, max_size=3),
    max_leaves=5,
)
BIDI_AND_SEPARATORS = (
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029\x85"
)

messages = st.builds(
    lambda i, ch, sender, body, thread, mentions, meta: Message.model_validate(
        {
            "id": i,
            "from": sender,
            "body": body,
            "sent_at": datetime(2026, 1, 2, tzinfo=UTC),
            "thread_id": thread,
            "mentions": mentions,
            "metadata": meta,
            "channel": ch,
        }
    ),
    st.integers(1, 10**9),
    field,
    field,
    field,
    st.none() | st.integers(1, 10**6),
    st.lists(field, max_size=2),
    st.none() | st.dictionaries(field, json_value, max_size=3),
)

KINDS: dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], str]]] = {
    "message": (messages, lambda m: message_line(message_row(m), m.channel or "")),
    "channel": (st.builds(Channel, name=field, public=st.booleans(), member=st.booleans()), channel_line),
    "unread_count": (
        st.builds(
            UnreadCount, channel=field, type=field, unread_count=st.integers(0), mention_count=st.integers(0)
        ),
        unread_count_line,
    ),
    "user": (
        st.builds(User, username=field, online=st.booleans(), type=field, state=st.none() | field),
        user_line,
    ),
    "dm": (st.builds(DM, channel=field, participant=field), dm_line),
    "group": (
        st.builds(MentionGroup, id=st.integers(1), slug=field, members=st.lists(field, max_size=3)),
        group_line,
    ),
    "group_detail": (
        st.builds(
            MentionGroup, id=st.integers(1), slug=field, created_by=field, members=st.lists(field, max_size=3)
        ),
        group_detail,
    ),
    "webhook": (st.builds(Webhook, id=field, url=field), webhook_line),
    "setting": (st.tuples(field, field), setting_line),
    "event": (
        st.builds(
            lambda seq, kind, data: EventOut.of(
                BufferedEvent(seq=seq, type=kind, data=data, received_at=datetime.now(UTC))
            ),
            st.integers(1, 10**6),
            st.sampled_from(["presence", "connection", "gap"]) | field,
            st.dictionaries(field, json_value, max_size=3),
        ),
        lambda e: e.line(),
    ),
    "message_event": (
        st.builds(
            lambda seq, m: EventOut.of(
                BufferedEvent(
                    seq=seq,
                    type="message.new",
                    data=message_row(m),
                    channel=m.channel,
                    received_at=datetime.now(UTC),
                )
            ),
            st.integers(1, 10**6),
            messages,
        ),
        lambda e: e.line(),
    ),
}


def _check(text: str, rows: int) -> None:
    assert len(text.splitlines()) == rows, text
    text.encode("utf-8")  # no lone surrogates: the wire would refuse the whole result
    assert not any(c in text for c in BIDI_AND_SEPARATORS), ascii(text)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), kind=st.sampled_from(sorted(KINDS)))
def test_every_rendering_has_one_line_per_row(data: st.DataObject, kind: str) -> None:
    strategy, render = KINDS[kind]
    rows = data.draw(st.lists(strategy, min_size=1, max_size=5), label="rows")
    _check(lines(rows, render, "none"), len(rows))


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(messages, min_size=1, max_size=5), channel=field)
def test_message_listings_have_one_line_per_message(rows: list[Message], channel: str) -> None:
    _check(render_messages([message_row(m) for m in rows], channel), len(rows))


@settings(max_examples=300, deadline=None)
@given(text=field, value=json_value)
def test_clean_is_one_line_and_reversible_enough_to_read(text: str, value: Any) -> None:
    cleaned = clean(text)
    assert len(cleaned.splitlines()) <= 1 and "\n" not in cleaned
    if "\\" not in text and text.isprintable():
        assert cleaned == text  # ordinary text is left alone
    as_json = clean_json(value)
    assert len(as_json.splitlines()) <= 1
    as_json.encode("utf-8")


def test_escapes_are_readable() -> None:
    assert clean("a\nb\r\u2028c\x85\u202ed\\") == "a\\nb\\r\\u2028c\\x85\\u202ed\\\\"
    assert clean_json({"k": "x\u2029y\n"}) == '{"k":"x\\u2029y\\n"}'
    assert clean("\ud800") == "\\ud800"


@settings(max_examples=300, deadline=None)
@given(message=messages, channel=field)
def test_message_line_matches_escaping_every_field(message: Message, channel: str) -> None:
    """The one-search fast path renders exactly what escaping each field one by one renders."""
    row = message_row(message)
    meta = f" meta={clean_json(row['metadata'])}" if row.get("metadata") else ""
    assert message_line(row, channel) == _message_line(row, channel, meta, clean)


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1000, 1, 2),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), None]),
    )
)
def test_utc_text_is_rfc3339_utc_to_the_second(moment: datetime) -> None:
    """What ``strftime`` gave before, for any offset and with or without microseconds."""
    in_utc = moment.astimezone(UTC) if moment.tzinfo else moment
    assert utc_text(moment) == in_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
