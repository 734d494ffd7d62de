"""The HTTP side of the daemon (``/api/v1``): no background tasks, one ``httpx.AsyncClient``.

REST is second-class on the daemon (no RBAC, no mention parsing, no push to ``/ws`` clients, see
PROTOCOL.md §6), but it is the only way to register webhooks and the simplest way for a script to
post. Error bodies are plain text; they become ``ServerError("HTTP <code>: <text>", status)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ._admin import AdminClient, Role
from ._auth import auth_headers, forget_secret, remember_secret
from ._errors import ConnectError, RequestTimeout, server_error_from_http
from ._models import (
    Channel,
    CreatedChannel,
    Message,
    RegisteredIdentity,
    SentMessage,
    Webhook,
    decoded,
    items_of,
    metadata_as_object,
)
from ._urls import rest_base_url

if TYPE_CHECKING:
    import httpx

__all__ = ["RESTClient"]


class RESTClient:
    """Sharkfin over plain HTTP. Accepts ``http://host:port`` or the ``ws://host:port/ws`` form."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = rest_base_url(base_url)
        self._api_key = api_key
        remember_secret(api_key)
        self._options: dict[str, Any] = {
            "base_url": self.base_url + "/api/v1",
            "headers": auth_headers(api_key),
            "timeout": timeout,
            "transport": transport,
        }
        self._client: httpx.AsyncClient | None = None
        self._admin_options: dict[str, Any] = {"api_key": api_key, "timeout": timeout, "transport": transport}
        self._admin: AdminClient | None = None

    @property
    def admin(self) -> AdminClient:
        """Role administration over the daemon's ``/mcp`` (its own session, opened on first use)."""
        if self._admin is None:
            self._admin = AdminClient(self.base_url, **self._admin_options)
        return self._admin

    @property
    def _http(self) -> httpx.AsyncClient:
        """Created on first use: importing httpx costs tens of milliseconds at start-up (it pulls
        in its CLI's dependencies when they are installed), and most sessions never need REST."""
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(**self._options)
        return self._client

    def __repr__(self) -> str:
        return f"RESTClient({self.base_url!r})"

    async def __aenter__(self) -> RESTClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._admin is not None:
            await self._admin.aclose()
        forget_secret(self._api_key)
        self._api_key = None

    async def _call(self, method: str, path: str, *, json: Any = None, params: Any = None) -> Any:
        import httpx

        try:
            response = await self._http.request(method, path, json=json, params=params)
        except httpx.TimeoutException:
            raise RequestTimeout(f"{method} {path}: no response from {self.base_url} in time") from None
        except httpx.TransportError as exc:
            # httpx's texts can quote the request (and so its Authorization header); our errors
            # redact every text they are given.
            raise ConnectError(f"cannot reach Sharkfin at {self.base_url}: {exc}") from None
        if response.status_code >= 400:
            raise server_error_from_http(response.status_code, response.text)
        if response.status_code == 204 or not response.content.strip():
            return None
        return response.json()

    async def register(self) -> RegisteredIdentity:
        """Provision (or look up) the caller's identity: ``POST /auth/register``."""
        reply = await self._call("POST", "/auth/register")
        return decoded("register", lambda: RegisteredIdentity.model_validate(reply))

    async def channels(self) -> list[Channel]:
        reply = await self._call("GET", "/channels")
        return decoded("channels", lambda: items_of(Channel, reply))

    async def create_channel(self, name: str, public: bool = False) -> CreatedChannel:
        reply = await self._call("POST", "/channels", json={"name": name, "public": public})
        return decoded("create_channel", lambda: CreatedChannel.model_validate(reply))

    async def join_channel(self, channel: str) -> None:
        await self._call("POST", f"/channels/{_segment(channel)}/join")

    async def send_message(
        self,
        channel: str,
        body: str,
        *,
        thread_id: int | None = None,
        metadata: Mapping[str, Any] | str | None = None,
    ) -> SentMessage:
        """Post over REST. ``metadata`` goes out as a JSON object; invalid metadata fails first."""
        payload: dict[str, Any] = {"body": body}
        meta = metadata_as_object(metadata)
        if meta is not None:
            payload["metadata"] = meta
        if thread_id is not None:
            payload["thread_id"] = thread_id
        reply = await self._call("POST", f"/channels/{_segment(channel)}/messages", json=payload)
        return decoded("send_message", lambda: SentMessage.model_validate(reply))

    async def list_messages(
        self,
        channel: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[Message]:
        params = {k: v for k, v in (("before", before), ("after", after), ("limit", limit)) if v is not None}
        items = await self._call("GET", f"/channels/{_segment(channel)}/messages", params=params)
        return decoded("list_messages", lambda: items_of(Message, items, channel=channel))

    async def register_webhook(self, url: str) -> str:
        """Register a webhook for this identity and return its id (re-registering returns the same)."""
        reply = await self._call("POST", "/webhooks", json={"url": url})
        return decoded("register_webhook", lambda: Webhook.model_validate(reply).id)

    async def list_webhooks(self) -> list[Webhook]:
        reply = await self._call("GET", "/webhooks")
        return decoded("list_webhooks", lambda: items_of(Webhook, reply))

    async def unregister_webhook(self, webhook_id: str) -> None:
        await self._call("DELETE", f"/webhooks/{_segment(webhook_id)}")

    # -- role administration (MCP-only on the daemon, PROTOCOL.md §10.2; see AdminClient) ----------

    async def set_role(self, username: str, role: str) -> None:
        await self.admin.set_role(username, role)

    async def create_role(self, name: str) -> None:
        await self.admin.create_role(name)

    async def delete_role(self, name: str) -> None:
        await self.admin.delete_role(name)

    async def grant_permission(self, role: str, permission: str) -> None:
        await self.admin.grant_permission(role, permission)

    async def revoke_permission(self, role: str, permission: str) -> None:
        await self.admin.revoke_permission(role, permission)

    async def list_roles(self) -> list[Role]:
        return await self.admin.list_roles()


def _segment(value: str) -> str:
    return quote(value, safe="")
