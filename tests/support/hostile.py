"""A corpus of hostile values (issue 12) and the requests that put each of them in
every path and query parameter of every operation of an OpenAPI document, for a
service's hostile-input test: every answer must be a 4xx problem document (or a
2xx where the value happens to be acceptable), never a 5xx or a dropped
connection.

    for method, target in hostile_requests(openapi):
        response = await client.request(method, target, headers=auth)

Values are sent percent-encoded (`ENCODED`), so NUL, newlines, spaces, lone
surrogates and invalid UTF-8 reach the application rather than being refused by
the client library."""
from __future__ import annotations

import re
from typing import Any, Iterator
from urllib.parse import quote

#: text as a caller might send it (encoded with UTF-8, then percent-encoded)
STRINGS: tuple[str, ...] = (
    "", " ", "\x00", "a\x00b", "\n", "\r\n", "\t", "\x1b[31m", "\x7f", "\x85", "\u202e", "\u200b", "\ufeff",
    "\ufffe", "\uffff", "A" * 65, "A" * 1_000, "A" * 5_000, "9" * 40, "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "-1", "0", "00", "1.5", "1e309", "NaN", "Infinity", "true", "null", "[]", "{}",
    "١٢٣", "１２３", "../../etc/passwd", "..%2f..%2f", "%", "%zz", "' OR 1=1 --", "\"", "\\", "<script>alert(1)</script>",
    "=cmd|' /C calc'!A0", "${jndi:ldap://x}", "{{7*7}}", "msg_" + "0" * 32, "msg_" + "g" * 32, "msg_" + "0" * 4000,
    "9999-12-31", "0000-00-00", "🙂" * 50, "ｍｓｇ＿", "complainant:" + "0" * 20, "*", "@", "a" * 121,
)
#: byte sequences that are not valid UTF-8 text, already percent-encoded
RAW: tuple[str, ...] = ("%ED%A0%80", "%ED%B0%80", "%C0%AF", "%FF", "%FE%FF", "%F4%90%80%80", "%00%00%00%00")

ENCODED: tuple[str, ...] = tuple(quote(s, safe="") for s in STRINGS) + RAW

_PARAM = re.compile(r"\{([^}]+)\}")


def operations(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            if method in ("get", "put", "post", "delete", "patch"):
                yield method.upper(), path, op


def hostile_requests(openapi: dict[str, Any], placeholder: str = "1") -> Iterator[tuple[str, str]]:
    """(method, path-and-query) for every hostile value in every path and query parameter of every
    operation; other path parameters hold `placeholder`, other query parameters are left out."""
    for method, path, op in operations(openapi):
        params = op.get("parameters", [])
        path_names = _PARAM.findall(path)
        for value in ENCODED:
            for name in path_names:
                filled = path
                for other in path_names:
                    filled = filled.replace("{" + other + "}", value if other == name else placeholder)
                yield method, filled
            base = _PARAM.sub(placeholder, path)
            for p in params:
                if p.get("in") == "query":
                    yield method, f"{base}?{quote(p['name'], safe='')}={value}"
        base = _PARAM.sub(placeholder, path)
        queries = [p["name"] for p in params if p.get("in") == "query"]
        for name in queries:  # repeated and unknown parameters
            yield method, f"{base}?{name}=1&{name}=2"
        yield method, f"{base}?%00=1&{'x' * 2000}=1"


#: header lines a hostile client might send; the HTTP parser refuses most before any app code runs
MALFORMED_HEADERS: tuple[bytes, ...] = (
    b"Authorization: Bearer \x00", b"X-API-Key: \x7f", b"X-API-Key: \xff\xfe", b"Idempotency-Key: \x01\x02",
    b"Idempotency-Key: \x1b[2J", b"Content-Length: 12x", b"Content-Length: -1", b"Content-Length: 1\r\nContent-Length: 2",
    b"Transfer-Encoding: chunked\r\nContent-Length: 3", b"Transfer-Encoding: gzip", b"Bad Name: 1", b"X-\x00: 1",
    b"no colon at all", b"X-API-Key: " + b"A" * 20_000,
)
#: whole request heads the parser refuses
MALFORMED_REQUEST_LINES: tuple[bytes, ...] = (
    b"GARBAGE\r\n\r\n", b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n",
)


async def raw_exchange(url: str, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are to a service (``http://host:port``) and read its whole answer."""
    import asyncio
    from urllib.parse import urlsplit

    where = urlsplit(url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(1 << 20), timeout=timeout)
    finally:
        writer.close()


def with_header(path: str, header: bytes) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n".encode() + header + b"\r\nConnection: close\r\n\r\n"


def is_problem_answer(answer: bytes, status_class: bytes = b"4") -> bool:
    """The raw answer is a 4xx (by default) whose content type is application/problem+json."""
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(b"http/1.1 " + status_class) and b"content-type: application/problem+json" in head
