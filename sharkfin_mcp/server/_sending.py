"""The send policy: the operator's channel allow-list, the send rate limit, and idempotency keys
that survive a lost reply or a restart of this process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ._config import Settings
from ._errors import Refusal
from ._safety import ChannelPolicy, IdempotencyCache, RateLimiter

__all__ = ["IDEMPOTENCY_SCAN", "SendPolicy"]

IDEMPOTENCY_SCAN = 100
"""How many of a channel's newest messages are searched for an idempotency key this process has
not seen (the daemon's largest page, PROTOCOL.md §5.5)."""


class SendPolicy:
    """``call`` runs a client operation (``Runtime.call``); ``me`` returns our username."""

    def __init__(self, settings: Settings, call: Any, me: Callable[[], Awaitable[str]]) -> None:
        self._call = call
        self._me = me
        self.policy = ChannelPolicy.parse(settings.send_channels)
        self.rate = RateLimiter(settings.max_sends_per_minute)
        self.idempotency = IdempotencyCache()

    async def send(
        self,
        channel: str,
        body: str,
        *,
        thread_id: int | None,
        metadata: dict[str, Any] | None,
        idempotency_key: str | None,
    ) -> tuple[int, bool]:
        """Send with the operator's controls applied; returns (id, was_duplicate).

        Raises :class:`Refusal` when the channel is not allowed or the rate limit is reached, and
        whatever ``call`` raises for the daemon's own refusals."""
        if not self.policy.permits(channel):
            raise Refusal(
                f"sending to #{channel} is not allowed by this server's configuration "
                f"(SHARKFIN_SEND_CHANNELS allows: {self.policy.describe()}); do not retry, "
                "send to an allowed channel or ask the operator"
            )
        if idempotency_key:
            known = self.idempotency.lookup(idempotency_key)
            if known is None:
                # Not sent by this process (or it has restarted since): the daemon's recent
                # history is the only memory that survives, so look there before posting.
                known = await self._find_sent(channel, idempotency_key)
                if known is not None:
                    self.idempotency.finish(idempotency_key, known)
            if known is not None:
                return known, True
        wait = self.rate.try_acquire()
        if wait:
            raise Refusal(
                f"send rate limit reached ({self.rate.limit} messages per minute, set by "
                f"SHARKFIN_MAX_SENDS_PER_MINUTE); the next send is possible in {wait:.0f} s. If you "
                "are repeating yourself in a loop, stop and reconsider."
            )
        if idempotency_key:
            metadata = {**(metadata or {}), "idempotency_key": idempotency_key}
        new_id: int = await self._call(
            lambda c: c.send_message(channel, body, thread_id=thread_id, metadata=metadata)
        )
        if idempotency_key:
            self.idempotency.finish(idempotency_key, new_id)
        return new_id, False

    async def _find_sent(self, channel: str, key: str) -> int | None:
        """Our own message carrying ``key`` among the channel's newest ``IDEMPOTENCY_SCAN``
        messages and no older than the idempotency window; ``None`` if there is none."""
        me = await self._me()
        recent = await self._call(lambda c: c.history(channel, limit=IDEMPOTENCY_SCAN))
        oldest = datetime.now(UTC) - timedelta(seconds=self.idempotency.window)
        for message in reversed(recent):
            if message.sent_at is not None and message.sent_at < oldest:
                break
            meta = message.metadata
            if message.sender == me and isinstance(meta, dict) and meta.get("idempotency_key") == key:
                return int(message.id) if message.id else None
        return None
