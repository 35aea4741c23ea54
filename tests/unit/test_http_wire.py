"""What the HTTP server refuses before any app code runs is named in a problem document."""
from __future__ import annotations

import asyncio
import json

import pytest

from shared.http import create_app, serve
from shared.http_wire import ProblemH11Protocol, describe, problem_body
from sim.stackenv import free_port


@pytest.mark.parametrize("head, field, reason", [
    (b"GET / HTTP/1.1\r\nIdempotency-Key: \x01\x02\r\n\r\n", "header.idempotency-key", "control_character"),
    (b"GET / HTTP/1.1\r\nAuthorization: Bearer \x00\r\n\r\n", "header.authorization", "control_character"),
    (b"GET / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", "header.content-length", "invalid_content_length"),
    (b"GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "header.content-length",
     "conflicting_content_length"),
    (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", "header.transfer-encoding",
     "conflicting_framing"),
    (b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "header.transfer-encoding", "unsupported_transfer_encoding"),
    (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", "header", "malformed_header_line"),
    (b"GET / HTTP/1.1\r\nBad Name: 1\r\n\r\n", "header", "invalid_header_name"),
    (b"G\x00T / HTTP/1.1\r\n\r\n", "request-line.method", "invalid_method"),
    (b"GET /\xff HTTP/1.1\r\n\r\n", "request-line.target", "invalid_target"),
    (b"GET / HTTP/2.7\r\n\r\n", "request-line.version", "unsupported_version"),
    (b"GARBAGE\r\n\r\n", "request-line", "malformed_request_line"),
])
def test_a_refused_request_head_is_described_by_the_part_that_was_wrong(head: bytes, field: str, reason: str) -> None:
    assert describe(head)[:2] == (field, reason)


def test_a_head_with_nothing_recognisably_wrong_falls_back_to_the_parser_s_reason() -> None:
    assert describe(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "Invalid header value char") == (
        "request", "malformed_request", "Invalid header value char")
    assert describe(b"")[1] == "malformed_request"


def test_the_problem_never_quotes_a_header_value_nor_an_invalid_header_name() -> None:
    body = problem_body(b"GET / HTTP/1.1\r\nX-Secret: tok\x01en-value\r\nX-\x00evil: 1\r\n\r\n").decode()
    assert "tok" not in body and "en-value" not in body
    body = problem_body(b"GET / HTTP/1.1\r\nX-\x00evil: 1\r\n\r\n").decode()
    assert "evil" not in body
    long = problem_body(b"GET / HTTP/1.1\r\n" + b"X" * 5000 + b": \x01\r\n\r\n")
    assert len(long) < 600, "a long header name is cut short in the echo"


async def raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), timeout=10)
    writer.close()
    return answer


def head_and_body(answer: bytes) -> tuple[bytes, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.lower(), json.loads(body)


@pytest.mark.parametrize("protocol", ["default", "h11"])
async def test_the_server_answers_a_header_it_cannot_parse_with_a_problem_document(protocol: str,
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if protocol == "h11":
        monkeypatch.setattr("shared.http_wire.protocol_class", lambda: ProblemH11Protocol)
    port, stop = free_port(), asyncio.Event()
    server = asyncio.create_task(serve(create_app("wire-test", title="wire"), "127.0.0.1", port, stop))
    try:
        for _ in range(100):
            try:
                await raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                break
            except OSError:
                await asyncio.sleep(0.05)
        answer = await raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n")
        head, problem = head_and_body(answer)
        assert head.startswith(b"http/1.1 400") and b"content-type: application/problem+json" in head, answer
        assert problem["status"] == 400 and problem["errors"][0]["field"] == "header.content-length"
        # a good request then a bad one on the same connection: the second is judged on its own head
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await asyncio.wait_for(reader.readuntil(b"{\"status\":\"ok\"}"), timeout=10)
        assert first.startswith(b"HTTP/1.1 200"), first
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Trace: \x1b[31m\r\nContent-Length: 1x\r\n\r\n")
        second = await asyncio.wait_for(reader.read(65536), timeout=10)
        writer.close()
        assert head_and_body(second)[1]["errors"][0]["field"] in ("header.x-trace", "header.content-length"), second
    finally:
        stop.set()
        await server
