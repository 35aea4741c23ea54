"""Idempotency-Key for HTTP writes, done one way in every service.

A key is scoped to the caller and bound to the request it first answered:

- the same key with the same method, path and body replays the first response, byte for
  byte, with ``Idempotent-Replayed: true``;
- the same key with anything else is a 409 problem;
- a concurrent second request with the key waits for the first to commit, then replays it.

The key is claimed inside the request's own transaction (table ``http_idempotency`` in the
service's schema, from the runtime migrations), so the answer and the work it records commit
together or not at all. Keys are forgotten after ``idempotency_ttl_hours`` (`prune`).

    status, body, replayed = await idempotent(uow, caller.id, key, request_fingerprint(...), work)
    return replay_response(status, body, replayed)
"""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from fastapi.responses import Response

from shared.http import ProblemError

if TYPE_CHECKING:
    import asyncpg

    from shared.runtime.uow import UnitOfWork

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
#: the OpenAPI description of the header (routes declare it with fastapi's Header)
DESCRIPTION = "same key + same request → the first response again; the key with another request → 409"


def checked_key(value: str | None) -> str | None:
    """The header's value, or a 422 problem naming it: 1–200 visible ASCII characters."""
    if value is None:
        return None
    if not (0 < len(value) <= MAX_KEY_LENGTH and all("!" <= ch <= "~" for ch in value)):
        raise ProblemError(422, "Request failed validation", "1 invalid field(s)",
                           errors=[{"field": HEADER, "reason": "bad_idempotency_key",
                                    "detail": f"1-{MAX_KEY_LENGTH} visible ASCII characters"}],
                           type_="https://shuangda.example/problems/validation")
    return value


def request_fingerprint(method: str, path: str, body: bytes | str) -> bytes:
    """What binds a key to its request: method, path and the body (raw bytes or a canonical text)."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return hashlib.sha256(method.upper().encode() + b" " + path.encode("utf-8", "surrogatepass") + b"\n" + raw).digest()


def render_json(body: Any) -> str:
    """JSON text exactly as it is sent, so a replay is byte-identical."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class _Conflict(Exception):
    pass


async def _claim(conn: "asyncpg.Connection", caller: str, key: str, fingerprint: bytes) -> tuple[int, str] | None:
    claimed = await conn.fetchval(
        "INSERT INTO http_idempotency (caller, idem_key, fingerprint) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        caller, key, fingerprint,
    )
    if claimed:
        return None
    row = await conn.fetchrow(
        "SELECT fingerprint, status, response FROM http_idempotency WHERE caller = $1 AND idem_key = $2", caller, key
    )
    if row is None or bytes(row["fingerprint"]) != fingerprint or row["status"] is None:
        raise _Conflict(key)
    return row["status"], row["response"]


async def idempotent(
    uow: "UnitOfWork",
    caller: str,
    key: str | None,
    fingerprint: bytes,
    work: Callable[["UnitOfWork"], Awaitable[tuple[int, Any]]],
) -> tuple[int, str, bool]:
    """Run `work` (which returns status and a JSON-able body) once per (caller, key) inside
    `uow`; returns the status, the JSON text and whether it was a replay. Without a key the
    work simply runs. A key used with another request raises a 409 ProblemError."""
    if key is not None:
        try:
            replay = await _claim(uow.conn, caller, key, fingerprint)
        except _Conflict:
            raise ProblemError(409, "Idempotency-Key reused",
                               "this Idempotency-Key was used before with a different request") from None
        if replay is not None:
            return replay[0], replay[1], True
    status, body = await work(uow)
    text = render_json(body)
    if key is not None:
        await uow.conn.execute(
            "UPDATE http_idempotency SET status = $3, response = $4 WHERE caller = $1 AND idem_key = $2",
            caller, key, status, text,
        )
    return status, text, False


def replay_response(status: int, body: str, replayed: bool, *, headers: dict[str, str] | None = None) -> Response:
    """The HTTP response for `idempotent`'s result (``Idempotent-Replayed: true`` on a replay)."""
    out = dict(headers or {})
    if replayed:
        out["Idempotent-Replayed"] = "true"
    return Response(body.encode("utf-8"), status_code=status, headers=out, media_type="application/json")


async def prune(conn: "asyncpg.Connection | asyncpg.Pool", older_than_seconds: float) -> int:
    """Forget keys older than the time to live; returns how many."""
    status = await conn.execute(
        "DELETE FROM http_idempotency WHERE created_at < now() - make_interval(secs => $1)", float(older_than_seconds)
    )
    return int(status.split()[-1])


def pruning_loop(pool: "asyncpg.Pool", ttl_hours: float, *, every_seconds: float = 600.0):  # noqa: ANN201 - a Loop
    """A service loop that forgets expired keys every `every_seconds` (a failed round waits for the next)."""
    import logging

    from shared.runtime.backoff import sleep_or_stop

    log = logging.getLogger(__name__)

    async def prune_idempotency_keys(stop: Any) -> None:
        while not await sleep_or_stop(stop, every_seconds):
            try:
                removed = await prune(pool, ttl_hours * 3600)
                if removed:
                    log.info("pruned %d idempotency keys", removed)
            except Exception as exc:
                log.warning("idempotency key pruning failed: %s", exc)

    return prune_idempotency_keys
