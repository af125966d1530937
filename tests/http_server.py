"""FakeArchive: a real local HTTP server whose answers (delays, errors, cut bodies, resets) tests script."""

from __future__ import annotations

import socket
import struct
import threading
import time
import urllib.parse
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

__all__ = ["Reply", "Request", "FakeArchive"]


@dataclass
class Reply:
    """One scripted answer.

    ``delay`` waits before answering (cut short when the archive closes);
    ``truncate`` sends a Content-Length of the full body but only that many
    bytes, then closes; ``reset`` closes the connection with a TCP reset and no answer.
    ``repeat`` sends the body that many times as one answer (a huge answer that
    the archive never holds whole), in pieces of ``chunk`` bytes (default: the
    body) with a pause of ``drip`` seconds before each (an answer that trickles in).
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] | None = None
    delay: float = 0.0
    truncate: int | None = None
    reset: bool = False
    repeat: int = 1
    chunk: int | None = None
    drip: float = 0.0


@dataclass
class Request:
    """A request as the archive received it; ``time`` is ``time.monotonic()`` at arrival."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]
    time: float = field(default_factory=time.monotonic)


class FakeArchive:
    """A ThreadingHTTPServer on 127.0.0.1 (free port) serving scripted replies from a daemon thread.

    Paths without a queued reply or a route get 404. ``in_flight`` and
    ``max_in_flight`` count requests being answered at once; ``sent`` the body
    bytes written to clients in all (what a client stopped reading early did not take).
    """

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.sent = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._routes: dict[str, Callable[[Request], Reply]] = {}
        self._queues: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.archive = self
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="FakeArchive", daemon=True)
        self._thread.start()

    def route(self, path: str, handler: Callable[[Request], Reply]) -> None:
        """Answer every request for ``path`` with ``handler(request)`` (after any queued replies)."""
        with self._lock:
            self._routes[path] = handler

    def queue(self, path: str, *replies: Reply) -> None:
        """Serve ``replies`` once each, in order, to the next requests for ``path``."""
        with self._lock:
            self._queues[path].extend(replies)

    def close(self) -> None:
        """Stop serving; delayed answers are abandoned at once."""
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakeArchive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _reply_for(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            queued = self._queues.get(request.path)
            if queued:
                return queued.popleft()
            handler = self._routes.get(request.path)
        if handler is None:
            return Reply(404, b"no such path")
        try:
            return handler(request)
        except Exception as exc:  # a broken test handler should show as a 500, not a hung client
            return Reply(500, f"handler failed: {exc!r}".encode())

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    archive: FakeArchive

    def handle_error(self, request, client_address) -> None:
        pass  # clients that time out or reset make the handler fail; that is the point of the tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real archives
    timeout = 10  # idle keep-alive connections end on their own

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def log_message(self, format, *args) -> None:
        pass

    def _answer(self) -> None:
        archive: FakeArchive = self.server.archive
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        form = {}
        if "application/x-www-form-urlencoded" in self.headers.get("Content-Type", ""):
            form = urllib.parse.parse_qs(body.decode("latin-1"), keep_blank_values=True)
        request = Request(self.command, url.path, urllib.parse.parse_qs(url.query, keep_blank_values=True),
                          form, body, dict(self.headers.items()))
        reply = archive._reply_for(request)
        self._answering = True
        try:
            self._send(reply, archive._closing)
        finally:
            self._answered()

    def _answered(self) -> None:
        # Counted out just before the answer's last bytes go: the client cannot have the whole answer (and
        # start another request in the slot it frees) before then, so an overlap seen is a real one.
        if self._answering:
            self._answering = False
            self.server.archive._done()

    def _send(self, reply: Reply, closing: threading.Event) -> None:
        if reply.delay and closing.wait(reply.delay):
            self.close_connection = True
            return
        if reply.reset:
            # SO_LINGER with a zero timeout makes close() send RST: the client sees "connection reset".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        headers = {"Content-Type": "application/octet-stream", **(reply.headers or {})}
        self.send_response(reply.status)
        length = headers.pop("Content-Length", str(len(reply.body) * reply.repeat))  # a test may declare a wrong length
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", length)
        if reply.truncate is not None:
            self.send_header("Connection", "close")
        if self.command == "HEAD" or not reply.body or not reply.repeat:
            self._answered()  # the headers are the whole answer
        self.end_headers()
        if self.command != "HEAD" and reply.truncate is not None:
            self._answered()
            self.wfile.write(reply.body[: reply.truncate])
        elif self.command != "HEAD":
            self._write_pieces(reply, closing)
        self.wfile.flush()
        if reply.truncate is not None:
            self.close_connection = True

    def _write_pieces(self, reply: Reply, closing: threading.Event) -> None:
        archive: FakeArchive = self.server.archive
        step = reply.chunk or max(1, len(reply.body))
        starts = range(0, len(reply.body), step)
        for copy in range(reply.repeat):
            for start in starts:
                if reply.drip and closing.wait(reply.drip):
                    self.close_connection = True
                    return
                piece = reply.body[start:start + step]
                if copy == reply.repeat - 1 and start == starts[-1]:
                    self._answered()
                self.wfile.write(piece)  # raises once the client hung up: the rest is never sent
                with archive._lock:
                    archive.sent += len(piece)
