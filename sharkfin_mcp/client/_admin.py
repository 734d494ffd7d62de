"""Role administration: the daemon's six RBAC tools, reachable only on ``/mcp`` (PROTOCOL.md §3, §10.2).

Every method needs the caller's role to hold ``manage_roles`` (the built-in ``admin`` role does;
the first identity the daemon ever saw is ``admin``). A change of a role's permissions, or of a
user's role, is pushed by the daemon as a ``capabilities`` event to the affected identities' ``/ws``
connections (:class:`~sharkfin_mcp.client.CapabilitiesEvent`, §4.6).

Errors (beyond those of :mod:`._mcp_rpc`):

* :class:`PermissionDenied` — the caller lacks ``manage_roles``; ``.permission`` names it and the
  message says how to fix it.
* :class:`NotFound` — unknown user (``set_role``), unknown or built-in role (``delete_role``), a
  role or permission that does not exist (``grant_permission``; the daemon only says ``FOREIGN KEY
  constraint failed``).
* :class:`Conflict` — the role already exists (``create_role``), or still has permissions
  (``delete_role``: revoke them first).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import Field

from ._errors import Conflict, NotFound, PermissionDenied, ServerError
from ._mcp_rpc import McpRpc
from ._models import NullableList, WireModel, decoded, items_of

if TYPE_CHECKING:
    import httpx

__all__ = ["AdminClient", "Role"]

_FK = "FOREIGN KEY constraint failed"


class Role(WireModel):
    """One row of ``list_roles``: ``permissions`` sorted, ``[]`` when the role has none."""

    name: str
    built_in: bool = False
    permissions: NullableList = Field(default_factory=list)


class AdminClient:
    """The role tools over the daemon's ``/mcp`` (one MCP session, opened on first use)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.rpc = McpRpc(base_url, api_key=api_key, timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"AdminClient({self.rpc.base_url!r})"

    async def aclose(self) -> None:
        await self.rpc.aclose()

    async def _call(self, tool: str, arguments: dict[str, Any]) -> str:
        try:
            return await self.rpc.call_tool(tool, arguments)
        except PermissionDenied as exc:
            permission = exc.permission or "manage_roles"
            raise PermissionDenied(
                f"permission denied: {permission} ({tool} needs the {permission} permission, which this "
                "identity's role lacks; an identity whose role has it, such as an admin, can grant it "
                "with grant_permission or change the role with set_role)"
            ) from None

    async def set_role(self, username: str, role: str) -> None:
        """Give ``username`` the role ``role``. The daemon does not check that the role exists
        (an unknown role simply has no permissions). Raises NotFound for an unknown user."""
        await self._call("set_role", {"username": username, "role": role})

    async def create_role(self, name: str) -> None:
        """Create a custom role with no permissions. Raises Conflict if it exists."""
        await self._call("create_role", {"name": name})

    async def delete_role(self, name: str) -> None:
        """Delete a custom role. NotFound if unknown or built-in; Conflict while it has permissions."""
        try:
            await self._call("delete_role", {"name": name})
        except ServerError as exc:
            if _FK in exc.message:
                raise Conflict(
                    f"role {name!r} still has permissions; revoke them before deleting it (daemon: {exc})"
                ) from None
            raise

    async def grant_permission(self, role: str, permission: str) -> None:
        """Grant ``permission`` to ``role`` (no-op if granted). NotFound if either does not exist."""
        try:
            await self._call("grant_permission", {"role": role, "permission": permission})
        except ServerError as exc:
            if _FK in exc.message:
                raise NotFound(
                    f"cannot grant {permission!r} to {role!r}: the role or the permission does not exist "
                    f"(daemon: {exc})"
                ) from None
            raise

    async def revoke_permission(self, role: str, permission: str) -> None:
        """Revoke ``permission`` from ``role``; revoking what is not granted is a no-op."""
        await self._call("revoke_permission", {"role": role, "permission": permission})

    async def list_roles(self) -> list[Role]:
        """Every role, ordered by name, with its permissions."""
        text = await self._call("list_roles", {})
        return decoded("list_roles", lambda: items_of(Role, json.loads(text)))
