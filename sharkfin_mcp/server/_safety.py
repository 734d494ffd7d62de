"""Operator controls on what the agent may send: channel allow/deny lists, a send rate limit,
and idempotency keys so that a retried send does not post twice.

All three exist because agents loop: a confused agent can flood a channel, and an agent that
saw a timeout will retry a send that may already have gone through.
"""

from __future__ import annotations

import collections
import fnmatch
import time
from dataclasses import dataclass, field

__all__ = ["ChannelPolicy", "IdempotencyCache", "RateLimiter"]


@dataclass(frozen=True)
class ChannelPolicy:
    """``general,ops-*,!secret``: names or shell patterns; ``!`` denies; deny wins.

    With no allow entries every channel not denied is allowed.
    """

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str | None) -> ChannelPolicy:
        entries = [e.strip() for e in (spec or "").split(",") if e.strip()]
        return cls(
            allow=tuple(e for e in entries if not e.startswith("!")),
            deny=tuple(e[1:] for e in entries if e.startswith("!")),
        )

    def permits(self, channel: str) -> bool:
        if any(fnmatch.fnmatchcase(channel, pattern) for pattern in self.deny):
            return False
        return not self.allow or any(fnmatch.fnmatchcase(channel, p) for p in self.allow)

    def describe(self) -> str:
        parts = [*self.allow, *(f"!{d}" for d in self.deny)]
        return ",".join(parts) or "all channels"


@dataclass
class RateLimiter:
    """A sliding window: at most ``limit`` sends in any ``window`` seconds (0 = unlimited)."""

    limit: int
    window: float = 60.0
    _times: collections.deque[float] = field(default_factory=collections.deque)

    def wait(self, now: float) -> float:
        """0 when a send would be allowed now; else seconds until it would be. Counts nothing."""
        if self.limit <= 0:
            return 0.0
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return self.window - (now - self._times[0])
        return 0.0

    def try_acquire(self, now: float | None = None) -> float:
        """0 when allowed (and counted); else seconds until the next send would be allowed."""
        now = time.monotonic() if now is None else now
        wait = self.wait(now)
        if wait == 0.0 and self.limit > 0:
            self._times.append(now)
        return wait


@dataclass
class IdempotencyCache:
    """Remembers, for ``window`` seconds, which idempotency key produced which message id.

    A key it does not know is looked up in the channel's recent history before sending (see
    ``Runtime.send``), which covers both a lost reply and a restart of this process."""

    window: float = 600.0
    _done: dict[str, tuple[int, float]] = field(default_factory=dict)

    def _expire(self, now: float) -> None:
        for key in [k for k, (_, at) in self._done.items() if now - at > self.window]:
            del self._done[key]

    def lookup(self, key: str) -> int | None:
        self._expire(time.monotonic())
        entry = self._done.get(key)
        return entry[0] if entry else None

    def finish(self, key: str, message_id: int) -> None:
        self._done[key] = (message_id, time.monotonic())
