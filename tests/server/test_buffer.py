"""The event ring on its own: sequence numbers, cursors, limits, drops and waits."""

from __future__ import annotations

import anyio
import pytest

from sharkfin_mcp.server._buffer import EventBuffer

pytestmark = pytest.mark.anyio


def fill(buffer: EventBuffer, count: int, type_: str = "message.new") -> None:
    for n in range(count):
        buffer.append(type_, {"n": n}, channel="general" if n % 2 else "ops")


def test_sequence_numbers_increase_and_reads_follow_the_cursor() -> None:
    buffer = EventBuffer(10)
    fill(buffer, 5)
    first = buffer.read(0, 3)
    assert [e.seq for e in first.events] == [1, 2, 3] and first.cursor == 3 and first.dropped == 0
    rest = buffer.read(first.cursor, 100)
    assert [e.seq for e in rest.events] == [4, 5] and rest.cursor == 5
    assert buffer.read(rest.cursor, 100).events == []


def test_overwritten_events_are_counted_not_hidden() -> None:
    buffer = EventBuffer(4)
    fill(buffer, 10)
    assert len(buffer) == 4 and buffer.first_seq == 7 and buffer.last_seq == 10
    read = buffer.read(2, 100)
    assert read.dropped == 4  # 3, 4, 5, 6 were lost to this reader
    assert [e.seq for e in read.events] == [7, 8, 9, 10]
    assert buffer.read(8, 100).dropped == 0


def test_filters_skip_events_but_the_cursor_covers_them() -> None:
    buffer = EventBuffer(10)
    fill(buffer, 6)
    read = buffer.read(0, 100, lambda e: e.channel == "general")
    assert [e.data["n"] for e in read.events] == [1, 3, 5]
    assert read.cursor == 6
    limited = buffer.read(0, 1, lambda e: e.channel == "general")
    assert [e.seq for e in limited.events] == [2] and limited.cursor == 2


def test_a_cursor_beyond_the_end_reads_nothing() -> None:
    buffer = EventBuffer(10)
    fill(buffer, 2)
    read = buffer.read(10**9, 10)
    assert read.events == [] and read.cursor == 2 and read.dropped == 0


async def test_wait_returns_on_the_first_matching_arrival() -> None:
    buffer = EventBuffer(10)
    fill(buffer, 1)

    async def later() -> None:
        await anyio.sleep(0.05)
        buffer.append("presence", {})
        await anyio.sleep(0.05)
        buffer.append("message.new", {"n": "wanted"}, channel="general")

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(later)
        with anyio.fail_after(5):
            read = await buffer.wait(1, 10, lambda e: e.type == "message.new", 10)
    assert [e.data for e in read.events] == [{"n": "wanted"}] and read.cursor == 3


async def test_wait_times_out_empty_with_the_cursor_moved_past_non_matches() -> None:
    buffer = EventBuffer(10)
    buffer.append("presence", {})
    started = anyio.current_time()
    read = await buffer.wait(0, 10, lambda e: e.type == "message.new", 0.1)
    assert read.events == [] and read.cursor == 1
    assert anyio.current_time() - started >= 0.09


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        EventBuffer(0)
