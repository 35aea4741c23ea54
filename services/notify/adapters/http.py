"""Notify's HTTP API for operators (scope ``notify:admin``): delivery state and the
recipient directory. Every route authenticates through the one identity store
(shared.identity) before it reads anything; parameters have declared shapes
and bounds, so hostile input is a 422 problem document naming the parameter,
never a query. The OpenAPI document is committed as docs/openapi/notify.json."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Awaitable, Callable, Iterable, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.notify.app.admin import Admin, DirectoryState, Refused
from shared.http import ProblemError, create_app, run_in_transaction
from shared.idempotency import DESCRIPTION as IDEMPOTENCY, checked_key, idempotent, replay_response, request_fingerprint
from shared.identity.http import Authenticator
from shared.identity.model import Principal
from shared.openapi import install_problem_schema, problems

SCOPE = "notify:admin"
#: resending is for operations only (kind ops), not every holder of notify:admin
RESEND_SCOPE = "notify:resend"
SOURCE = "/shuangda/notify"
TITLE = "Shuangda notify"
DESCRIPTION = ("Operators' view of notify: delivery state by channel, deliveries and their attempts, endpoints taken "
               "out of service, and the recipient directory (which it can re-read). Every operation needs an API key "
               "with the notify:admin scope; resending one delivery or recovering an endpoint since a time needs "
               "notify:resend (operations). Contents and addresses of deliveries are never shown.")

State = Literal["standby", "pending", "in_flight", "delivered", "failed", "disabled"]
Channel = Literal["webhook", "email", "sms"]
#: a delivery's id (digits) or its message id (the webhook-id, msg_<32 hex>)
DELIVERY_REF = r"^(?:[0-9]{1,18}|msg_[0-9a-f]{32})$"
#: a recipient id: a bureau (type@division), a directory entry id, or complainant:<digest>
RECIPIENT = r"^[A-Za-z0-9][A-Za-z0-9_.:@*-]{0,119}$"
#: an endpoint's id (ep_ + 24 hex), as GET /v1/endpoints lists it
ENDPOINT_REF = r"^ep_[0-9a-f]{24}$"

READ_PROBLEMS = problems(401, 403, 422, 503)


class ChannelState(BaseModel):
    channel: Channel
    state: State
    count: int
    oldest: datetime = Field(description="when the oldest delivery in this state was created")


class DirectoryOut(BaseModel):
    version: str
    entries: int = Field(description="recipient entries in the directory in force")
    complainants_told: bool = Field(description="whether complainants are told of progress (by SMS)")


class Status(BaseModel):
    deliveries: list[ChannelState]
    disabled_endpoints: int
    directory: DirectoryOut


class DeliverySummary(BaseModel):
    id: int
    message_id: str = Field(description="the webhook-id receivers deduplicate on")
    event_type: str
    case_id: str | None
    recipient: str
    channel: Channel
    rank: int = Field(description="0 for the preferred channel, then the fallbacks in order")
    state: State
    attempts: int
    due_at: datetime
    last_result: str | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class Attempt(BaseModel):
    series: int = Field(description="0 for the original attempts, n for the n-th resend's")
    n: int
    started_at: datetime
    finished_at: datetime
    result: str
    status: int | None
    detail: str


class ResendRecord(BaseModel):
    actor: str
    at: datetime


class Delivery(DeliverySummary):
    event_id: str
    event_ids: list[str] = Field(description="a digest's events")
    critical: bool
    priority: int
    endpoint: str
    give_up_at: datetime | None
    series: int = Field(description="how many times it was resent")
    endpoint_id: str
    attempt_log: list[Attempt]
    resends: list[ResendRecord] = Field(description="who resent this delivery, when")


class Circuit(BaseModel):
    state: Literal["closed", "open", "half_open"]
    failures: int = Field(description="consecutive failed attempts")
    since: datetime | None = Field(description="when it opened (open or half-open)")
    trial_at: datetime | None = Field(description="when an open circuit lets one trial request through")
    paused_until: datetime | None = Field(description="a Retry-After pause")


class Endpoint(BaseModel):
    id: str = Field(description="the endpoint's id in URLs (ep_…)")
    endpoint: str
    channel: Channel
    disabled_at: datetime | None = Field(description="set when the endpoint answered 410 Gone")
    disabled_reason: str | None
    queued: int
    delivered: int
    failed: int = Field(description="failed or disabled deliveries (what a recover would resend, by date)")
    last_created_at: datetime | None
    circuit: Circuit = Field(description="the answering notify process's breaker for it")


class Resent(BaseModel):
    id: int
    message_id: str = Field(description="unchanged: receivers deduplicate on it")
    state_before: State
    series: int
    state: State


class RecoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: AwareDatetime = Field(description="resend what did not arrive among the deliveries created since then "
                                             "(with a UTC offset, not in the future)")


class Recovered(BaseModel):
    endpoint_id: str
    endpoint: str
    since: datetime
    resent: int = Field(description="deliveries put back in the queue as a new attempt series")


class ReloadOut(BaseModel):
    loaded: bool
    directory: DirectoryOut


def _directory(state: DirectoryState) -> DirectoryOut:
    return DirectoryOut(version=state.version, entries=state.entries, complainants_told=state.complainants_told)


def router(admin: Admin | None, auth: Authenticator | None) -> APIRouter:
    """The routes; `admin` and `auth` are None when the app is built only for its OpenAPI document."""
    api = APIRouter(prefix="/v1")
    operator = (auth or Authenticator(None)).require(SCOPE)  # type: ignore[arg-type]

    def use() -> Admin:
        assert admin is not None, "built for the OpenAPI document only"
        return admin

    @api.get("/status", response_model=Status, tags=["deliveries"], summary="Deliveries by channel and state",
             responses=READ_PROBLEMS)
    async def status(_: Principal = Depends(operator)) -> Any:
        found = await use().status()
        return Status(deliveries=found["deliveries"], disabled_endpoints=found["disabled_endpoints"],
                      directory=_directory(found["directory"]))

    @api.get("/deliveries", response_model=list[DeliverySummary], tags=["deliveries"],
             summary="Deliveries, newest first", responses=READ_PROBLEMS)
    async def deliveries(
        state: Annotated[State | None, Query(description="only deliveries in this state")] = None,
        recipient: Annotated[str | None, Query(pattern=RECIPIENT, max_length=120,
                                                description="only this recipient's deliveries")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        _: Principal = Depends(operator),
    ) -> Any:
        return await use().deliveries(state=state, recipient=recipient, limit=limit)

    @api.get("/deliveries/{delivery}", response_model=Delivery, tags=["deliveries"],
             summary="One delivery and its attempts",
             responses=problems(401, 403, 422, 503, {404: "No delivery with this id or message id"}))
    async def delivery(
        delivery: Annotated[str, Path(pattern=DELIVERY_REF, max_length=36,
                                      description="the delivery's id, or its message id (msg_…)")],
        _: Principal = Depends(operator),
    ) -> Any:
        found = await use().delivery(delivery)
        if found is None:
            raise ProblemError(404, "Not found", "no delivery with this id or message id")
        return found

    @api.get("/endpoints", response_model=list[Endpoint], tags=["endpoints"],
             summary="Endpoints known to notify and whether they are disabled (410 Gone)", responses=READ_PROBLEMS)
    async def endpoints(_: Principal = Depends(operator)) -> Any:
        return await use().endpoints()

    resender = (auth or Authenticator(None)).require(RESEND_SCOPE)  # type: ignore[arg-type]
    write_problems = problems(401, 403, 413, 422, 503, {404: "No such delivery or endpoint",
                                                        409: "Not finished yet (queued, in flight or on standby), "
                                                             "or the Idempotency-Key was used for another request"})

    async def once(request: Request, caller: Principal, key: str | None, work: Any) -> Response:
        fingerprint = request_fingerprint(request.method, request.url.path, await request.body())

        async def inside(uow: Any) -> tuple[int, str, bool]:
            return await idempotent(uow, caller.principal_id, key, fingerprint, lambda u: work(u.conn))

        status_code, text, replayed = await run_in_transaction(use().pool, inside, source=SOURCE,
                                                               actor=caller.principal_id)
        return replay_response(status_code, text, replayed)

    @api.post("/deliveries/{delivery}:resend", response_model=Resent, status_code=202, tags=["deliveries"],
              summary="Send one finished delivery again: a new attempt series of the same message (same webhook-id)",
              responses=write_problems)
    async def resend(
        request: Request,
        delivery: Annotated[str, Path(pattern=DELIVERY_REF, max_length=36,
                                      description="the delivery's id, or its message id (msg_…)")],
        caller: Principal = Depends(resender),
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", description=IDEMPOTENCY)] = None,
    ) -> Any:
        key = checked_key(idempotency_key)

        async def work(conn: Any) -> tuple[int, Any]:
            try:
                done = await use().resend(conn, delivery, actor=caller.principal_id)
            except Refused as exc:
                raise ProblemError(409, "Not finished", f"the delivery is {exc.state}: it will be sent anyway",
                                   type_="https://shuangda.example/problems/state", state=exc.state) from None
            if done is None:
                raise ProblemError(404, "Not found", "no delivery with this id or message id")
            return 202, Resent.model_validate(done).model_dump(mode="json")

        return await once(request, caller, key, work)

    @api.post("/endpoints/{endpoint}:recover", response_model=Recovered, status_code=202, tags=["endpoints"],
              summary="Resend every delivery to the endpoint since a time that did not arrive (failed, disabled)",
              responses=write_problems)
    async def recover(
        request: Request,
        body: RecoverIn,
        endpoint: Annotated[str, Path(pattern=ENDPOINT_REF, max_length=27, description="the endpoint's id (ep_…)")],
        caller: Principal = Depends(resender),
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", description=IDEMPOTENCY)] = None,
    ) -> Any:
        key = checked_key(idempotency_key)
        if body.since > use().wall.now():
            raise ProblemError(422, "Request failed validation", "1 invalid field(s)",
                               errors=[{"field": "since", "reason": "in_future", "detail": "since must not be in the future"}],
                               type_="https://shuangda.example/problems/validation")

        async def work(conn: Any) -> tuple[int, Any]:
            done = await use().recover(conn, endpoint, body.since, actor=caller.principal_id)
            if done is None:
                raise ProblemError(404, "Not found", "no endpoint with this id")
            return 202, Recovered.model_validate(done).model_dump(mode="json")

        return await once(request, caller, key, work)

    @api.get("/directory", response_model=DirectoryOut, tags=["directory"], summary="The directory in force",
             responses=problems(401, 403, 503))
    async def directory(_: Principal = Depends(operator)) -> Any:
        return _directory(use().directory_state())

    @api.post("/directory:reload", response_model=ReloadOut, tags=["directory"],
              summary="Re-read the directory file now (as SIGHUP does)",
              responses=problems(401, 403, 413, 503, {422: "The file is invalid; the directory in force stays"}))
    async def reload(_: Principal = Depends(operator)) -> Any:
        done = use().reload_directory()
        if not done.loaded:
            raise ProblemError(422, "Directory refused", done.error or "the directory file is invalid",
                               type_="https://shuangda.example/problems/directory",
                               version_in_force=done.directory.version)
        return ReloadOut(loaded=True, directory=_directory(done.directory))

    return api


def build_app(*, admin: Admin | None, auth: Authenticator | None,
              readiness: Iterable[Callable[[], Awaitable[bool]]] = ()) -> FastAPI:
    app = create_app("notify", title=TITLE, description=DESCRIPTION, readiness=readiness)
    app.include_router(router(admin, auth))
    install_problem_schema(app)
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, built without any connection (for docs/openapi/notify.json)."""
    return build_app(admin=None, auth=None).openapi()
