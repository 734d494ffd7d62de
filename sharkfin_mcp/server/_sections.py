"""Generated sections of a document (the README's catalogue and configuration tables): the text
between a ``begin`` and an ``end`` marker is replaced, the markers and the rest kept."""

from __future__ import annotations

__all__ = ["replace_section"]


def replace_section(document: str, begin: str, end: str, body: str) -> str:
    """``document`` with what stands between ``begin`` and ``end`` replaced by ``body``.

    Raises ValueError when either marker is missing (rather than writing a half-edited file)."""
    head, found_begin, rest = document.partition(begin)
    _, found_end, tail = rest.partition(end)
    if not found_begin or not found_end:
        raise ValueError(f"the markers {begin!r} and {end!r} are not both in the document")
    return f"{head}{begin}\n{body}\n{end}{tail}"
