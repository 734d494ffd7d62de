"""``RESTClient``: the Go ``rest_client_test.go`` counterparts (PROTOCOL.md §13.3) on an
``httpx.MockTransport``, then every method against the sandbox's real HTTP listener."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from sharkfin_mcp.client import (
    AuthenticationError,
    BadRequest,
    Channel,
    Conflict,
    ConnectError,
    CreatedChannel,
    InvalidMetadata,
    MessageEvent,
    NotFound,
    PermissionDenied,
    RegisteredIdentity,
    RequestTimeout,
    RESTClient,
    ServerError,
    Webhook,
)

from .helpers import client_as, closed_port, next_event, no_event

pytestmark = pytest.mark.anyio

BASE = "http://sf.test:16000"


class Recorder:
    """A MockTransport that answers from a route table and records every request."""

    def __init__(
        self, routes: dict[tuple[str, str], httpx.Response | Callable[[httpx.Request], httpx.Response]]
    ):
        self.routes = routes
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.raw_path.decode().split("?")[0]))
        if answer is None:
            return httpx.Response(404, text="404 page not found\n")
        return answer(request) if callable(answer) else answer

    def client(self, base: str = BASE, api_key: str | None = "wf-svc_key") -> RESTClient:
        return RESTClient(base, api_key=api_key, transport=self.transport)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


async def test_api_key_uses_apikey_v1_scheme() -> None:  # TestRESTClient_APIKeyUsesApiKeyV1Scheme
    rec = Recorder({("GET", "/api/v1/channels"): httpx.Response(200, json=[])})
    async with rec.client() as rest:
        await rest.channels()
    async with rec.client(api_key=None) as anonymous:
        await anonymous.channels()
    assert rec.requests[0].headers["Authorization"] == "ApiKey-v1 wf-svc_key"
    assert "Authorization" not in rec.requests[1].headers


async def test_constructor_does_not_dial() -> None:  # TestNewRESTClient_NoDial
    rec = Recorder({})
    rest = rec.client()
    assert rest.base_url == BASE
    assert repr(rest) == f"RESTClient({BASE!r})"
    await rest.aclose()
    await rest.aclose()  # harmless
    assert rec.requests == []
    # Nothing listens on this port, and constructing a client does not notice.
    idle = RESTClient(f"http://127.0.0.1:{closed_port()}")
    await idle.aclose()


async def test_register() -> None:  # TestRESTClientRegister
    body = {"id": "0" * 32, "role": "bot", "type": "service", "username": "flow-bot"}
    rec = Recorder({("POST", "/api/v1/auth/register"): httpx.Response(201, json=body)})
    async with rec.client() as rest:
        assert await rest.register() == RegisteredIdentity(
            id="0" * 32, username="flow-bot", role="bot", type="service"
        )
    assert rec.requests[0].headers["Authorization"] == "ApiKey-v1 wf-svc_key"


async def test_channels() -> None:  # TestRESTClientChannels
    rows = [
        {"id": 1, "name": "general", "public": True, "member": False},
        {"id": 7, "name": "ops", "public": False, "member": True},
    ]
    rec = Recorder({("GET", "/api/v1/channels"): httpx.Response(200, json=rows)})
    async with rec.client() as rest:
        assert await rest.channels() == [
            Channel(id=1, name="general", public=True, member=False),
            Channel(id=7, name="ops", public=False, member=True),
        ]


async def test_create_channel() -> None:  # TestRESTClientCreateChannel
    rec = Recorder(
        {("POST", "/api/v1/channels"): httpx.Response(201, json={"id": 7, "name": "ops", "public": True})}
    )
    async with rec.client() as rest:
        assert await rest.create_channel("ops", True) == CreatedChannel(id=7, name="ops", public=True)
        await rest.create_channel("quiet")
    assert rec.body(0) == {"name": "ops", "public": True}
    assert rec.body(1) == {"name": "quiet", "public": False}
    assert rec.requests[0].headers["Content-Type"] == "application/json"


async def test_join_channel() -> None:  # TestRESTClientJoinChannel
    rec = Recorder(
        {
            ("POST", "/api/v1/channels/general/join"): httpx.Response(200),
            ("POST", "/api/v1/channels/a%20b%2Fc%3F/join"): httpx.Response(200),
        }
    )
    async with rec.client() as rest:
        assert await rest.join_channel("general") is None
        assert await rest.join_channel("a b/c?") is None  # path-escaped, one segment
    assert rec.requests[0].content == b""


async def test_send_message() -> None:  # TestRESTClientSendMessage
    reply = {"body": "text", "id": 58, "metadata": None, "sent_at": "2026-04-18T09:32:00Z"}
    rec = Recorder({("POST", "/api/v1/channels/general/messages"): httpx.Response(201, json=reply)})
    async with rec.client() as rest:
        sent = await rest.send_message("general", "text")
        assert (sent.id, sent.body, sent.metadata) == (58, "text", None)
        assert sent.sent_at is not None
        await rest.send_message("general", "re", thread_id=41)
    assert rec.body(0) == {"body": "text"}
    assert rec.body(1) == {"body": "re", "thread_id": 41}


@pytest.mark.parametrize(
    "metadata",
    [
        '{"event_type": "x", "nested": {"a": [1, {"b": null}]}}',
        {"event_type": "x", "nested": {"a": [1, {"b": None}]}},
    ],
)
async def test_send_message_metadata_is_an_object(metadata: Any) -> None:  # TestRESTClientSendMessageMetadata
    def echo(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        return httpx.Response(
            201,
            json={
                "body": sent["body"],
                "id": 1,
                "metadata": sent["metadata"],
                "sent_at": "2026-04-18T09:32:00Z",
            },
        )

    rec = Recorder({("POST", "/api/v1/channels/general/messages"): echo})
    async with rec.client() as rest:
        sent = await rest.send_message("general", "hi", metadata=metadata)
    expected = {"event_type": "x", "nested": {"a": [1, {"b": None}]}}
    assert rec.body() == {"body": "hi", "metadata": expected}  # an object on the wire, not a string
    assert sent.metadata == expected


@pytest.mark.parametrize("metadata", ["{not json", "[1, 2]", '"a string"', "42", "", {"k": object()}])
async def test_send_message_invalid_metadata_makes_no_request(metadata: Any) -> None:
    # TestRESTClientSendMessageInvalidMetadata
    rec = Recorder({("POST", "/api/v1/channels/general/messages"): httpx.Response(201, json={"id": 1})})
    async with rec.client() as rest:
        with pytest.raises(InvalidMetadata):
            await rest.send_message("general", "hi", metadata=metadata)
    assert rec.requests == []


async def test_list_messages() -> None:  # TestRESTClientListMessages
    rows = [
        {"id": 57, "from": "alice", "body": "a", "sent_at": "2026-04-18T09:31:00Z"},
        {
            "id": 58,
            "from": "flow-bot",
            "body": "b",
            "metadata": '{"k":1}',
            "thread_id": 57,
            "sent_at": "2026-04-18T09:32:00Z",
        },
    ]
    rec = Recorder({("GET", "/api/v1/channels/general/messages"): httpx.Response(200, json=rows)})
    async with rec.client() as rest:
        messages = await rest.list_messages("general", limit=10)
        assert [(m.id, m.sender, m.body, m.channel) for m in messages] == [
            (57, "alice", "a", "general"),
            (58, "flow-bot", "b", "general"),
        ]
        assert messages[1].metadata == {"k": 1} and messages[1].thread_id == 57
        await rest.list_messages("general", before=58, after=3)
    assert dict(rec.requests[0].url.params) == {"limit": "10"}
    assert dict(rec.requests[1].url.params) == {"before": "58", "after": "3"}


async def test_register_webhook() -> None:  # TestRESTClientRegisterWebhook
    rec = Recorder(
        {
            ("POST", "/api/v1/webhooks"): httpx.Response(
                201, json={"active": True, "id": "h1", "url": "http://x/h"}
            )
        }
    )
    async with rec.client() as rest:
        assert await rest.register_webhook("http://x/h") == "h1"
    assert rec.body() == {"url": "http://x/h"}


async def test_list_webhooks() -> None:  # TestRESTClientListWebhooks
    rec = Recorder(
        {
            ("GET", "/api/v1/webhooks"): httpx.Response(
                200, json=[{"id": "h1", "url": "http://x/h", "active": True}]
            )
        }
    )
    async with rec.client() as rest:
        assert await rest.list_webhooks() == [Webhook(id="h1", url="http://x/h", active=True)]


async def test_unregister_webhook() -> None:  # TestRESTClientUnregisterWebhook
    rec = Recorder({("DELETE", "/api/v1/webhooks/h%2F1"): httpx.Response(204)})
    async with rec.client() as rest:
        assert await rest.unregister_webhook("h/1") is None
    assert len(rec.requests) == 1


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (404, NotFound),
        (409, Conflict),
        (400, BadRequest),
        (401, AuthenticationError),
        (403, PermissionDenied),
        (500, ServerError),
        (503, ServerError),
    ],
)
async def test_error_mapping(status: int, cls: type[ServerError]) -> None:  # TestRESTClientErrorMapping
    rec = Recorder({("GET", "/api/v1/channels"): httpx.Response(status, text="something failed\n")})
    async with rec.client() as rest:
        with pytest.raises(cls) as info:
            await rest.channels()
    assert type(info.value) is cls
    assert info.value.status == status
    assert info.value.message == f"HTTP {status}: something failed"


async def test_transport_errors() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    rec = Recorder({("GET", "/api/v1/channels"): timeout, ("GET", "/api/v1/webhooks"): refused})
    async with rec.client() as rest:
        with pytest.raises(RequestTimeout, match=r"GET /channels"):
            await rest.channels()
        with pytest.raises(ConnectError, match=r"cannot reach Sharkfin at http://sf.test:16000"):
            await rest.list_webhooks()


async def test_ws_url_is_accepted() -> None:
    rec = Recorder({("GET", "/api/v1/channels"): httpx.Response(200, json=[])})
    async with rec.client(base="ws://sf.test:16000/ws") as rest:
        assert rest.base_url == BASE
        assert await rest.channels() == []
    assert str(rec.requests[0].url) == BASE + "/api/v1/channels"


# -- against the sandbox -----------------------------------------------------------------------


async def test_round_trip(sandbox: Any) -> None:  # TestRESTClientRoundTrip
    async with RESTClient(sandbox.ws_url, api_key=sandbox.key("bob")) as bob:  # ws:// form accepted
        created = await bob.create_channel("ops", True)  # REST has no RBAC: a user can create
        assert (created.name, created.public) == ("ops", True) and isinstance(created.id, int)
        async with RESTClient(sandbox.http_url, api_key=sandbox.key("alice")) as alice:
            await alice.join_channel("ops")
            first = await alice.send_message("ops", "one")
            second = await alice.send_message("ops", "two", thread_id=first.id, metadata={"z": 1, "a": "<&>"})
            assert second.id > first.id and second.metadata == {"z": 1, "a": "<&>"}
            messages = await bob.list_messages("ops")
        assert [(m.id, m.sender, m.body, m.thread_id) for m in messages] == [
            (first.id, "alice", "one", None),
            (second.id, "alice", "two", first.id),
        ]
        assert messages[1].metadata == {"a": "<&>", "z": 1}  # stored as a string, decoded back
        assert [m.id for m in await bob.list_messages("ops", limit=1)] == [second.id]
        assert [m.id for m in await bob.list_messages("ops", before=second.id)] == [first.id]
        assert [m.id for m in await bob.list_messages("ops", after=first.id)] == [second.id]
        assert [c.name for c in await bob.channels()] == ["general", "ops"]
        assert [c.member for c in await bob.channels()] == [False, True]


async def test_every_method_against_sandbox(sandbox: Any) -> None:
    async with RESTClient(sandbox.http_url, api_key=sandbox.key("flow-bot")) as bot:
        identity = await bot.register()
        assert (identity.username, identity.role, identity.type) == ("flow-bot", "bot", "service")
        assert await bot.channels() == [Channel(id=1, name="general", public=True, member=False)]
        await bot.join_channel("general")
        sent = await bot.send_message("general", "hello", metadata='{"k": [1, 2]}')
        assert sent.body == "hello" and sent.metadata == {"k": [1, 2]}
        assert [m.body for m in await bot.list_messages("general")] == ["hello"]
        hook = await bot.register_webhook("http://127.0.0.1:9/hook")
        assert await bot.list_webhooks() == [Webhook(id=hook, url="http://127.0.0.1:9/hook", active=True)]
        await bot.unregister_webhook(hook)
        assert await bot.list_webhooks() == []


async def test_error_statuses_from_sandbox(sandbox: Any) -> None:
    async with RESTClient(sandbox.http_url, api_key=sandbox.key("alice")) as alice:
        with pytest.raises(NotFound) as not_found:
            await alice.send_message("nowhere", "x")
        assert (not_found.value.status, not_found.value.message) == (404, "HTTP 404: channel not found")
        with pytest.raises(NotFound):
            await alice.join_channel("nowhere")
        with pytest.raises(NotFound):
            await alice.list_messages("nowhere")
        with pytest.raises(BadRequest) as bad:
            await alice.send_message("general", "")  # empty body
        assert (bad.value.status, bad.value.message) == (400, "HTTP 400: body is required")
        with pytest.raises(BadRequest, match=r"^HTTP 400: name is required$"):
            await alice.create_channel("")
        with pytest.raises(BadRequest, match=r"^HTTP 400: url is required$"):
            await alice.register_webhook("")
        await alice.join_channel("general")
        with pytest.raises(ServerError) as dup:
            await alice.join_channel("general")  # no 409 on the real daemon: 500
        assert type(dup.value) is ServerError
        assert (dup.value.status, dup.value.message) == (500, "HTTP 500: join channel failed")
        with pytest.raises(ServerError, match=r"^HTTP 500: create channel failed$"):
            await alice.create_channel("general")
        with pytest.raises(ServerError, match=r"^HTTP 500: send message failed$") as thread:
            await alice.send_message("general", "x", thread_id=999)
        assert thread.value.status == 500
    async with RESTClient(sandbox.http_url, api_key="wrong-key") as stranger:
        with pytest.raises(AuthenticationError) as auth:
            await stranger.channels()
        assert auth.value.status == 401
        assert auth.value.message == 'HTTP 401: {"error":"auth: invalid token"}'


async def test_rest_send_is_not_pushed_to_ws(sandbox: Any) -> None:
    async with client_as(sandbox, "bob") as bob:
        await bob.join_channel("general")
        async with RESTClient(sandbox.http_url, api_key=sandbox.key("alice")) as alice:
            sent = await alice.send_message("general", "over REST @bob")
        await no_event(bob, 0.1)
        history = await bob.history("general")
        assert [(m.id, m.body, m.mentions) for m in history] == [(sent.id, "over REST @bob", [])]
        ws_id = await bob.send_message("general", "over WS")
        event = await next_event(bob)
        assert isinstance(event, MessageEvent) and event.id == ws_id


async def test_unreachable_rest_is_connect_error() -> None:
    async with RESTClient(f"http://127.0.0.1:{closed_port()}", api_key="k", timeout=1) as rest:
        with anyio.fail_after(3), pytest.raises(ConnectError, match=r"cannot reach Sharkfin"):
            await rest.channels()
