"""A 404 on the WebSocket upgrade means the address is wrong (another web server, a wrong path),
not that the daemon is down: the client raises WrongAddress, the server's tools say to fix
SHARKFIN_URL rather than to retry, and doctor blames the address too."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import pytest
from mcp import Client

from sharkfin_mcp._doctor import run_doctor
from sharkfin_mcp.client import ConnectError, SharkfinClient, WrongAddress
from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server import Settings, build_server

pytestmark = pytest.mark.anyio
KEY = "wf-key-for-a-wrong-address-0123"


class NotSharkfin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "9")
        self.end_headers()
        self.wfile.write(b"not here\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_web_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotSharkfin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("path", ["/nope", "/api/v1", "/ws/extra"])
async def test_a_wrong_path_on_the_daemon_is_wrong_address(sandbox: Sandbox, path: str) -> None:
    with pytest.raises(WrongAddress) as raised:
        await SharkfinClient.connect(f"ws://127.0.0.1:{sandbox.port}{path}", api_key=sandbox.key("agent"))
    assert isinstance(raised.value, ConnectError)
    assert "404" in str(raised.value) and "SHARKFIN_URL" in str(raised.value)
    assert sandbox.key("agent") not in str(raised.value)


async def test_server_and_doctor_blame_the_address(other_web_server: int) -> None:
    url = f"ws://127.0.0.1:{other_web_server}/ws"
    settings = Settings(url=url, api_key=KEY, presence=False)
    async with Client(build_server(settings), mode="legacy") as client:
        with anyio.fail_after(10):
            while True:
                result = await client.call_tool("whoami", {})
                text = result.content[0].text  # type: ignore[union-attr]
                if "404" in text:
                    break
                await anyio.sleep(0.05)
    assert result.is_error
    assert "fix SHARKFIN_URL" in text and "retrying will not help" in text
    assert "call the tool again" not in text and KEY not in text
    report = io.StringIO()
    assert await run_doctor(settings, out=report) == 1
    assert "answered HTTP 404" in report.getvalue() and "not a Sharkfin daemon" in report.getvalue()
    assert KEY not in report.getvalue()
