"""Sans-I/O parts of the client: envelope, error classification, URLs, backoff, and the event stream."""

from __future__ import annotations

import json

import anyio
import pytest

from sharkfin_mcp.client import (
    AuthenticationError,
    BadRequest,
    Conflict,
    ExponentialBackoff,
    NotFound,
    PermissionDenied,
    ServerError,
    SharkfinError,
    is_loopback_url,
    rest_base_url,
    ws_url,
)
from sharkfin_mcp.client._errors import server_error_from_http, server_error_from_reply
from sharkfin_mcp.client._events import (
    CapabilitiesEvent,
    EventsDropped,
    EventStream,
    MessageEvent,
    PresenceEvent,
    ReconnectEvent,
    UnknownEvent,
    parse_event,
)
from sharkfin_mcp.client._protocol import Frame, RefCounter, decode_frame, encode_request, reply_payload
from sharkfin_mcp.client._urls import presence_url

pytestmark = pytest.mark.anyio


# -- envelope ----------------------------------------------------------------------------------


def test_encode_request_with_payload() -> None:
    text = encode_request("send_message", "ref_7", {"channel": "général", "body": "hi"})
    assert text == '{"type":"send_message","ref":"ref_7","d":{"channel":"général","body":"hi"}}'


def test_encode_request_without_payload_omits_d() -> None:
    assert json.loads(encode_request("ping", "ref_1")) == {"type": "ping", "ref": "ref_1"}


def test_ref_counter_counts_from_one_per_counter() -> None:
    first, second = RefCounter(), RefCounter()
    assert [first.next() for _ in range(3)] == ["ref_1", "ref_2", "ref_3"]
    assert second.next() == "ref_1"


def test_decode_reply_frame() -> None:
    frame = decode_frame('{"type":"reply","d":{"id":42},"ref":"ref_7","ok":true}')
    assert frame == Frame(type="reply", ref="ref_7", ok=True, data={"id": 42})
    assert frame.is_reply


def test_decode_event_frame_has_no_ref() -> None:
    frame = decode_frame(b'{"type":"presence","d":{"status":"offline","username":"bob"}}')
    assert frame == Frame(type="presence", ref=None, ok=None, data={"status": "offline", "username": "bob"})
    assert not frame.is_reply


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"type":"x","ref":"","ok":true}', Frame("x", None, True, None)),  # empty ref = event
        ('{"type":"x","ref":7,"ok":true}', Frame("x", None, True, None)),  # non-string ref = event
        ('{"type":"x","ref":null}', Frame("x", None, None, None)),
        ('{"type":5,"ok":"yes"}', Frame("", None, None, None)),  # non-string type, non-bool ok
        ("{}", Frame("", None, None, None)),
        ('{"type":"reply","ref":"r","ok":false,"d":null}', Frame("reply", "r", False, None)),
    ],
)
def test_decode_tolerates_odd_fields(raw: str, expected: Frame) -> None:
    assert decode_frame(raw) == expected


@pytest.mark.parametrize("raw", ["", "not json", "[1,2]", '"text"', "null", "42", b"\xff\xfe\xfd", b"{"])
def test_decode_rejects_non_objects(raw: str | bytes) -> None:
    assert decode_frame(raw) is None


def test_decode_deeply_nested_json_does_not_raise() -> None:
    # json.loads raises RecursionError (not ValueError) on very deep nesting; "never raises".
    assert decode_frame("[" * 100_000) is None
    assert decode_frame('{"type":"x","d":' + "[" * 100_000 + "]" * 100_000 + "}") is None


def test_reply_payload_returns_d_or_empty_dict() -> None:
    assert reply_payload(Frame("reply", "r", True, {"id": 1})) == {"id": 1}
    assert reply_payload(Frame("reply", "r", True, None)) == {}
    assert reply_payload(Frame("pong", "r", True, None)) == {}
    assert reply_payload(Frame("reply", "r", None, [1, 2])) == {}


@pytest.mark.parametrize("frame_type", ["error", "reply"])
def test_reply_payload_decides_by_ok_not_type(frame_type: str) -> None:
    frame = Frame(frame_type, "r", False, {"message": "channel not found: nope"})
    with pytest.raises(NotFound) as info:
        reply_payload(frame)
    assert info.value.message == "channel not found: nope"
    assert info.value.status is None
    assert str(info.value) == "channel not found: nope"


def test_reply_payload_error_without_message() -> None:
    with pytest.raises(ServerError) as info:
        reply_payload(Frame("error", "r", False, None))
    assert type(info.value) is ServerError
    assert info.value.message == "request failed"


# -- error classification ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("permission denied: create_channel", PermissionDenied),
        ("you are not a participant of this channel", PermissionDenied),
        ("only the group creator can delete it", PermissionDenied),
        ("only the group creator can manage members", PermissionDenied),
        ("notification-only connection", PermissionDenied),
        ("channel not found: nope", NotFound),
        ("user not found: ghost", NotFound),
        ("mention group not found: devs", NotFound),
        ("parent message not found: 0", NotFound),
        ("username is required", NotFound),
        ("channel is required", NotFound),
        ("insert channel: constraint failed: UNIQUE constraint failed: channels.name (2067)", Conflict),
        ("already a member", Conflict),
        ("slug conflicts with existing username: bob", Conflict),
        ("invalid arguments", BadRequest),
        ("invalid slug: must match [a-zA-Z0-9_-]+", BadRequest),
        ("state must be 'active' or 'idle'", BadRequest),
        ("cannot open DM with yourself", BadRequest),
        ("cannot reply to a reply (threads are 1 level deep)", BadRequest),
        ("parent message is in a different channel", BadRequest),
        ("unknown type: frobnicate", BadRequest),
        ("mark read: constraint failed: FOREIGN KEY constraint failed (787)", ServerError),
    ],
)
def test_server_error_from_reply_classifies_daemon_texts(message: str, cls: type[ServerError]) -> None:
    error = server_error_from_reply(message)
    assert type(error) is cls
    assert error.message == message
    assert error.status is None


def test_permission_denied_names_the_permission() -> None:
    error = server_error_from_reply("permission denied: create_channel")
    assert isinstance(error, PermissionDenied)
    assert error.permission == "create_channel"
    assert PermissionDenied("you are not a participant of this channel").permission is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, AuthenticationError),
        (403, PermissionDenied),
        (404, NotFound),
        (409, Conflict),
        (500, ServerError),
        (502, ServerError),
    ],
)
def test_server_error_from_http(status: int, cls: type[ServerError]) -> None:
    error = server_error_from_http(status, "channel not found\n")
    assert type(error) is cls
    assert error.status == status
    assert error.message == f"HTTP {status}: channel not found"
    assert isinstance(error, SharkfinError)


# -- URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "rest", "ws"),
    [
        ("ws://127.0.0.1:16000/ws", "http://127.0.0.1:16000", "ws://127.0.0.1:16000/ws"),
        ("wss://sf.example/ws", "https://sf.example", "wss://sf.example/ws"),
        ("http://127.0.0.1:16000", "http://127.0.0.1:16000", "ws://127.0.0.1:16000/ws"),
        ("http://127.0.0.1:16000/", "http://127.0.0.1:16000", "ws://127.0.0.1:16000/ws"),
        ("https://sf.example/base/", "https://sf.example/base", "wss://sf.example/base/ws"),
        ("ws://h:1/", "http://h:1", "ws://h:1/ws"),
        ("ws://h:1", "http://h:1", "ws://h:1/ws"),
        ("  WS://h:1/ws  ", "http://h:1", "ws://h:1/ws"),
    ],
)
def test_url_forms(url: str, rest: str, ws: str) -> None:
    assert rest_base_url(url) == rest
    assert ws_url(url) == ws


def test_rest_base_url_keeps_path_when_there_is_a_query() -> None:
    # Like the Go client: a URL with a query string is not stripped.
    assert rest_base_url("ws://h:1/ws?notifications_only=true") == "http://h:1/ws?notifications_only=true"


def test_ws_url_keeps_query() -> None:
    assert ws_url("ws://h:1/ws?notifications_only=true") == "ws://h:1/ws?notifications_only=true"


def test_presence_url() -> None:
    assert presence_url("ws://127.0.0.1:5/ws") == "ws://127.0.0.1:5/presence"
    assert presence_url("https://sf.example") == "wss://sf.example/presence"


@pytest.mark.parametrize("url", ["ftp://h/ws", "127.0.0.1:16000", "", "ws:///ws"])
def test_bad_urls_raise_value_error(url: str) -> None:
    with pytest.raises(ValueError, match=r"not a Sharkfin address"):
        ws_url(url)
    with pytest.raises(ValueError, match=r"not a Sharkfin address"):
        rest_base_url(url)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("ws://127.0.0.1:1/ws", True),
        ("ws://localhost:1/ws", True),
        ("ws://[::1]:1/ws", True),
        ("http://127.8.9.10", True),
        ("ws://10.0.0.1/ws", False),
        ("https://sf.example", False),
    ],
)
def test_is_loopback_url(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


# -- backoff ----------------------------------------------------------------------------------


def test_exponential_backoff_bounds() -> None:
    backoff = ExponentialBackoff(initial=0.1, factor=2.0, maximum=0.5)
    assert backoff(0) == 0.0
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (10, 0.5)]:
        for _ in range(20):
            delay = backoff(attempt)
            assert delay is not None
            assert ceiling / 2 <= delay <= ceiling


def test_exponential_backoff_gives_up() -> None:
    backoff = ExponentialBackoff(max_attempts=2)
    assert backoff(1) is not None
    assert backoff(2) is None
    assert ExponentialBackoff()(10_000) is not None


# -- events -----------------------------------------------------------------------------------


def test_parse_message_event() -> None:
    event = parse_event(
        "message.new",
        {
            "body": "hey @bob @backend",
            "channel": "general",
            "channel_type": "channel",
            "from": "alice",
            "id": 57,
            "mentions": ["bob", "backend"],
            "metadata": '{"event_type":"x"}',
            "sent_at": "2026-04-18T09:31:00Z",
            "thread_id": 41,
            "extra": "ignored",
        },
    )
    assert isinstance(event, MessageEvent)
    assert (event.id, event.channel, event.sender, event.body) == (
        57,
        "general",
        "alice",
        "hey @bob @backend",
    )
    assert event.mentions == ["bob", "backend"]
    assert event.metadata == {"event_type": "x"}
    assert event.thread_id == 41
    assert event.sent_at is not None and event.sent_at.isoformat() == "2026-04-18T09:31:00+00:00"


def test_parse_presence_and_capabilities_events() -> None:
    assert parse_event("presence", {"status": "offline", "username": "bob"}) == PresenceEvent(
        username="bob", status="offline"
    )
    online = parse_event("presence", {"state": "idle", "status": "online", "username": "bob"})
    assert isinstance(online, PresenceEvent) and online.state == "idle"
    caps = parse_event("capabilities", {"permissions": None})
    assert isinstance(caps, CapabilitiesEvent) and caps.permissions == []


def test_parse_unknown_and_malformed_events() -> None:
    assert parse_event("typing", {"who": "bob"}) == UnknownEvent(type="typing", data={"who": "bob"})
    assert parse_event("message.new", {"channel": "general"}) is None  # no id
    assert parse_event("presence", None) is None  # d missing
    assert parse_event("message.new", {"id": "not-a-number", "channel": "c"}) is None


async def test_event_stream_fifo_and_close() -> None:
    stream = EventStream(4)
    first, second = ReconnectEvent(attempts=1), ReconnectEvent(attempts=2)
    stream.put(first)
    stream.put(second)
    assert len(stream) == 2
    stream.close()
    stream.put(ReconnectEvent(attempts=3))  # ignored once closed
    assert [event async for event in stream] == [first, second]
    assert await stream.get() is None


async def test_event_stream_drops_oldest_and_reports_once() -> None:
    stream = EventStream(3)
    events = [ReconnectEvent(attempts=i) for i in range(10)]
    for event in events:
        stream.put(event)
    assert stream.dropped == 7
    assert stream.get_nowait() == EventsDropped(count=7)
    assert [stream.get_nowait() for _ in range(3)] == events[7:]
    assert stream.get_nowait() is None
    stream.put(events[0])
    stream.put(events[1])
    stream.put(events[2])
    stream.put(events[3])
    assert stream.get_nowait() == EventsDropped(count=1)
    assert stream.dropped == 8


async def test_event_stream_wakes_a_waiting_consumer() -> None:
    stream = EventStream(2)
    received: list[object] = []

    async def consume() -> None:
        received.append(await stream.get())
        received.append(await stream.get())

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.sleep(0.01)
            stream.put(ReconnectEvent(attempts=5))
            await anyio.sleep(0.01)
            stream.close()
    assert received == [ReconnectEvent(attempts=5), None]


def test_event_stream_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"at least 1"):
        EventStream(0)


@pytest.mark.parametrize(
    "raw",
    [
        '{"type":"x","d":{"s":"\\ud800 lone surrogate"}}',
        '{"type":"x","d":{"n":NaN,"i":Infinity,"big":123456789012345678901234567890,"f":1e400}}',
        '{"type":"x","d":{"k":1,"k":2}}',
        '{"type":"x","d":{"s":"caf\\u00e9 \\u2028 \\"q\\""}}',
        b'{"type":"x","ref":"r1","ok":true,"d":{"messages":[{"id":1,"from":"a"}]}}',
    ],
)
def test_decode_frame_reads_what_json_loads_reads(raw: str | bytes) -> None:
    """The fast decoder and its standard-library fallback agree with ``json.loads`` on the odd
    corners of JSON (NaN compares unequal to itself, so those are compared as text)."""
    frame = decode_frame(raw)
    assert frame is not None
    assert repr(frame.data) == repr(json.loads(raw)["d"])
