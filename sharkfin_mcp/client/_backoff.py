"""Reconnect delays: exponential with full jitter, capped, so a fleet of agents does not
reconnect in lock-step after a daemon restart."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backoff", "ExponentialBackoff"]

Backoff = Callable[[int], float | None]
"""``backoff(attempt)`` → seconds to wait before try ``attempt`` (0-based), or ``None`` to give up."""


@dataclass(frozen=True)
class ExponentialBackoff:
    initial: float = 0.25
    factor: float = 2.0
    maximum: float = 10.0
    max_attempts: int | None = None
    """``None`` retries for ever, which is what a long-running agent wants."""

    def __call__(self, attempt: int) -> float | None:
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return None
        if attempt == 0:
            return 0.0
        try:
            grown = self.initial * self.factor ** (attempt - 1)
        except OverflowError:  # ~1000 attempts in: float power overflows; stay at the cap
            grown = self.maximum
        ceiling = min(self.maximum, grown)
        return random.uniform(ceiling / 2, ceiling)

