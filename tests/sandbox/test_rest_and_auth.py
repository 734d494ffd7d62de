"""REST endpoints, auth failures (REST and WS upgrade), routing and /ui/health."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from sharkfin_mcp.sandbox import Identity, Sandbox

from ._wire import auth, fixed_clock, ws

pytestmark = pytest.mark.anyio

MISSING = '{"error":"auth: missing Authorization header"}\n'
INVALID = '{"error":"auth: invalid token"}\n'
AUTH_CASES = [
    (None, MISSING),
    ("", MISSING),
    ("ApiKey-v1", MISSING),
    ("apikey-v1 demo-alice-key", INVALID),
    ("Bearer demo-alice-key", INVALID),
    ("ApiKey-v1 wrong-key", INVALID),
]


async def test_rest_401_bodies(sandbox: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox.http_url) as http:
        for header, body in AUTH_CASES:
            headers = {} if header is None else {"Authorization": header}
            r = await http.get("/api/v1/channels", headers=headers)
            assert (r.status_code, r.text, r.headers["content-type"]) == (401, body, "application/json"), (
                header
            )


async def test_ws_upgrade_401_bodies(sandbox: Sandbox) -> None:
    for path in ["/ws", "/presence", "/notifications/subscribe"]:
        for header, body in AUTH_CASES:
            headers = {} if header is None else {"Authorization": header}
            with pytest.raises(InvalidStatus) as info:
                async with connect(f"ws://{sandbox.host}:{sandbox.port}{path}", additional_headers=headers):
                    pass
            assert info.value.response.status_code == 401
            assert bytes(info.value.response.body or b"").decode() == body


async def test_routing_health_405_404_and_plain_get(sandbox: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox.http_url) as http:
        r = await http.get("/ui/health")
        assert r.status_code == 200
        assert r.json() == {
            "status": "ok",
            "name": "sharkfin",
            "label": "Chat",
            "route": "/chat",
            "ws_paths": ["/ws", "/presence"],
            "notification_path": "/notifications/subscribe",
        }
        r = await http.delete("/api/v1/channels")  # 405 before auth
        assert (r.status_code, r.headers["allow"], r.text) == (405, "GET, HEAD, POST", "Method Not Allowed\n")
        r = await http.get("/nope", headers=auth(sandbox, "alice"))
        assert (r.status_code, r.text) == (404, "404 page not found\n")
        r = await http.get("/ws", headers=auth(sandbox, "alice"))
        assert (r.status_code, r.text) == (400, "Bad Request\n")
    with pytest.raises(InvalidStatus) as info:
        async with connect(
            sandbox.ws_url, additional_headers=auth(sandbox, "alice"), origin="http://evil.example"
        ):  # type: ignore[arg-type]
            pass
    assert info.value.response.status_code == 403


async def test_rest_endpoints(sandbox: Sandbox) -> None:
    fixed_clock(sandbox)
    sandbox.add_identity(Identity("carol", "carol-key", "agent"))
    async with httpx.AsyncClient(base_url=sandbox.http_url, headers=auth(sandbox, "alice")) as http:
        r = await http.post("/api/v1/auth/register")
        body = r.json()
        assert r.status_code == 201
        assert len(body.pop("id")) == 32
        assert body == {"role": "user", "type": "user", "username": "alice"}
        r = await http.get("/api/v1/channels")
        assert (r.status_code, r.json()) == (
            200,
            [{"id": 1, "name": "general", "public": True, "member": False}],
        )
        for bad in [b"", b"{", b'{"name": 5}', b'{"name": ""}', b"[]"]:
            r = await http.post("/api/v1/channels", content=bad)
            assert (r.status_code, r.text) == (400, "name is required\n"), bad
            assert r.headers["content-type"] == "text/plain; charset=utf-8"
            assert r.headers["x-content-type-options"] == "nosniff"
        r = await http.post("/api/v1/channels", json={"name": "ops", "public": True})  # no RBAC on REST
        assert (r.status_code, r.text) == (201, '{"id":2,"name":"ops","public":true}\n')
        r = await http.post("/api/v1/channels", json={"name": "ops"})
        assert (r.status_code, r.text) == (500, "create channel failed\n")
        r = await http.post("/api/v1/channels/nope/join")
        assert (r.status_code, r.text) == (404, "channel not found\n")
        r = await http.post("/api/v1/channels/general/join")
        assert (r.status_code, r.content) == (200, b"")
        r = await http.post("/api/v1/channels/general/join")
        assert (r.status_code, r.text) == (500, "join channel failed\n")
        r = await http.post("/api/v1/channels/nope/messages", content=b"garbage")
        assert (r.status_code, r.text) == (404, "channel not found\n")  # 404 before 400
        for bad in [
            b"garbage",
            b'{"body": ""}',
            b'{"body": "x", "metadata": "s"}',
            b'{"body": "x", "thread_id": 1.5}',
        ]:
            r = await http.post("/api/v1/channels/general/messages", content=bad)
            assert (r.status_code, r.text) == (400, "body is required\n"), bad
        r = await http.post("/api/v1/channels/general/messages", json={"body": "x", "thread_id": 99})
        assert (r.status_code, r.text) == (500, "send message failed\n")
        async with ws(sandbox, "agent") as agent:
            await agent.ok("channel_join", {"channel": "general"})
            meta = {"z": 1, "a": "<&>", "n": [1.5, 2]}
            r = await http.post(
                "/api/v1/channels/general/messages", json={"body": "hi @agent", "metadata": meta}
            )
            assert r.status_code == 201
            assert r.json() == {
                "body": "hi @agent",
                "id": 1,
                "metadata": meta,
                "sent_at": "2026-04-18T09:30:05Z",
            }
            assert await agent.silent()  # no push for REST sends
            history = await agent.ok("history", {"channel": "general"})
            stored = '{"a":"\\u003c\\u0026\\u003e","n":[1.5,2],"z":1}'
            assert history["messages"] == [
                {
                    "id": 1,
                    "from": "alice",
                    "body": "hi @agent",
                    "sent_at": "2026-04-18T09:30:05Z",
                    "metadata": stored,
                }
            ]  # no mentions parsed on REST
        r = await http.post("/api/v1/channels/general/messages", json={"body": "re", "thread_id": 1})
        r = await http.get("/api/v1/channels/general/messages", params={"limit": "x", "before": "zz"})
        assert r.status_code == 200
        assert r.json() == [
            {
                "id": 1,
                "from": "alice",
                "body": "hi @agent",
                "metadata": stored,
                "sent_at": "2026-04-18T09:30:05Z",
            },
            {"id": 2, "from": "alice", "body": "re", "thread_id": 1, "sent_at": "2026-04-18T09:30:05Z"},
        ]
        r = await http.get("/api/v1/channels/general/messages", params={"after": "1"})
        assert [m["id"] for m in r.json()] == [2]
        r = await http.get("/api/v1/channels/nope/messages")
        assert (r.status_code, r.text) == (404, "channel not found\n")
        # webhooks
        r = await http.post("/api/v1/webhooks", json={})
        assert (r.status_code, r.text) == (400, "url is required\n")
        r1 = await http.post("/api/v1/webhooks", json={"url": "http://h/1"})
        r2 = await http.post("/api/v1/webhooks", json={"url": "http://h/1"})
        assert r1.status_code == r2.status_code == 201
        hook = r1.json()
        assert hook == {"active": True, "id": hook["id"], "url": "http://h/1"}
        assert r2.json()["id"] == hook["id"]
        r = await http.get("/api/v1/webhooks")
        assert r.json() == [{"id": hook["id"], "url": "http://h/1", "active": True}]
        r = await http.delete("/api/v1/webhooks/unknown")
        assert r.status_code == 204
        r = await http.delete(f"/api/v1/webhooks/{hook['id']}")
        assert r.status_code == 204
        assert (await http.get("/api/v1/webhooks")).text == "[]\n"
    # every REST call provisions, even a 404
    async with httpx.AsyncClient(
        base_url=sandbox.http_url, headers={"Authorization": "ApiKey-v1 carol-key"}
    ) as http:
        assert (await http.post("/api/v1/channels/nope/join")).status_code == 404
    assert sandbox.role_of("carol") == "agent"


async def test_percent_decoded_channel_segment(sandbox: Sandbox) -> None:
    async with ws(sandbox, "agent") as agent:
        await agent.ok("channel_create", {"name": "a/b c", "public": True})
    async with httpx.AsyncClient(base_url=sandbox.http_url, headers=auth(sandbox, "bob")) as http:
        r = await http.post("/api/v1/channels/a%2Fb%20c/join")
        assert r.status_code == 200
        r = await http.get("/api/v1/channels")
        assert json.loads(r.text)[0] == {"id": 2, "name": "a/b c", "public": True, "member": True}
