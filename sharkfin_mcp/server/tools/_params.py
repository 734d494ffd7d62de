"""Parameter types shared by the tools: names as agents write them (``#general``, ``@alice``),
and the limits the model must respect stated in words too (Codex drops ``maxLength`` and
``maximum`` from what it shows its model)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

__all__ = [
    "After",
    "Body",
    "Channel",
    "ChannelFilter",
    "EventLimit",
    "EventType",
    "ExcludeOwn",
    "MentionsOnly",
    "NewChannel",
    "NewSlug",
    "Slug",
    "ThreadFilter",
    "Timeout",
    "Types",
    "Username",
]


def _without(prefix: str) -> BeforeValidator:
    """Accept ``#general`` / ``@alice`` (our own text output writes them so) as the bare names."""
    return BeforeValidator(lambda v: v[1:] if isinstance(v, str) and v.startswith(prefix) else v)


# The validator comes after Field: pydantic then keeps the constraints in the JSON schema too.
# Names carry no limits of ours: the daemon checks them (an empty or unknown name is "not found"),
# and a limit would be bytes every catalog pays for nothing.
Channel = Annotated[str, Field(description="Channel name"), _without("#")]
ChannelFilter = Annotated[str | None, Field(description="Only this channel"), _without("#")]
NewChannel = Annotated[str, Field(min_length=1, description="Channel name"), _without("#")]
"""A new channel's name: the daemon would create one named "" (§4.5), so it is checked here."""
Username = Annotated[str, Field(description="Username"), _without("@")]
Slug = Annotated[str, Field(description="Group slug"), _without("@")]
NewSlug = Annotated[
    str, Field(pattern=r"^[a-zA-Z0-9_-]+$", description="Letters, digits, _ or -"), _without("@")
]
"""Only a new group's slug is checked: @mentions match ``[A-Za-z0-9_-]+`` (§5.7)."""
Body = Annotated[str, Field(max_length=32_000, description="Max 32000 chars; @name mentions")]

EventType = Literal["message.new", "presence", "capabilities", "connection", "events.dropped", "gap"]
After = Annotated[int | None, Field(ge=0, description="next_after of your last call")]
Timeout = Annotated[float, Field(ge=0, le=50, description="Seconds, max 50")]
Types = Annotated[list[EventType] | None, Field(description="Only these types")]
EventLimit = Annotated[int, Field(ge=1, le=500, description="1-500")]
MentionsOnly = Annotated[bool, Field(description="Only mentions of you")]
ExcludeOwn = Annotated[bool, Field(description="Not your own")]
ThreadFilter = Annotated[int | None, Field(ge=1, description="Only its replies")]
