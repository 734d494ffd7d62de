"""An in-process fake of the Sharkfin messaging daemon, on a real loopback port.

Used by our tests and benchmarks, and by users who want to try the MCP server without
a daemon (``python -m sharkfin_mcp.sandbox``). It speaks the wire protocol described in
``docs/PROTOCOL.md`` (HTTP + WebSocket): ``ApiKey-v1`` auth with the exact 401 bodies,
identity upsert (first identity is admin, type → role), RBAC, every ``/ws`` op with its
error texts and check order, pushes (``message.new``, ``presence``, ``capabilities``),
``/presence``, ``/notifications/subscribe``, the REST API, per-identity and legacy
webhooks (fire-and-forget POSTs via httpx, also recorded in ``webhook_deliveries``),
``/ui/health`` and the stateful Streamable HTTP ``/mcp`` endpoint with the daemon's 30 tools
(written directly as JSON-RPC, no MCP SDK; see ``_mcp.py`` and ``_mcp_tools.py``).

It deliberately shares no code with ``sharkfin_mcp.client`` or the MCP layer, so that
the two check each other.

Fault modes: ``stall`` (frames read, never answered, no pushes), ``drop_next_reply(type)``
(the next reply to that request type is dropped after the op ran) and ``drop_replies``
(the next N replies are dropped after the op ran). ``stop()`` then ``start()`` is a
daemon restart on the same port with all state kept.

Deviations from the real daemon
-------------------------------
* Only ``ApiKey-v1`` keys configured on the sandbox are accepted; ``Bearer`` JWTs are
  always rejected (``auth: invalid token``). There is no 30 s key cache.
* ``/mcp``: POST replies are always JSON (as the daemon's), unless the sandbox-only
  ``Sandbox.mcp.sse_responses`` knob is set, which sends each reply as one SSE event (with
  the session header on ``initialize``, which mcp-go would omit on an SSE reply). A GET
  stream carries nothing and ends at ``stop()``. The ``-32600 unparsable <method> request``
  texts name Go's decode error approximately, and a bad ``tools/list`` cursor always
  reports byte 0. Client responses to server requests (which the daemon never sends) get
  mcp-go's error statuses without any session bookkeeping. ``mcp-session-<uuid>`` ids are
  checked for existence only (any unknown string is ``Invalid session ID``).
* Identities are matched by username (there is no Passport id); internal ids are
  random 32-hex strings as in the daemon.
* ``disconnect_all()`` and lost-pong drops close sockets with a close frame (1011 /
  uvicorn's keepalive close) instead of cutting TCP; clients see ``ConnectionClosed``
  either way.
* Keepalive: control pings every ``presence_timeout/2`` and a drop when a pong is
  ``presence_timeout/2`` late (uvicorn's keepalive), rather than a read deadline that
  only pongs move.
* Stored timestamps and pushed ``sent_at`` come from the same clock (the daemon's DB
  and handler clocks can differ by a second). Stored ``mentions`` are sorted.
* A ``channel_create`` whose ``members`` repeat a username fails with the store text
  but leaves the channel created with the members added so far.
* HTTP path cleaning/redirects of Go's ServeMux are not reproduced; a WebSocket
  upgrade on a REST path or on ``/mcp`` gets 400.
"""

from __future__ import annotations

from ._auth import Identity
from ._server import DEMO_IDENTITIES, Sandbox, serve

__all__ = ["DEMO_IDENTITIES", "Identity", "Sandbox", "serve"]
