"""Shared pieces of the tool fuzzing: drawing argument mixes the way language models write them,
and the one-plain-answer check every fuzzed call must pass."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from mcp.types import CallToolResult

LIKELY = ["general", "alice", "agent", "1", "0", "-1", "20", "2.5", "true", "null", "", "#general", "@alice"]
value = st.one_of(
    st.none(),
    st.sampled_from(LIKELY),
    st.text(max_size=20),
    st.integers(-(2**40), 2**40).map(str),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
QUICK_TIMEOUT = st.sampled_from([0, "0", 0.0, "0.0", -1, 51, "soon", ""])
"""A missing or null timeout means the 25 s default wait; fuzzing that would only wait."""
MISSING = object()


def arguments_for(
    data: st.DataObject, properties: list[str], values: st.SearchStrategy[Any] = value
) -> dict[str, Any]:
    """Each parameter missing or drawn from ``values`` (``timeout_seconds`` from ``QUICK_TIMEOUT``)."""
    arguments: dict[str, Any] = {}
    for name in properties:
        if name == "timeout_seconds":
            drawn: Any = data.draw(QUICK_TIMEOUT, label=name)
        else:
            drawn = data.draw(st.one_of(st.just(MISSING), values), label=name)
        if drawn is not MISSING:
            arguments[name] = drawn
    return arguments


def assert_one_plain_answer(tool: str, result: CallToolResult) -> None:
    assert isinstance(result, CallToolResult)
    assert result.content and result.content[0].type == "text"
    if not result.is_error:
        assert isinstance(result.structured_content, dict)
        return
    text = result.content[0].text
    assert text.strip() != f"Error executing tool {tool}", "a crash, not an answer"
    assert len(text.splitlines()) == 1, text
    for jargon in ("Traceback", "validation error", "Input should", "pydantic", "[type="):
        assert jargon not in text, text
