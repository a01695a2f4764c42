"""Fixtures: the real server that scripts/clients.sh started, and small local
HTTP stubs (127.0.0.1 only) for what a healthy server never does on cue:
answer 429 or 503, hang, or lose its event stream.

scripts/clients.sh sets THUMBFORGE_TEST_URL and THUMBFORGE_TEST_API_KEY. Run
alone, the tests that need the server are skipped and the stub tests run.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from thumbforge import Thumbforge


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def problem(status: int, code: str, detail: str, **headers: str) -> Reply:
    body = json.dumps({"type": "about:blank", "title": "", "status": status, "detail": detail, "code": code})
    return Reply(status, body.encode(), {"Content-Type": "application/problem+json", **headers})


class Stub:
    """An HTTP server on 127.0.0.1 whose every answer `handler` decides; it
    records what it was sent."""

    def __init__(self, handler: Callable[[Seen], Reply]) -> None:
        self.seen: list[Seen] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                request = Seen(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
                stub.seen.append(request)
                reply = handler(request)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[Callable[[Callable[[Seen], Reply]], Stub]]:
    made: list[Stub] = []

    def make(handler: Callable[[Seen], Reply]) -> Stub:
        made.append(Stub(handler))
        return made[-1]

    yield make
    for s in made:
        s.close()


def forward(target: str, request: Seen) -> Reply:
    """Passes a request on to the real server, as a reverse proxy would."""
    parts = urlsplit(target)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "connection")}
    connection.request(request.method, request.path, body=request.body or None, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    hop = ("transfer-encoding", "connection", "content-length", "keep-alive")
    return Reply(response.status, body, {k: v for k, v in response.getheaders() if k.lower() not in hop})


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server() -> tuple[str, str]:
    url, key = os.environ.get("THUMBFORGE_TEST_URL"), os.environ.get("THUMBFORGE_TEST_API_KEY")
    if not url or not key:
        pytest.skip("needs a server: run bash scripts/clients.sh")
    return url, key


@pytest.fixture
def tf(server: tuple[str, str]) -> Iterator[Thumbforge]:
    with Thumbforge(server[0], server[1], timeout=10, max_retries=2, poll_interval=1) as client:
        yield client
