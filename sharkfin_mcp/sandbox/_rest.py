"""REST ``/api/v1`` handlers (PROTOCOL.md §6).

Second-class on purpose, like the daemon: no RBAC, no membership checks, no mention
parsing, no ``/ws`` push for sends (only the bus), ``text/plain`` errors, 500 for
uniqueness violations, 404 checked before the body.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._auth import Identity
from ._json import MISSING, DecodeError, ci_get, decode, dumps, go_reencode
from ._state import StoreError
from ._ws import Hub

MAX_BODY = 1 << 20
_INT_RE = re.compile(r"^[+-]?[0-9]+$")


def json_response(value: Any, status: int = 200) -> Response:
    return raw_json(dumps(value), status)


def raw_json(text: str, status: int) -> Response:
    return Response(text + "\n", status, media_type="application/json")


def text_error(message: str, status: int) -> Response:
    return Response(
        message + "\n",
        status,
        headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
    )


async def _body(request: Request) -> Any:
    """The request body as JSON; raises DecodeError like Go's decoder would."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise DecodeError("too large")
    try:
        return json.loads(raw, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except ValueError as exc:
        raise DecodeError("json") from exc


def _query_int(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "")
    return int(raw) if _INT_RE.match(raw) and abs(int(raw)) < 2**63 else 0


async def handle(hub: Hub, who: Identity, route: str, params: list[str], request: Request) -> Response:
    state = hub.state
    me = state.upsert_identity(who.username, who.type)  # before any 404/400
    method = request.method
    if route == "register":
        return json_response({"id": me.id, "role": me.role, "type": me.type, "username": me.username}, 201)
    if route == "channels" and method in ("GET", "HEAD"):
        return json_response(
            [
                {"id": c.id, "name": c.name, "public": c.public, "member": me.username in c.members}
                for c in state.list_channels(me.username)
            ]
        )
    if route == "channels":
        try:
            args = decode(await _body(request), {"name": "str", "public": "bool"}, strict=True)
        except DecodeError:
            return text_error("name is required", 400)
        if not args["name"]:
            return text_error("name is required", 400)
        try:
            channel = state.create_channel(args["name"], public=args["public"], creator=me.username)
        except StoreError:
            return text_error("create channel failed", 500)
        return json_response({"id": channel.id, "name": channel.name, "public": channel.public}, 201)
    if route == "join":
        if state.channel_by_name(params[0]) is None:
            return text_error("channel not found", 404)
        try:
            state.join(me.username, params[0])
        except StoreError:
            return text_error("join channel failed", 500)
        return Response(b"", 200)
    if route == "messages":
        target = state.channel_by_name(params[0])
        if target is None:
            return text_error("channel not found", 404)
        if method in ("GET", "HEAD"):
            rows = state.page(
                target,
                before=_query_int(request, "before"),
                after=_query_int(request, "after"),
                limit=(lim if 1 <= (lim := _query_int(request, "limit")) <= 200 else 50),
                thread_id=0,
            )
            items = []
            for m in rows:
                item: dict[str, Any] = {"id": m.id, "from": m.sender, "body": m.body}
                if m.metadata:
                    item["metadata"] = m.metadata
                if m.thread_id is not None:
                    item["thread_id"] = m.thread_id
                item["sent_at"] = m.created_at
                items.append(item)
            return json_response(items)
        return await _send(hub, me.username, params[0], request)
    if route == "webhooks" and method in ("GET", "HEAD"):
        return json_response(
            [{"id": h.id, "url": h.url, "active": h.active} for h in state.webhook_list(me.username)]
        )
    if route == "webhooks":
        try:
            url = decode(await _body(request), {"url": "str"}, strict=True)["url"]
        except DecodeError:
            return text_error("url is required", 400)
        if not url:
            return text_error("url is required", 400)
        hook = state.webhook_register(me.username, url)
        return json_response({"active": hook.active, "id": hook.id, "url": hook.url}, 201)
    if route == "webhook":
        state.webhook_delete(me.username, params[0])
        return Response(status_code=204)
    return text_error("404 page not found", 404)


async def _send(hub: Hub, username: str, channel_name: str, request: Request) -> Response:
    try:
        data = await _body(request)
        args = decode(data, {"body": "str", "thread_id": "optint"}, strict=True)
        raw_meta = ci_get(data, "metadata") if isinstance(data, dict) else MISSING
        if raw_meta is not MISSING and raw_meta is not None and not isinstance(raw_meta, dict):
            raise DecodeError("metadata")
    except DecodeError:
        return text_error("body is required", 400)
    if not args["body"]:
        return text_error("body is required", 400)
    metadata = go_reencode(raw_meta) if isinstance(raw_meta, dict) else None
    try:
        result = hub.state.send(
            username,
            channel_name,
            args["body"],
            thread_id=args["thread_id"],
            metadata=metadata,
            check_member=False,
            parse_mentions=False,
        )
    except StoreError:
        return text_error("send message failed", 500)
    sent_at = hub.state.now()
    hub.publish(result, sent_at)
    text = (
        f'{{"body":{dumps(args["body"])},"id":{result.message.id},'
        f'"metadata":{metadata or "null"},"sent_at":{dumps(sent_at)}}}'
    )
    return raw_json(text, 201)
