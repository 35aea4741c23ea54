"""Problem documents for what the HTTP server refuses before any application code runs.

uvicorn answers a request its parser cannot read (a control byte in a header value, a
Content-Length that is not a number, a header line without a colon, Transfer-Encoding with
Content-Length …) with ``400 text/plain "Invalid HTTP request received."``. The protocol
classes here (passed to ``uvicorn.Config(http=...)`` by `shared.http.serve`) answer the same
requests with an RFC 9457 problem document naming the part of the request that was wrong and
why, like a validation error does::

    400 application/problem+json
    {"type": "https://shuangda.example/problems/malformed-request", "title": "Malformed HTTP request",
     "status": 400, "detail": "header idempotency-key: a control character in its value",
     "errors": [{"field": "header.idempotency-key", "reason": "control_character", "detail": "..."}]}

A header's name is echoed only when it is a valid token (at most 64 characters); a value never is.
The parser itself is untouched: only its refusal is rewritten."""
from __future__ import annotations

import json
import re
import sys
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

PROBLEM_TYPE = "https://shuangda.example/problems/malformed-request"
#: bytes of a request's head kept to say what was wrong with it (the rest is not needed)
HEAD_LIMIT = 16 * 1024

_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_CTL_IN_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_TARGET = re.compile(rb"^[\x21-\x7e]+$")
_VERSION = re.compile(rb"^HTTP/1\.[01]$")
_NAME_ECHO_LIMIT = 64


def describe(head: bytes, parser_reason: str | None = None) -> tuple[str, str, str]:
    """(field, reason, detail) for a request head the parser refused. Only complete lines are
    judged; when none of them is at fault the parser's own reason is given (it never quotes input)."""
    lines = re.split(rb"\r?\n", head)
    complete = lines[:-1]  # the last piece has no line end yet (or is what follows the head)
    if complete:
        found = _request_line(complete[0]) or _headers(complete[1:])
        if found:
            return found
    reason = (parser_reason or "the request could not be parsed")[:120]
    return "request", "malformed_request", reason


def _request_line(line: bytes) -> tuple[str, str, str] | None:
    parts = line.split(b" ")
    if len(parts) != 3:
        return "request-line", "malformed_request_line", "the request line must be METHOD SP target SP HTTP-version"
    method, target, version = parts
    if not _TOKEN.match(method):
        return "request-line.method", "invalid_method", "the method is not a token"
    if not _TARGET.match(target):
        return ("request-line.target", "invalid_target",
                "the request target holds a control, space or non-ASCII byte (percent-encode it)")
    if not _VERSION.match(version):
        return "request-line.version", "unsupported_version", "only HTTP/1.0 and HTTP/1.1 are served here"
    return None


def _headers(lines: list[bytes]) -> tuple[str, str, str] | None:
    seen: dict[bytes, list[bytes]] = {}
    for line in lines:
        if not line:  # the end of the head
            break
        name, colon, value = line.partition(b":")
        if not colon:
            return "header", "malformed_header_line", "a header line has no colon"
        if not _TOKEN.match(name):
            return "header", "invalid_header_name", "a header name holds a byte that is not allowed in a token"
        lower = name.lower()
        field = "header." + (lower.decode("ascii") if len(lower) <= _NAME_ECHO_LIMIT else lower[:_NAME_ECHO_LIMIT].decode("ascii") + "…")
        shown = field.removeprefix("header.")
        value = value.strip(b" \t")
        if _CTL_IN_VALUE.search(value):
            return field, "control_character", f"header {shown}: a control character in its value"
        seen.setdefault(lower, []).append(value)
    lengths = seen.get(b"content-length", [])
    for value in lengths:
        if not value.isdigit():
            return "header.content-length", "invalid_content_length", "Content-Length must be a decimal number"
    if len(set(lengths)) > 1:
        return "header.content-length", "conflicting_content_length", "Content-Length is given twice with different values"
    codings = seen.get(b"transfer-encoding", [])
    if codings and lengths:
        return ("header.transfer-encoding", "conflicting_framing",
                "Transfer-Encoding and Content-Length cannot both be given")
    if codings and not b",".join(codings).lower().rstrip().endswith(b"chunked"):
        return "header.transfer-encoding", "unsupported_transfer_encoding", "the last transfer coding must be chunked"
    return None


def problem_body(head: bytes, parser_reason: str | None = None) -> bytes:
    field, reason, detail = describe(head, parser_reason)
    document: dict[str, Any] = {
        "type": PROBLEM_TYPE, "title": "Malformed HTTP request", "status": 400, "detail": detail,
        "errors": [{"field": field, "reason": reason, "detail": detail}],
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _parser_reason() -> str | None:
    """The reason of the parser error being handled (send_400_response is called inside its
    `except`): httptools's messages name the fault without quoting input; h11's quote it, so not those."""
    exc = sys.exc_info()[1]
    if exc is None or type(exc).__module__.startswith("h11"):
        return None
    return str(exc) or None


class _KeepsHead:
    """Keeps the first bytes of the request being parsed, to say what was wrong with it."""

    _head: bytes = b""

    def data_received(self, data: bytes) -> None:
        if len(self._head) < HEAD_LIMIT:
            self._head += data[: HEAD_LIMIT - len(self._head)]
        super().data_received(data)  # type: ignore[misc]


try:
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is in the lock file; h11 is uvicorn's fallback
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


if HttpToolsProtocol is not None:
    class ProblemHttpToolsProtocol(_KeepsHead, HttpToolsProtocol):  # type: ignore[misc,valid-type]
        """uvicorn's httptools protocol, answering a request it cannot parse with a problem document."""

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._head = b""

        def send_400_response(self, msg: str) -> None:
            body = problem_body(self._head, _parser_reason())
            content = [STATUS_LINE[400]]
            for name, value in self.server_state.default_headers:
                content.extend([name, b": ", value, b"\r\n"])
            content.extend([
                b"content-type: application/problem+json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ])
            self.transport.write(b"".join(content))
            self.transport.close()


class ProblemH11Protocol(_KeepsHead, H11Protocol):
    """uvicorn's h11 protocol, answering a request it cannot parse with a problem document."""

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._head = b""

    def send_400_response(self, msg: str) -> None:
        import h11

        body = problem_body(self._head, _parser_reason())
        headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"), h11.Data(data=body),
                      h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()


def protocol_class() -> type:
    """The protocol `serve` gives uvicorn: httptools (as uvicorn's "auto" would pick) or h11."""
    return ProblemHttpToolsProtocol if HttpToolsProtocol is not None else ProblemH11Protocol
