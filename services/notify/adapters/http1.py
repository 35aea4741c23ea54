"""A small HTTP/1.1 client for one thing: POST a body to an origin over kept-alive
connections and learn the answer's status (and ``Retry-After``).

Why not aiohttp: at 双11 rates every delivery is one request, and aiohttp's
request machinery (session, request and response objects, the payload writer
task, header multidicts, the connector's bookkeeping) was the largest single
cost in notify's profile — about a third of its CPU in the delivery burst.
A webhook needs none of it: no redirects (a 3xx is an answer), no cookies, no
proxies, no decompression, no streaming, and the body is discarded. This client
writes the request in one call and reads the answer with httptools' C parser.

`OriginPool` keeps at most `size` connections to one origin (scheme, host,
port); a request waits for a free one beyond that. A connection goes back to
the pool only after a complete answer that allows keep-alive; anything else —
a timeout or cancellation mid-request, a parse error, ``Connection: close`` —
closes it. A request on a reused connection that the server had already
closed (nothing at all came back) is sent once more on a new connection, as
browsers do: the receiver may then see it twice, with the same ``webhook-id``
it deduplicates on.
"""
from __future__ import annotations

import asyncio
import functools
import ssl
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

__all__ = ["Answer", "Origin", "OriginPool", "ProtocolError", "origin_of"]

#: an answer's body is read and thrown away; past this many bytes the connection is dropped instead
MAX_DISCARDED_BODY = 1 << 20


class ProtocolError(OSError):
    """The server's answer is not HTTP/1.x, or the connection closed before an answer."""


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int
    #: the request line's target (path and query) of the URL it came from
    target: str
    #: the Host header's value: the port only when it is not the scheme's default
    host_header: str


@functools.lru_cache(maxsize=4096)
def origin_of(url: str) -> Origin:
    """Split an http(s) URL; ValueError for anything a request line or Host header could not carry.
    Cached: the same few endpoint URLs come back on every delivery."""
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise ValueError("URL: whitespace or control characters")
    if not url.isascii():
        raise ValueError("URL: non-ASCII characters (percent-encode the path, write the host in punycode)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("URL: http(s) with a host expected")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return Origin(parts.scheme, parts.hostname, port, target,
                  host if port == (443 if parts.scheme == "https" else 80) else f"{host}:{port}")


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reused = False
        self._waiter: asyncio.Future[Answer] | None = None
        self._status = 0
        self._retry_after: str | None = None
        self._received = False
        self._discarded = 0
        self._keep_alive = False

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError("unexpected protocol upgrade"))
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(f"bad HTTP answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if self._status:  # the answer's end was the connection's end (no length given): the status stands
                waiter.set_result(Answer(self._status, self._retry_after))
            else:
                waiter.set_exception(ProtocolError("connection closed before an answer") if exc is None else exc)

    # -- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) == 11 and name.lower() == b"retry-after":
            self._retry_after = value.decode("latin-1").strip()

    def on_headers_complete(self) -> None:
        self._status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._discarded += len(body)
        if self._discarded > MAX_DISCARDED_BODY:
            self._fail(ProtocolError("answer body too large"))

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:  # an interim answer (e.g. 103): the real one follows
            self._status, self._retry_after = 0, None
            return
        self._keep_alive = self.parser.should_keep_alive()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(Answer(self._status, self._retry_after))

    # -- use
    def _fail(self, exc: Exception) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    async def request(self, data: bytes) -> Answer:
        assert self.transport is not None and self._waiter is None
        self._status, self._retry_after, self._received, self._discarded, self._keep_alive = 0, None, False, 0, False
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            self.transport.write(data)
            return await waiter
        finally:
            self._waiter = None

    @property
    def reusable(self) -> bool:
        return self._keep_alive and not self.closed

    @property
    def silent(self) -> bool:
        """Nothing at all came back for the last request."""
        return not self._received


class OriginPool:
    """At most `size` kept-alive connections to one origin."""

    def __init__(self, origin: Origin, size: int, tls: ssl.SSLContext | None = None) -> None:
        self.origin = origin
        self.size = max(1, size)
        self.tls = tls if origin.scheme == "https" else None
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._host = origin.host_header

    async def post(self, target: str, headers: str, body: bytes) -> Answer:
        """POST `body` to `target` with `headers` (CRLF-terminated lines, without Host and Content-Length)."""
        head = (f"POST {target} HTTP/1.1\r\nhost: {self._host}\r\ncontent-length: {len(body)}\r\n"
                f"{headers}\r\n").encode("latin-1")
        data = head + body
        for _ in range(2):
            conn = await self._acquire()
            ok = False
            try:
                answer = await conn.request(data)
                ok = True
                return answer
            except ProtocolError:
                if conn.reused and conn.silent:  # a kept-alive connection the server had closed: once more
                    continue
                raise
            finally:
                self._release(conn, ok)
        raise ProtocolError("connection closed before an answer")  # pragma: no cover (the loop returns or raises)

    async def _acquire(self) -> _Connection:
        while True:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    conn.reused = True
                    return conn
                self._open -= 1
            if self._open < self.size:
                self._open += 1
                try:
                    return await self._connect()
                except BaseException:
                    self._open -= 1
                    self._wake_one()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # pass the turn on
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            _Connection, self.origin.host, self.origin.port, ssl=self.tls,
            server_hostname=self.origin.host if self.tls is not None else None,
        )
        return conn

    def _release(self, conn: _Connection, ok: bool) -> None:
        if ok and conn.reusable and not self._closed:
            self._idle.append(conn)
        else:
            conn.close()
            self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        self._open -= len(idle)
