"""The /notifications/subscribe feed against the sandbox: the three notice kinds (PROTOCOL.md §9),
REST sends included, reconnection after a daemon restart, and a rejected key."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from websockets.exceptions import InvalidStatus

from sharkfin_mcp.client import (
    ExponentialBackoff,
    FeedConnected,
    Notification,
    RESTClient,
    SharkfinClient,
    notification_feed,
)
from sharkfin_mcp.sandbox import Sandbox

pytestmark = pytest.mark.anyio


async def next_item(feed: AsyncIterator[Notification | FeedConnected]) -> Notification | FeedConnected:
    with anyio.fail_after(5):
        return await anext(feed)


async def test_feed_announces_every_kind_and_rest_sends(sandbox: Sandbox) -> None:
    feed = notification_feed(sandbox.ws_url, api_key=sandbox.key("bob"))
    try:
        assert await next_item(feed) == FeedConnected(attempt=0)
        async with (
            await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("bob")) as bob,
            await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("alice")) as alice,
            RESTClient(sandbox.http_url, api_key=sandbox.key("flow-bot")) as bot,
        ):
            await bob.join_channel("general")
            await alice.join_channel("general")
            await bot.join_channel("general")
            await bot.send_message("general", "posted over REST")
            await alice.send_message("general", "hey @bob")
            dm = await alice.dm_open("bob")
            await alice.send_message(dm.channel, "private")
            await bob.send_message("general", "own messages are not announced")
            await alice.send_message("general", "last")
        seen = [await next_item(feed) for _ in range(4)]
    finally:
        await feed.aclose()
    assert all(isinstance(n, Notification) for n in seen)
    notices = [n for n in seen if isinstance(n, Notification)]
    assert [(n.kind, n.channel, n.sender) for n in notices] == [
        ("message", "general", None),
        ("mention", "general", None),
        ("dm", None, "alice"),
        ("message", "general", None),
    ]
    assert notices[1].body == "hey @bob" and notices[1].urgency == "active"
    assert Notification(title="something else").kind == "other"


async def test_feed_reconnects_after_a_daemon_restart(sandbox: Sandbox) -> None:
    feed = notification_feed(
        sandbox.ws_url, api_key=sandbox.key("bob"), backoff=ExponentialBackoff(initial=0.05, maximum=0.1)
    )
    try:
        assert await next_item(feed) == FeedConnected(attempt=0)
        await sandbox.stop()
        await sandbox.start()
        assert await next_item(feed) == FeedConnected(attempt=1)
    finally:
        await feed.aclose()


async def test_a_rejected_key_ends_the_feed_without_echoing_it(sandbox: Sandbox) -> None:
    secret = "not-a-key-7f3a9"
    feed = notification_feed(sandbox.ws_url, api_key=secret)
    with pytest.raises(InvalidStatus) as info:
        await next_item(feed)
    assert info.value.response.status_code == 401
    assert secret not in str(info.value)
