"""The two pure rules behind push, as properties: the burst gate (no more than N notifications in
any M seconds, nothing lost, nothing reordered) and the permission-reply form (only the exact
form is a verdict, whatever text surrounds it)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharkfin_mcp.server import ConfigError, Settings
from sharkfin_mcp.server._push import BurstGate, channel_capabilities, parse_verdict, verdict_reply


def drive(gate: BurstGate[int], arrivals: list[int]) -> list[tuple[int, list[int]]]:
    """Run ``gate`` the way the pump does: wake when ``due``, offer each arrival, release when
    possible, and drain at the end. Returns each notification as (time, items it carries)."""
    notes: list[tuple[int, list[int]]] = []
    now = 0.0
    for item, at in enumerate(arrivals):
        while (wait := gate.due(now)) is not None and now + wait <= at:
            now += wait
            held = gate.release(now)
            assert held, "due said a summary could go out"
            notes.append((int(now), held))
        now = float(at)
        if gate.offer(item, now):
            notes.append((at, [item]))
        if held := gate.release(now):
            notes.append((at, held))
    while (wait := gate.due(now)) is not None:
        now += wait
        held = gate.release(now)
        assert held
        notes.append((int(now), held))
    return notes


@settings(max_examples=300)
@given(
    limit=st.integers(1, 6),
    window=st.integers(1, 20),
    gaps=st.lists(st.integers(0, 8), max_size=60),
)
def test_the_gate_never_exceeds_its_rate_and_loses_nothing(limit: int, window: int, gaps: list[int]) -> None:
    arrivals: list[int] = []
    at = 0
    for gap in gaps:
        at += gap
        arrivals.append(at)
    notes = drive(BurstGate(limit, float(window)), arrivals)
    assert [item for _, items in notes for item in items] == list(range(len(arrivals)))
    times = [t for t, _ in notes]
    for t in times:  # the window is (t - window, t]
        assert sum(1 for other in times if t - window < other <= t) <= limit
    for t, items in notes:  # nothing waits longer than one window for its notification
        assert all(t - arrivals[item] <= window for item in items)


@given(limit=st.integers(1, 6), extra=st.integers(1, 50))
def test_a_burst_beyond_the_limit_becomes_one_summary(limit: int, extra: int) -> None:
    notes = drive(BurstGate(limit, 30.0), [0] * (limit + extra))
    assert [len(items) for _, items in notes] == [1] * limit + [extra]


ids = st.text(st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=12).filter(
    lambda s: s == s.strip() and not any(c.isspace() for c in s)
)
verbs = st.sampled_from(["approve", "deny"]).flatmap(
    lambda v: st.tuples(st.just(v), st.lists(st.booleans(), min_size=len(v), max_size=len(v)))
)


@settings(max_examples=300)
@given(
    verb=verbs,
    request_id=ids,
    before=st.sampled_from(["", " ", "\n", "\t "]),
    after=st.sampled_from(["", " ", "\n"]),
)
def test_the_exact_reply_form_is_a_verdict(
    verb: tuple[str, list[bool]], request_id: str, before: str, after: str
) -> None:
    word, upper = verb
    cased = "".join(c.upper() if u else c for c, u in zip(word, upper, strict=True))
    expected = ("allow" if word == "approve" else "deny", request_id)
    assert parse_verdict(f"{before}{cased} {request_id}{after}") == expected
    assert verdict_reply(request_id, word == "approve") == f"{word} {request_id}"


@settings(max_examples=300)
@given(allow=st.booleans(), request_id=ids, prefix=st.text(max_size=20), suffix=st.text(max_size=20))
def test_text_around_a_reply_unmakes_it(allow: bool, request_id: str, prefix: str, suffix: str) -> None:
    """Any visible prefix, or a second word after the id, and it is no verdict; text glued to the
    id makes a different id (which no pending request has)."""
    parsed = parse_verdict(f"{prefix}{verdict_reply(request_id, allow)}{suffix}")
    tail = suffix.rstrip()
    if prefix.strip() or any(c.isspace() for c in tail):
        assert parsed is None
    else:
        assert parsed == ("allow" if allow else "deny", request_id + tail)


@given(body=st.text(max_size=40))
def test_any_body_is_a_verdict_only_in_the_exact_form(body: str) -> None:
    parsed = parse_verdict(body)
    if parsed is None:
        return
    verb, request_id = parsed
    word = "approve" if verb == "allow" else "deny"
    assert body.strip().lower() == f"{word} {request_id.lower()}"
    assert request_id and not any(c.isspace() for c in request_id)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {}),
        ({"SHARKFIN_CHANNEL": "on"}, {"claude/channel": {}}),
        ({"SHARKFIN_CHANNEL": "off", "SHARKFIN_CHANNEL_CHANNELS": "general"}, {}),
        (
            {
                "SHARKFIN_CHANNEL": "1",
                "SHARKFIN_CHANNEL_PERMISSION": "yes",
                "SHARKFIN_CHANNEL_APPROVERS": "bob",
            },
            {"claude/channel": {}, "claude/channel/permission": {}},
        ),
        ({"SHARKFIN_CHANNEL": "on", "SHARKFIN_CHANNEL_PERMISSION": "on"}, "SHARKFIN_CHANNEL_APPROVERS"),
        ({"SHARKFIN_CHANNEL_PERMISSION": "on", "SHARKFIN_CHANNEL_APPROVERS": "bob"}, "SHARKFIN_CHANNEL=on"),
        ({"SHARKFIN_CHANNEL": "maybe"}, "SHARKFIN_CHANNEL / --channel must be true or false, not 'maybe'"),
        (
            {"SHARKFIN_CHANNEL": "on", "SHARKFIN_CHANNEL_BURST": "0"},
            "SHARKFIN_CHANNEL_BURST must be greater than or equal to 1, not '0'",
        ),
        (
            {"SHARKFIN_CHANNEL": "on", "SHARKFIN_CHANNEL_BURST_SECONDS": "-1"},
            "SHARKFIN_CHANNEL_BURST_SECONDS must be greater than 0, not '-1'",
        ),
    ],
)
def test_settings_declare_exactly_the_enabled_capabilities(
    env: dict[str, str], expected: dict[str, Any] | str
) -> None:
    if isinstance(expected, str):
        with pytest.raises(ConfigError, match=re.escape(expected)):
            Settings.from_env(env)
        return
    assert channel_capabilities(Settings.from_env(env)) == expected


def test_the_flag_turns_push_on() -> None:
    assert Settings.from_env({}, channel_push=True).channel_push
