"""HTTP plumbing shared by the services: the app factory with /metrics,
/healthz and /readyz, request metrics, RFC 9457 problem documents, the body
limit (413 before anything reads the body), the database-down → 503 mapping,
one transaction per request with retries, and an in-loop uvicorn runner."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware

from shared.envelope import new_event_id
from shared.metrics import HTTP_DURATION, HTTP_REQUESTS, VALIDATION_FAILURES, render_metrics
from shared.runtime.uow import CURRENT_COMMAND_ID

if TYPE_CHECKING:
    import asyncpg

    from shared.ratelimit import RateLimits
    from shared.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
ReadinessCheck = Callable[[], Awaitable[bool]]
T = TypeVar("T")
#: the body limit of a route unless the app says otherwise (bytes)
DEFAULT_BODY_LIMIT = 64 * 1024
#: what a client should wait before retrying after a 503
RETRY_AFTER_SECONDS = 2


def problem(status: int, title: str, detail: str | None = None, *, type_: str = "about:blank", **extra: Any) -> JSONResponse:
    """An RFC 9457 problem document."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str | None = None, *,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra
        self.headers = headers or {}


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI response entry for a problem document (merge into a route's `responses`)."""
    return {"description": description, "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def unavailable() -> ProblemError:
    """The answer when the database (or another dependency) is down: 503 with Retry-After."""
    return ProblemError(503, "Service unavailable", "a dependency is unavailable; retry later",
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def create_app(
    service: str,
    *,
    title: str,
    readiness: Iterable[ReadinessCheck] = (),
    version: str = "1",
    body_limit: int | Callable[[str], int] = DEFAULT_BODY_LIMIT,
    description: str | None = None,
    rate_limits: "RateLimits | None" = None,
) -> FastAPI:
    """The app every service serves: problem documents for every error (validation, HTTP,
    a dependency down → 503, anything else → 500 without details), /metrics, /healthz,
    /readyz, request metrics, and a body limit per path (`body_limit`: bytes, or a function of
    the path) enforced before a route, or its authentication, reads the body; `rate_limits`
    (shared.ratelimit) answers 429 with Retry-After on the paths it names, before the body limit."""
    app = FastAPI(title=title, version=version, description=description or "")
    checks = list(readiness)
    limit_for = body_limit if callable(body_limit) else (lambda _path, _n=int(body_limit): _n)

    app.add_middleware(_RequestMetrics, service=service)
    if rate_limits is not None:
        from shared.ratelimit import RateLimit

        def _too_many(retry_after: int, which: str) -> JSONResponse:
            response = problem(429, "Too many requests", f"the rate limit per {which} is reached; retry after "
                               f"{retry_after} s", type_="https://shuangda.example/problems/rate-limited")
            response.headers["Retry-After"] = str(retry_after)
            return response

        app.user_middleware.append(Middleware(RateLimit, service=service, limits=rate_limits, refuse=_too_many))
    # innermost, so the request metrics middleware still counts the 413s (and 429s)
    app.user_middleware.append(Middleware(BodyLimit, limit_for=limit_for))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
            field = ".".join(loc) or "body"
            errors.append({"field": field, "reason": err.get("type", "invalid"), "detail": err.get("msg", "")})
            # an unknown field's name is the caller's choice: fold it so the label set stays bounded
            label_loc = loc[:-1] + ["*"] if err.get("type") == "extra_forbidden" else loc
            VALIDATION_FAILURES.labels(service, _bounded_field(label_loc), err.get("type", "invalid")).inc()
        return problem(422, "Request failed validation", f"{len(errors)} invalid field(s)", errors=errors,
                       type_="https://shuangda.example/problems/validation")

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        response = problem(exc.status, exc.title, exc.detail, **exc.extra)
        response.headers.update(exc.headers)  # e.g. WWW-Authenticate on 401, Retry-After on 503
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        from shared.runtime.errors import is_transient

        if is_transient(exc):  # the database or broker is down: the client should retry
            log.warning("dependency unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
            err = unavailable()
            response = problem(err.status, err.title, err.detail)
            response.headers.update(err.headers)
            return response
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "the error was logged")

    @app.get("/metrics", include_in_schema=False)
    async def _metrics_endpoint() -> Response:
        body, content_type = render_metrics()
        return Response(body, media_type=content_type)

    @app.get("/healthz", include_in_schema=False)
    async def _healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def _readyz() -> Response:
        for check in checks:
            try:
                ok = await check()
            except Exception:  # a failing check means not ready, never a crash
                ok = False
            if not ok:
                return problem(503, "Not ready", getattr(check, "__name__", "check"))
        return JSONResponse({"status": "ready"})

    return app


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body too large (at most {limit} bytes)")


class BodyLimit:
    """ASGI middleware: refuse a body over the path's limit — by Content-Length before the route
    runs, or while streaming — so an oversized request costs neither memory nor a key lookup."""

    def __init__(self, app: Any, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit():
                    await problem(400, "Bad Content-Length", "Content-Length must be a decimal number")(scope, receive, send)
                    return
                if int(value) > limit:
                    await problem(413, f"Request body too large (at most {limit} bytes)")(scope, receive, send)
                    return
        received = 0

        async def limited() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


async def run_in_transaction(
    pool: "asyncpg.Pool", work: Callable[["UnitOfWork"], Awaitable[T]], *, source: str, actor: str, attempts: int = 4,
) -> T:
    """One request, one transaction: deadlocks, serialisation failures and unique-key races are
    retried (with a short back-off), a database that is down answers 503, a ProblemError passes."""
    import asyncpg

    from shared.runtime.errors import is_transient
    from shared.runtime.uow import unit_of_work

    attempt = 0
    while True:
        try:
            async with unit_of_work(pool, source=source, actor=actor) as uow:
                return await work(uow)
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError, asyncpg.UniqueViolationError) as exc:
            attempt += 1
            if attempt >= attempts:
                raise
            log.info("transaction retried after %s", type(exc).__name__)
            await asyncio.sleep(0.01 * 2 ** attempt)
        except ProblemError:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise unavailable() from None
            raise


class _RequestMetrics:
    """Pure ASGI middleware counting requests by route template (bounded) and status, and giving each
    request an id (response header ``x-request-id``): the causation id of the events it leads to."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        command_id = new_event_id()
        token = CURRENT_COMMAND_ID.set(command_id)

        async def send_and_record(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", command_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            CURRENT_COMMAND_ID.reset(token)
            path = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(self.service, path, scope["method"], str(status)).inc()
            HTTP_DURATION.labels(self.service, path).observe(time.perf_counter() - started)


def _bounded_field(loc: list[str]) -> str:
    """Field label for metrics: list indexes folded so the label set stays bounded."""
    return ".".join("[]" if p.isdigit() else p for p in loc)[:80] or "body"


async def serve(
    app: FastAPI,
    host: str,
    port: int,
    stop: asyncio.Event,
    *,
    tls_certfile: str | None = None,
    tls_keyfile: str | None = None,
) -> None:
    """Run uvicorn inside the current loop until `stop` is set; over TLS when given a
    certificate chain and its key (the secure profile and production), plain HTTP otherwise.
    A request the HTTP parser itself refuses (a control byte in a header, a bad Content-Length …)
    is answered with a problem document naming what was wrong (shared/http_wire.py), like every
    other error, instead of uvicorn's text/plain "Invalid HTTP request received."."""
    import uvicorn

    from shared.http_wire import protocol_class

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        http=protocol_class(),
        ssl_certfile=tls_certfile,
        ssl_keyfile=tls_keyfile,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task
