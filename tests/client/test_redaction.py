"""Where transport failures become our errors, their texts are redacted: a proxy or a broken
daemon that echoes the request's ``Authorization`` header back (in an error page, a refused
WebSocket upgrade, a REST error body) must not put the key into the exception, whatever
characters the key holds. Keys that cannot be a header value at all are refused before
anything is sent, without being quoted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharkfin_mcp.client import (
    AdminClient,
    ConnectError,
    PresenceKeeper,
    RESTClient,
    ServerError,
    SharkfinClient,
    SharkfinError,
    redact,
)
from sharkfin_mcp.client._auth import forget_secret, remember_secret

pytestmark = pytest.mark.anyio

ODD_KEYS = [
    "sk-plain-0123456789abcdef",
    'sk-"double"-quoted-0123456789',
    "sk-'single'-quoted-0123456789",
    "sk-back\\slash-and;semi,colon-0123",
    "sk-<angle>&amp;-0123456789",
]


class EchoAuthorization(BaseHTTPRequestHandler):
    """Answers every request with ``status`` and a body that quotes the Authorization header."""

    protocol_version = "HTTP/1.1"
    status = 400

    def _echo(self) -> None:
        body = f"bad request; you sent Authorization: {self.headers.get('Authorization')}\n".encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _echo

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(params=[400, 403, 500, 502])
def echo_server(request: pytest.FixtureRequest) -> Iterator[int]:
    handler = type("Echo", (EchoAuthorization,), {"status": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("key", ODD_KEYS)
async def test_an_echoed_key_never_reaches_an_exception(echo_server: int, key: str) -> None:
    url = f"ws://127.0.0.1:{echo_server}/ws"
    client = SharkfinClient(url, api_key=key, connect_timeout=2, request_timeout=2)
    try:
        with pytest.raises(SharkfinError) as dialled:
            await client.open()
        with pytest.raises(ServerError) as rest:
            await client.register()
    finally:
        await client.close()
    for error in (dialled.value, rest.value):
        text = f"{error} {error!r} {error.args}"
        assert key not in text, text
        assert "ApiKey-v1 ***" in text or "HTTP" in text
    assert "you sent Authorization: ApiKey-v1 ***" in str(rest.value)


async def test_a_standalone_rest_client_redacts_too(echo_server: int) -> None:
    key = ODD_KEYS[1]
    async with RESTClient(f"http://127.0.0.1:{echo_server}", api_key=key) as rest:
        with pytest.raises(ServerError) as refused:
            await rest.channels()
    assert key not in str(refused.value) and "ApiKey-v1 ***" in str(refused.value)


@pytest.mark.parametrize("key", ["sk-line\r\nX-Injected: 1", "sk-clé-0123", "sk space", "sk-\x00-nul"])
def test_keys_that_cannot_be_a_header_are_refused_unquoted(key: str) -> None:
    for make in (
        lambda: SharkfinClient("ws://127.0.0.1:9/ws", api_key=key),
        lambda: RESTClient("http://127.0.0.1:9", api_key=key),
        lambda: PresenceKeeper("ws://127.0.0.1:9/ws", api_key=key),
    ):
        with pytest.raises(ValueError, match="cannot be sent in an HTTP header") as refused:
            make()
        assert key not in str(refused.value)
        assert "sk-" not in str(refused.value)


async def test_unreachable_daemon_error_carries_no_key() -> None:
    key = ODD_KEYS[2]
    with pytest.raises(ConnectError) as unreachable:
        await SharkfinClient.connect("ws://127.0.0.1:9/ws", api_key=key, connect_timeout=1)
    assert key not in str(unreachable.value)


@settings(max_examples=200, deadline=None)
@given(
    # any header-safe key but one holding "***" (the redaction mark itself)
    key=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="*"),
        min_size=6,
        max_size=40,
    ),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
    scheme=st.sampled_from(["ApiKey-v1 ", "Bearer ", "authorization: ApiKey-v1 ", ""]),
)
def test_redact_removes_any_live_key_from_any_text(key: str, before: str, after: str, scheme: str) -> None:
    remember_secret(key)
    try:
        scrubbed = redact(f"{before}{scheme}{key}{after}")
    finally:
        forget_secret(key)
    assert key not in scrubbed


async def test_the_admin_client_over_mcp_redacts_too(echo_server: int) -> None:
    """The role tools' JSON-RPC path (``/mcp``) maps HTTP errors like REST does, redacted."""
    key = ODD_KEYS[3]
    admin = AdminClient(f"http://127.0.0.1:{echo_server}", api_key=key)
    try:
        with pytest.raises(ServerError) as refused:
            await admin.list_roles()
    finally:
        await admin.aclose()
    errors = (refused.value, refused.value.__context__)  # 403 is re-raised with a plainer text
    text = " ".join(f"{e} {e!r} {e.args}" for e in errors if e is not None)
    assert not _fragments(key, text) and "ApiKey-v1 ***" in text


def _fragments(key: str, text: str, width: int = 8) -> list[str]:
    """Pieces of ``key`` that survived in ``text`` (a key cut short at a ``;`` still leaks)."""
    return [key[i : i + width] for i in range(len(key) - width + 1) if key[i : i + width] in text]


def _error_classes(cls: type[SharkfinError] = SharkfinError) -> list[type[SharkfinError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _error_classes(sub)
    return found


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("key", ODD_KEYS)
def test_every_error_class_redacts_the_text_it_is_given(cls: type[SharkfinError], key: str) -> None:
    """Redaction is the errors' own job, not each raise site's: a new error or a new raise site
    cannot forget it."""
    remember_secret(key)
    try:
        error = cls(f"upstream said: {key}; Authorization: Bearer tok-{key}")
    finally:
        forget_secret(key)
    text = f"{error} {error!r} {error.args} {getattr(error, 'message', '')}"
    assert not _fragments(key, text)
    assert "Bearer ***" in text
