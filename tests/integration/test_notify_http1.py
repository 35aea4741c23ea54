"""Notify's small HTTP/1.1 client (services.notify.adapters.http1) against real local servers: kept-alive
connections are reused, answers of every framing are read to their end, a connection the server closed
is not reused, the pool bound holds, and a broken or missing answer is an error, never a hang."""
from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Callable

import pytest

from deploy.launcher.secure import tls_material
from services.notify.adapters.http1 import OriginPool, ProtocolError, origin_of


class Server:
    """A raw TCP server: `answer(request_head)` gives the bytes written back (None: never answer)."""

    def __init__(self, answer: Callable[[bytes], bytes | None], close_after: bool = False) -> None:
        self.answer, self.close_after = answer, close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self.in_flight = self.max_in_flight = 0
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> "Server":
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                await asyncio.sleep(0.02)
                self.in_flight -= 1
                out = self.answer(head)
                if out is None:  # never answered: wait for the client to give up and close
                    await reader.read()
                    break
                writer.write(out)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()


def pool_for(server: Server, size: int = 2) -> OriginPool:
    return OriginPool(origin_of(f"http://127.0.0.1:{server.port}/"), size)


OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


async def test_kept_alive_connections_are_reused_for_the_next_requests() -> None:
    server = await Server(lambda _: OK).start()
    pool = pool_for(server, size=1)
    try:
        answers = [await pool.post("/hooks/a?x=1", "webhook-id: msg_1\r\n", b'{"a":1}') for _ in range(5)]
        assert [a.status for a in answers] == [200] * 5
        assert server.connections == 1
        first = server.requests[0]
        assert first.startswith(b"POST /hooks/a?x=1 HTTP/1.1\r\n")
        assert f"host: 127.0.0.1:{server.port}\r\n".encode() in first and b"webhook-id: msg_1\r\n" in first
        assert first.endswith(b'content-length: 7\r\nwebhook-id: msg_1\r\n\r\n{"a":1}')
    finally:
        pool.close()
        await server.stop()


async def test_chunked_and_close_delimited_answers_are_read_to_their_end_with_their_retry_after() -> None:
    chunked = b"HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    server = await Server(lambda _: chunked).start()
    pool = pool_for(server)
    try:
        answer = await pool.post("/", "", b"{}")
        assert (answer.status, answer.retry_after) == (429, "7")
        assert (await pool.post("/", "", b"{}")).status == 429 and server.connections == 1
    finally:
        pool.close()
        await server.stop()
    unframed = await Server(lambda _: b"HTTP/1.0 503 Busy\r\n\r\nno length: the close ends it", close_after=True).start()
    pool = pool_for(unframed)
    try:
        assert (await pool.post("/", "", b"{}")).status == 503
        assert (await pool.post("/", "", b"{}")).status == 503
        assert unframed.connections == 2  # an answer without keep-alive closes its connection
    finally:
        pool.close()
        await unframed.stop()


async def test_a_connection_the_server_closed_after_answering_is_not_reused() -> None:
    server = await Server(lambda _: b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
                          close_after=True).start()
    pool = pool_for(server, size=1)
    try:
        for _ in range(3):
            assert (await pool.post("/", "", b"{}")).status == 200
        assert server.connections == 3
    finally:
        pool.close()
        await server.stop()


async def test_an_idle_connection_closed_by_the_server_is_replaced_and_the_request_goes_through() -> None:
    # keep-alive promised, then the server closes the idle connection: the next request must not fail
    server = await Server(lambda _: OK, close_after=True).start()
    pool = pool_for(server, size=1)
    try:
        assert (await pool.post("/", "", b"{}")).status == 200
        await asyncio.sleep(0.1)
        assert (await pool.post("/", "", b"{}")).status == 200
        assert server.connections == 2
    finally:
        pool.close()
        await server.stop()


async def test_the_pool_never_opens_more_connections_than_its_size() -> None:
    server = await Server(lambda _: OK).start()
    pool = pool_for(server, size=3)
    try:
        answers = await asyncio.gather(*(pool.post("/", "", b"{}") for _ in range(20)))
        assert all(a.status == 200 for a in answers)
        assert server.connections <= 3 and server.max_in_flight <= 3
    finally:
        pool.close()
        await server.stop()


async def test_garbage_and_silence_are_errors_and_a_timed_out_request_frees_its_slot() -> None:
    garbage = await Server(lambda _: b"SMTP ready\r\n\r\n").start()
    pool = pool_for(garbage)
    try:
        with pytest.raises(ProtocolError):
            await pool.post("/", "", b"{}")
    finally:
        pool.close()
        await garbage.stop()
    calls: list[int] = []

    def first_hangs(_: bytes) -> bytes | None:
        calls.append(1)
        return None if len(calls) == 1 else OK

    hanging = await Server(first_hangs).start()
    pool = pool_for(hanging, size=1)
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await pool.post("/", "", b"{}")
        assert (await asyncio.wait_for(pool.post("/", "", b"{}"), 5)).status == 200
    finally:
        pool.close()
        await hanging.stop()


@pytest.mark.parametrize("url", ["ftp://h/x", "http:///x", "http://h/a b", "http://h/\r\nx: y", "http://秦都.example/h"])
def test_a_url_a_request_line_cannot_carry_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        origin_of(url)


def test_the_host_header_names_the_port_only_when_it_is_not_the_default() -> None:
    assert origin_of("https://mr.example/hooks").host_header == "mr.example"
    assert origin_of("http://[::1]:8090/h?x=1").host_header == "[::1]:8090"
    assert origin_of("http://[::1]:8090/h?x=1").target == "/h?x=1"
    assert origin_of("http://h").target == "/"



async def test_https_verifies_the_receivers_certificate_against_the_trusted_authorities(tmp_path: Path) -> None:
    material = tls_material(tmp_path / "tls", [])
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(material.server_cert, material.server_key)
    server = Server(lambda _: OK)
    server.server = await asyncio.start_server(server._handle, "127.0.0.1", 0, ssl=server_side)
    server.port = server.server.sockets[0].getsockname()[1]
    trusting = OriginPool(origin_of(f"https://127.0.0.1:{server.port}/"), 1,
                          ssl.create_default_context(cafile=str(material.ca_file)))
    stranger = OriginPool(origin_of(f"https://127.0.0.1:{server.port}/"), 1, ssl.create_default_context())
    try:
        assert (await trusting.post("/", "", b"{}")).status == 200
        assert (await trusting.post("/", "", b"{}")).status == 200 and server.connections == 1
        with pytest.raises(ssl.SSLCertVerificationError):
            await stranger.post("/", "", b"{}")
    finally:
        trusting.close()
        stranger.close()
        await server.stop()
