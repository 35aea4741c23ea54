"""Open311 GeoReport v2, as stock civic clients speak it (issue 15 §5), under ``/open311/v2``:

- ``GET services.{json,xml}`` — the categories as services; ``GET services/{code}.{json,xml}`` —
  a service definition: its attributes (``county``, a value list; who the request is about);
- ``POST requests.{json,xml}`` — a form-encoded body (``application/x-www-form-urlencoded``, as
  the spec's examples) or JSON; the API key as the ``api_key`` body field, or a header — never the
  URL (a key in the query string is refused); the standard fields (``jurisdiction_id``,
  ``service_code``, ``lat``/``long``, ``address_string``, ``address_id``, ``email``, ``device_id``,
  ``account_id``, ``first_name``, ``last_name``, ``phone``, ``description``, ``media_url``) and
  ``attribute[code]=value``; ``media_url`` is kept as the report's evidence link and fetched
  (``shared.guarded_fetch``: https, public addresses or allow-listed hosts, size and time limits)
  into an evidence attachment, judged by its bytes like an upload — a refusal is a 400 naming it;
- ``GET requests.{json,xml}`` — the caller's own requests by ``service_request_id`` (comma
  separated), ``service_code``, ``status``, ``start_date``/``end_date`` (default: the last 90
  days; at most 1,000); ``GET requests/{id}.{json,xml}`` — one of them. Status is ``open`` or
  ``closed`` as routing last announced it, ``agency_responsible`` the bureau handling it;
- every error is GeoReport's list of ``{code, description}`` (``<errors><error>`` in XML), with
  the HTTP status as the code (400 a bad or missing field, naming it; 403 no valid key or scope;
  404 none of the caller's).

``jurisdiction_id``, when sent, must be the city's code (``610400``). lat/long are checked and
kept in the report's text; without ``attribute[county]`` the county is derived from them
(``shared.reference.geo``: approximate county areas, local data); a point in no county's area
derives none, and the county is then required as before. ``attribute[county]`` always wins.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
import json
import re
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from services.intake.adapters import postgres as db
from services.intake.adapters.http import (
    IDEMPOTENCY_HEADER,
    HttpDeps,
    count_receipts,
    write_once,
)
from services.intake.adapters import postgres_attachments as sql_attachments
from services.intake.adapters.http_attachments import attach
from services.intake.adapters.identity import client_context
from shared.attachments import Accepted, check
from services.intake.adapters.schemas import Open311Service
from services.intake.domain.errors import FieldError, IntakeValidationError, from_pydantic
from services.intake.domain.readout import readout
from services.intake.domain.tracking import parse_tracking_no
from services.intake.domain.validation import checked_url, validate_complaint
from services.intake.metrics import ATTACHMENTS, REGISTER_DURATION, REJECTED
from shared.contracts.intake import ComplainantInput, SubmitComplaint, SuspectInput
from shared.guarded_fetch import FetchRefused
from shared.http import ProblemError
from shared.idempotency import checked_key, request_fingerprint
from shared.identity.model import Principal
from shared.reference import UnknownCode, bureau_type, categories
from shared.reference.counties import city, counties
from shared.reference.geo import county_at
from shared.runtime import UnitOfWork

PREFIX = "/open311/v2"
FORMATS = ("json", "xml")
#: the standard fields of POST requests, and ours in attribute[…]
STANDARD = frozenset({"jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id", "email",
                      "device_id", "account_id", "first_name", "last_name", "phone", "description", "media_url",
                      "api_key"})
ATTRIBUTES = ("county", "suspect_name", "credit_code", "platform", "shop_id", "listing_url")
_ATTR = re.compile(r"^attribute\[([a-z_]{1,32})\]$")
DEFAULT_DAYS = 90
MAX_REQUESTS = 1000

#: our field names → the Open311 request's
_FIELD_NAMES = {
    "category": "service_code", "county": "attribute[county]", "description": "description",
    "suspect": "attribute", "suspect.name": "attribute[suspect_name]", "suspect.credit_code": "attribute[credit_code]",
    "suspect.platform": "attribute[platform]", "suspect.shop_id": "attribute[shop_id]",
    "suspect.listing_url": "attribute[listing_url]", "suspect.address": "address_string", "complainant": "phone",
    "complainant.name": "last_name", "complainant.phone": "phone", "evidence_urls.0": "media_url",
}


GEO_ERRORS: dict[str, Any] = {"type": "array", "items": {"type": "object", "required": ["code", "description"],
                                                             "properties": {"code": {"type": "integer"},
                                                                            "description": {"type": "string"}}}}
POST_FIELDS: dict[str, Any] = {"type": "object", "required": ["service_code", "description"],
                               "properties": {**{f: {"type": "string"} for f in sorted(STANDARD)},
                                              **{f"attribute[{a}]": {"type": "string"} for a in ATTRIBUTES}},
                               "description": "api_key: the key, in the body (or a header), never the URL; "
                                              "attribute[county], unless lat/long lie in one of the city's counties"}


class GeoError(Exception):
    def __init__(self, status: int, *descriptions: str) -> None:
        self.status = status
        self.descriptions = descriptions or ("error",)


# -- rendering ------------------------------------------------------------------------------------


_SINGULAR = {"attributes": "attribute", "values": "value"}


def _fill(el: ET.Element, row: dict[str, Any]) -> None:
    for k, v in row.items():
        if isinstance(v, list):
            holder = ET.SubElement(el, k)
            for entry in v:
                _fill(ET.SubElement(holder, _SINGULAR.get(k, k.rstrip("s"))), entry)
        else:
            ET.SubElement(el, k).text = _text(v)


def _xml(root: str, item: str, rows: list[dict[str, Any]]) -> bytes:
    """GeoReport's XML: ``<services><service>…``, ``<service_requests><request>…``, ``<errors><error>…``,
    and a definition's fields directly under ``<service_definition>``."""
    top = ET.Element(root)
    for row in rows:
        _fill(top if root == item else ET.SubElement(top, item), row)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="unicode").encode("utf-8")


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def render(fmt: str, root: str, item: str, rows: list[dict[str, Any]], status: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    if fmt == "xml":
        return Response(_xml(root, item, rows), status_code=status, media_type="text/xml; charset=utf-8",
                        headers=headers)
    body = rows[0] if root == "service_definition" else rows
    return Response(json.dumps(body, ensure_ascii=False, default=str), status_code=status,
                    media_type="application/json; charset=utf-8", headers=headers)


def errors(fmt: str, status: int, descriptions: tuple[str, ...]) -> Response:
    return render(fmt, "errors", "error", [{"code": status, "description": d} for d in descriptions], status)


def guarded(fmt: str, work: Callable[[], Awaitable[Response]]) -> Awaitable[Response]:
    """Run a route, answering every refusal as GeoReport errors."""

    async def run() -> Response:
        try:
            return await work()
        except GeoError as exc:
            return errors(fmt, exc.status, exc.descriptions)
        except ProblemError as exc:
            found = [f"{e.get('field')}: {e.get('detail')}" for e in (exc.extra.get("errors") or [])
                     if isinstance(e, dict)] if hasattr(exc, "extra") else []
            status = 403 if exc.status in (401, 403) else exc.status
            return errors(fmt, status, tuple(found) or (str(getattr(exc, "detail", "") or exc),))

    return run()


# -- services ---------------------------------------------------------------------------------------


def _services() -> list[dict[str, Any]]:
    out = []
    for c in categories():
        try:
            lead = bureau_type(c.lead).name_zh
        except (UnknownCode, AttributeError):
            lead = c.lead
        out.append(Open311Service(
            service_code=c.id, service_name=c.name_zh, description=f"{c.name_en} (lead: {lead})",
            metadata=True, keywords=c.id, group="知识产权" if c.ip else "假冒伪劣",
        ).model_dump(mode="json"))
    return out


def _definition(code: str) -> dict[str, Any]:
    def attr(order: int, code_: str, description: str, *, required: bool = False,
             values: list[dict[str, str]] | None = None) -> dict[str, Any]:
        return {"variable": True, "code": code_, "datatype": "singlevaluelist" if values else "string",
                "required": required, "datatype_description": "", "order": order, "description": description,
                "values": values or []}

    return {"service_code": code, "attributes": [
        attr(1, "county", "区县 / county (GB/T 2260); without it, derived from lat/long when they lie in one of "
                          "the city's counties (approximate areas)",
             values=[{"key": c.code, "name": c.name_zh} for c in counties()]),
        attr(2, "suspect_name", "被投诉方名称 / whom the request is about"),
        attr(3, "credit_code", "统一社会信用代码 / unified social credit code"),
        attr(4, "platform", "网络平台 / online platform"),
        attr(5, "shop_id", "店铺编号 / shop id on the platform"),
        attr(6, "listing_url", "商品链接 / listing URL"),
    ]}


# -- the request body ---------------------------------------------------------------------------------


async def _fields(request: Request) -> dict[str, Any]:
    raw = await request.body()
    kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise GeoError(400, "body: not UTF-8") from None
    if kind == "application/json":
        try:
            doc = json.loads(text)
        except ValueError:
            raise GeoError(400, "body: not valid JSON") from None
        if not isinstance(doc, dict):
            raise GeoError(400, "body: expected an object of fields")
        flat: dict[str, Any] = {}
        for k, v in doc.items():
            if k == "attribute" and isinstance(v, dict):  # our earlier JSON form: "attribute": {...}
                flat.update({f"attribute[{a}]": x for a, x in v.items()})
            else:
                flat[str(k)] = v
        bad = [f"{str(k)[:40]}: must be a string or a number" for k, v in flat.items()
               if v is not None and (isinstance(v, bool) or not isinstance(v, (str, int, float)))]
        if bad:
            raise GeoError(400, *bad[:10])
        return {k: str(v) for k, v in flat.items() if v is not None}
    if kind in ("application/x-www-form-urlencoded", ""):
        try:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=64)
        except ValueError:
            raise GeoError(400, "body: not a form-encoded body") from None
        return dict(pairs)
    raise GeoError(400, f"body: send application/x-www-form-urlencoded or application/json, not {kind[:40]!r}")


def _complaint(fields: dict[str, Any]) -> SubmitComplaint:
    bad = []
    attrs: dict[str, Any] = {}
    for k, v in fields.items():
        m = _ATTR.match(k)
        if m and m.group(1) in ATTRIBUTES:
            attrs[m.group(1)] = v
        elif k not in STANDARD:
            bad.append(f"{k[:40]}: not a GeoReport v2 field or a known attribute")
    jurisdiction = fields.get("jurisdiction_id")
    if jurisdiction not in (None, "", city().code):
        bad.append(f"jurisdiction_id: this endpoint serves {city().code} only")
    lat, long_ = fields.get("lat"), fields.get("long")
    place = []
    point: dict[str, float] = {}
    for name, value, bound in (("lat", lat, 90), ("long", long_, 180)):
        if value in (None, ""):
            continue
        try:
            number = float(value)
            if not -bound <= number <= bound:  # also refuses nan
                raise ValueError
            place.append(f"{name}={number:.6f}")
            point[name] = number
        except (TypeError, ValueError):
            bad.append(f"{name}: a number between -{bound} and {bound}")
    if bad:
        raise GeoError(400, *bad)
    county = attrs.get("county") or ""
    if not county and len(point) == 2:
        county = county_at(point["lat"], point["long"]) or ""
    name = "".join(p for p in (fields.get("last_name"), fields.get("first_name")) if p) or None
    address = " ".join(str(p) for p in (fields.get("address_string"), " ".join(place) or None) if p) or None
    try:
        complainant = (ComplainantInput(name=name, phone=fields.get("phone"))
                       if (name or fields.get("phone")) else None)
        return SubmitComplaint(
            kind="complaint", category=fields.get("service_code") or "", county=county,
            description=fields.get("description") or "",
            suspect=SuspectInput(name=attrs.get("suspect_name"), credit_code=attrs.get("credit_code"),
                                 platform=attrs.get("platform"), shop_id=attrs.get("shop_id"),
                                 listing_url=attrs.get("listing_url"), address=address),
            complainant=complainant,
        )
    except ValidationError as exc:
        raise IntakeValidationError(from_pydantic(exc).errors) from None


def _geo_errors(errs: tuple[FieldError, ...]) -> GeoError:
    return GeoError(400, *[f"{_FIELD_NAMES.get(e.field, e.field)}: {e.detail}" for e in errs])


async def _media(deps: HttpDeps, url: str) -> bytes:
    """The bytes behind `media_url`, fetched through the guard and judged like an upload's, or a
    GeoReport 400 naming ``media_url`` (counted as a refused attachment, reason ``fetch_<why>``)."""
    assert deps.media is not None
    try:
        data = await deps.media.fetch(url)
    except FetchRefused as exc:
        ATTACHMENTS.labels("refused", f"fetch_{exc.reason}").inc()
        REJECTED.labels("open311", "validation_failed").inc()
        raise GeoError(400, f"media_url: not fetched ({exc.reason}): {exc.detail}") from None
    decided = check(data, already=0, limits=deps.attachment_limits)
    if not isinstance(decided, Accepted):
        ATTACHMENTS.labels("refused", decided.reason).inc()
        REJECTED.labels("open311", "validation_failed").inc()
        raise GeoError(400, f"media_url: {decided.reason}: {decided.detail}")
    return data


# -- status -------------------------------------------------------------------------------------------


def _request_row(stored: db.StoredReport, progress: dict[str, Any] | None) -> dict[str, Any]:
    assert stored.tracking_no is not None
    text = readout(tracking_no=stored.tracking_no, origin=stored.origin, received_at=stored.received_at,
                   category_id=stored.category, county_code=stored.county, merged=stored.outcome == "merged")
    at = stored.received_at.astimezone(dt.timezone.utc)
    closed = progress is not None and progress.get("closed_at") is not None
    updated = max([t for t in (at, (progress or {}).get("assigned_at"), (progress or {}).get("closed_at")) if t])
    return {
        "service_request_id": stored.tracking_no, "status": "closed" if closed else "open",
        "status_notes": text.readout_zh, "service_name": text.category_name, "service_code": stored.category,
        "description": stored.summary, "agency_responsible": (progress or {}).get("bureau") or "",
        "service_notice": "", "requested_datetime": at.isoformat(),
        "updated_datetime": updated.astimezone(dt.timezone.utc).isoformat(), "expected_datetime": "",
        "address": text.county_name, "address_id": "", "zipcode": "", "lat": "", "long": "", "media_url": "",
    }


async def _progress(pool: asyncpg.Pool, case_ids: list[str]) -> dict[str, dict[str, Any]]:
    from services.intake.adapters import postgres_attachments as sql

    return await sql.progress_of(pool, case_ids)


#: the years a date filter may name: a far date would overflow the default window's arithmetic
MIN_YEAR, MAX_YEAR = 2000, 2999


def _date(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GeoError(400, f"{name}: an ISO 8601 date-time with its offset") from None
    if parsed.tzinfo is None:
        raise GeoError(400, f"{name}: include the time zone (Z or ±hh:mm)")
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise GeoError(400, f"{name}: a year from {MIN_YEAR} to {MAX_YEAR}")
    return parsed


# -- routes -------------------------------------------------------------------------------------------


def _endpoint(handler: Callable[[Request, str], Awaitable[Response]], fmt: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await guarded(fmt, lambda: handler(request, fmt))

    return endpoint


def open311_router(deps: HttpDeps) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["open311"])

    async def caller(request: Request, fields: dict[str, Any] | None, scope: str) -> Principal:
        if "api_key" in request.query_params:
            raise GeoError(400, "api_key: send it in the body or a header, never in the URL")
        auth = request.headers.get("authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-api-key")
        token = token or ((fields or {}).get("api_key") if isinstance((fields or {}).get("api_key"), str) else None)
        found = await deps.auth.directory.authenticate(token) if token and deps.auth is not None else None
        if found is None:
            raise GeoError(403, "api_key: missing or not valid")
        if not found.can(scope):
            raise GeoError(403, f"api_key: lacks the scope {scope}")
        return found

    def add(path: str, method: str, summary: str, handler: Callable[..., Awaitable[Response]], **extra: Any) -> None:
        extra.setdefault("openapi_extra", {})
        extra["openapi_extra"].setdefault("responses", {}).update({
            str(code): {"description": text, "content": {"application/json": {"schema": GEO_ERRORS},
                                                         "text/xml": {"schema": {"type": "string"}}}}
            for code, text in ((400, "a bad or missing field, named"), (403, "no valid api_key, or it lacks the scope"),
                               (404, "none of the caller's"))})
        names = re.findall(r"\{(\w+)\}", path.replace("{fmt}", ""))
        if names:
            extra["openapi_extra"]["parameters"] = [
                {"name": n, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}} for n in names]
        for fmt in FORMATS:
            router.add_api_route(path.replace("{fmt}", fmt), _endpoint(handler, fmt), methods=[method], summary=f"{summary} ({fmt})",
                                 operation_id=f"open311_{handler.__name__}_{fmt}", **extra)

    async def services(request: Request, fmt: str) -> Response:
        return render(fmt, "services", "service", _services())

    async def definition(request: Request, fmt: str) -> Response:
        code = request.path_params["service_code"]
        if code not in {c.id for c in categories()}:
            raise GeoError(404, f"service_code: no service {code[:40]!r}")
        return render(fmt, "service_definition", "service_definition", [_definition(code)])

    async def create(request: Request, fmt: str) -> Response:
        fields = await _fields(request)
        client = await caller(request, fields, "complaints:write")
        key = checked_key(request.headers.get(IDEMPOTENCY_HEADER))
        ctx = client_context(client)
        now = deps.clock.now()
        try:
            report = validate_complaint(_complaint(fields), client=ctx, channel="open311", now=now)
            if fields.get("media_url"):  # the photo's link, kept as the report's evidence
                report = replace(report, evidence_urls=(checked_url(str(fields["media_url"]), "media_url"),))
        except IntakeValidationError as exc:
            REJECTED.labels("open311", "validation_failed").inc()
            raise _geo_errors(exc.errors) from None
        except GeoError:
            REJECTED.labels("open311", "validation_failed").inc()
            raise
        media = await _media(deps, report.evidence_urls[0]) if report.evidence_urls and deps.media else None

        async def work(uow: UnitOfWork) -> tuple[int, Any]:
            assert deps.registrar is not None
            receipt = await deps.registrar.register(uow, report, now)
            count_receipts(uow, [(receipt, report)])
            assert receipt.tracking_no is not None
            if media is not None:  # the photo becomes an evidence file, in the same transaction
                filed = await sql_attachments.report_for_upload(uow.conn, receipt.tracking_no)
                await attach(uow, deps, filed, media, uploaded_by=client.principal_id, now=now)
            return 201, [{"service_request_id": receipt.tracking_no,
                          "service_notice": "已受理，请保留受理编号 / registered; keep the tracking number",
                          "account_id": fields.get("account_id") or None}]

        canonical = json.dumps({k: v for k, v in sorted(fields.items()) if k != "api_key"}, ensure_ascii=False)
        with REGISTER_DURATION.labels("open311").time():
            status, out, replayed = await write_once(deps, client, key, request_fingerprint(
                "POST", f"{PREFIX}/requests", canonical), work)
        headers = {"Idempotent-Replayed": "true"} if replayed else None
        return render(fmt, "service_requests", "request", json.loads(out), status, headers)

    async def listing(request: Request, fmt: str) -> Response:
        client = await caller(request, None, "complaints:read")
        q = request.query_params
        assert deps.pool is not None
        ids = [i for i in (parse_tracking_no(x.strip()) for x in (q.get("service_request_id") or "").split(",")
                           if x.strip()) if i]
        end = _date(q.get("end_date"), "end_date") or deps.clock.now()
        start = _date(q.get("start_date"), "start_date") or end - dt.timedelta(days=DEFAULT_DAYS)
        wanted = {s.strip() for s in (q.get("status") or "").split(",") if s.strip()}
        if wanted - {"open", "closed"}:
            raise GeoError(400, "status: open, closed or both (comma separated)")
        code = q.get("service_code") or None
        if code is not None and code not in {c.id for c in categories()}:
            raise GeoError(400, f"service_code: no service {code[:40]!r}")
        rows = await db.reports_of_client(deps.pool, client.principal_id, ids or None, code,
                                          None if ids else start, None if ids else end, MAX_REQUESTS)
        progress = await _progress(deps.pool, [r.case_id for r in rows])
        out = [_request_row(r, progress.get(r.case_id)) for r in rows]
        out = [r for r in out if not wanted or r["status"] in wanted]
        return render(fmt, "service_requests", "request", out)

    async def one(request: Request, fmt: str) -> Response:
        client = await caller(request, None, "complaints:read")
        canonical = parse_tracking_no(request.path_params["service_request_id"])
        assert deps.pool is not None
        stored = await db.report_by_tracking_no(deps.pool, canonical) if canonical else None
        if stored is None or stored.client_id != client.principal_id or stored.tracking_no is None:
            raise GeoError(404, "service_request_id: no service request with this id was filed by this client")
        progress = await _progress(deps.pool, [stored.case_id])
        return render(fmt, "service_requests", "request", [_request_row(stored, progress.get(stored.case_id))])

    add("/services.{fmt}", "GET", "The categories, as Open311 services", services)
    add("/services/{service_code}.{fmt}", "GET", "A service definition: its attributes", definition)
    add("/requests.{fmt}", "POST", "File a complaint as a service request (form-encoded or JSON; api_key in the body)",
        create, status_code=201, openapi_extra={"requestBody": {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": POST_FIELDS}, "application/json": {"schema": POST_FIELDS}}}})
    add("/requests.{fmt}", "GET", "The caller's service requests (by id, code, status, dates)", listing)
    add("/requests/{service_request_id}.{fmt}", "GET", "One of the caller's service requests", one)
    return router
