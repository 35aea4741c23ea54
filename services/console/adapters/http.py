"""The console's pages: server-rendered (Jinja2), plain CSS, no JavaScript.

Security: the session cookie is HttpOnly, SameSite=Strict and Secure (``cookie_secure``; false only
for plain-http local use); every POST carries a CSRF token — the session's own once signed in, a
double-submit cookie on the sign-in and public lookup forms; every response carries a
Content-Security-Policy that allows nothing but this origin's stylesheet. Sign-in and the public
lookup are rate-limited per client address (and the lookup per tracking number too) with
shared.ratelimit's token buckets; repeated failures lock the account (app.accounts)."""
from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import re
import secrets
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.middleware.base import BaseHTTPMiddleware

from shared.clock import Clock
from shared.http import create_app
from shared.ratelimit import Rate, TokenBuckets
from shared.text import CASE_ID_PATTERN

from services.console.adapters.credit import CreditClient
from services.console.adapters.dlq import DeadLetters
from services.console.adapters.notify import NotifyClient
from services.console.adapters.api import Answer
from services.console.adapters.routing import ServiceDown
from services.console.adapters.oidc import OidcRefused
from services.console.app.accounts import Accounts, Person
from services.console.app.disclosures import Disclosures
from services.console.app.goods import GoodsActions, lots_with_actions
from services.console.app.inspections import PublicInspections
from services.console.app.lookup import Lookup
from services.console.app.office import Office
from services.console.app.resends import Resends
from services.console.app.survey import Survey
from services.console.app.unmask import Unmasking
from services.console.app.workbench import Workbench
from services.console.domain import i18n
from services.console.domain import cases as case_rules
from services.console.domain import goods as goods_rules
from services.console.domain import office as office_rules
from services.console.domain.accounts import principal_id_for
from services.console.metrics import SIGN_INS

SERVICE = "console"
HERE = Path(__file__).resolve().parent.parent
SESSION_COOKIE = "sd_session"
CSRF_COOKIE = "sd_csrf"
LANG_COOKIE = "sd_lang"
#: the state of an OIDC sign-in under way (SameSite=Lax: the provider's redirect back is cross-site)
OIDC_COOKIE = "sd_oidc"
OIDC_PATH = "/login/oidc"
#: an OIDC refusal's HTTP status (others: 401)
OIDC_STATUS = {"unknown_subject": 403, "disabled": 403, "locked": 423, "provider_error": 502}
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HOME = {"office": "/office", "bureau": "/cases", "police": "/referrals", "procuratorate": "/supervision", "ops": "/ops"}
FORM_MAX = 16 * 1024
SHANGHAI = ZoneInfo("Asia/Shanghai")
#: referral states in which the police decide (open a criminal case or refuse)
POLICE_DECIDES = ("transferred", "reconsideration_requested", "supervision_requested")
#: notify's delivery states (its GET /v1/deliveries?state=)
DELIVERY_STATES = ("standby", "pending", "in_flight", "delivered", "failed", "disabled")
#: the office's decisions on a proposed joint meeting (routing's POST /v1/cases/{id}/joint-meeting)
MEETING_DECISIONS = ("convene", "dismiss")


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Cache-Control"] = "no-store"
        return response


def build_app(*, accounts: Accounts, workbench: Workbench, lookup: Lookup, dead_letters: DeadLetters,
              office: Office, unmasking: Unmasking, cookie_secure: bool, login_rate: Rate, lookup_rate: Rate, prometheus_url: str,
              clock: Clock, pdf: Callable[[str], Awaitable[bytes]] | None = None,
              notify: NotifyClient | None = None, credit: CreditClient | None = None,
              resends: Resends | None = None, survey: Survey | None = None,
              inspections: PublicInspections | None = None,
              readiness: Iterable[Callable[[], Awaitable[bool]]] = ()) -> FastAPI:
    app = create_app(SERVICE, title="Shuangda console", readiness=readiness, body_limit=FORM_MAX,
                     description="Pages for people (docs/console.md)")
    app.add_middleware(SecurityHeaders)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    login_buckets, lookup_buckets, tracking_buckets = (TokenBuckets(login_rate), TokenBuckets(lookup_rate),
                                                      TokenBuckets(lookup_rate))
    css = (HERE / "static" / "console.css").read_bytes()
    disclosures = Disclosures(credit) if credit is not None else None
    goods_actions = GoodsActions(workbench.routing.read_case, workbench.custody, workbench.appraisal)
    survey_buckets, survey_tracking_buckets = TokenBuckets(lookup_rate), TokenBuckets(lookup_rate)
    disclosure_buckets = TokenBuckets(Rate(max(lookup_rate.per_second, 1.0), max(lookup_rate.burst, 30)))

    def lang_of(request: Request) -> i18n.Lang:
        return i18n.pick_lang(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))

    def page(request: Request, template: str, status: int = 200, person: Person | None = None,
             csrf: str | None = None, **context: Any) -> HTMLResponse:
        lang = lang_of(request)
        anon_csrf = None
        if person is None:
            anon_csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        other = "en" if lang == "zh" else "zh"
        html = env.get_template(template).render(
            t=lambda k: i18n.text(k, lang), lang=lang, person=person, csrf=person.csrf if person else anon_csrf,
            toggle_url=f"{request.url.path}?lang={other}", other_lang=other, prometheus_url=prometheus_url,
            oidc=accounts.oidc is not None, **context)
        response = HTMLResponse(html, status_code=status)
        if "lang" in request.query_params:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, secure=cookie_secure, httponly=True,
                                samesite="strict")
        if anon_csrf is not None and request.cookies.get(CSRF_COOKIE) != anon_csrf:
            response.set_cookie(CSRF_COOKIE, anon_csrf, secure=cookie_secure, httponly=True, samesite="strict")
        return response

    def address(request: Request) -> str:
        return request.client.host if request.client else "?"

    async def form(request: Request) -> dict[str, str]:
        raw = await request.body()
        parsed = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=30)
        return {k: v[0] for k, v in parsed.items()}

    def same(a: str | None, b: str | None) -> bool:
        return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())  # type: ignore[union-attr]

    async def person_of(request: Request) -> Person | None:
        return await accounts.person(request.cookies.get(SESSION_COOKIE))

    def to_login(request: Request) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    def refused(request: Request, person: Person | None, key: str, status: int) -> HTMLResponse:
        return page(request, "message.html", status, person=person, message_key=key)

    def refused_answer(request: Request, person: Person, answer: Any) -> HTMLResponse:
        """A service's refusal of a read the page needs: its 403 as "forbidden", anything else as the
        service being unavailable (502)."""
        if answer.status == 403:
            return refused(request, person, "forbidden", 403)
        return refused(request, person, "service_down", 502)

    @app.get("/static/console.css", include_in_schema=False)
    async def stylesheet() -> Response:
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        person = await person_of(request)
        return RedirectResponse(HOME[person.role.name] if person else "/login", status_code=303)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_page(request: Request) -> HTMLResponse:
        return page(request, "login.html", next=_safe_next(request.query_params.get("next")))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        fields = await form(request)
        if not same(fields.get("csrf"), request.cookies.get(CSRF_COOKIE)):
            return page(request, "login.html", 403, error="csrf")
        if login_buckets.take(address(request)) > 0:
            return page(request, "login.html", 429, error="too_many")
        outcome, token = await accounts.sign_in(fields.get("username", ""), fields.get("password", ""), address(request))
        SIGN_INS.labels(outcome).inc()
        if outcome != "ok":
            return page(request, "login.html", 423 if outcome == "locked" else 401,
                        error="locked" if outcome == "locked" else "bad_login", username=fields.get("username", ""))
        person = await accounts.person(token)
        assert person is not None
        response = RedirectResponse(_safe_next(fields.get("next")) or HOME[person.role.name], status_code=303)
        session_cookie(response, token or "")
        return response

    def session_cookie(response: Response, token: str) -> None:
        response.set_cookie(SESSION_COOKIE, token, max_age=int(accounts.session_length.total_seconds()),
                            secure=cookie_secure, httponly=True, samesite="strict", path="/")

    @app.get(OIDC_PATH, include_in_schema=False)
    async def oidc_start(request: Request) -> Response:
        if accounts.oidc is None:
            return refused(request, None, "not_found", 404)
        if login_buckets.take(address(request)) > 0:
            return page(request, "login.html", 429, error="too_many")
        try:
            state, url = await accounts.begin_oidc(_safe_next(request.query_params.get("next")))
        except OidcRefused as exc:
            SIGN_INS.labels(f"oidc_{exc.reason}").inc()
            return page(request, "login.html", OIDC_STATUS.get(exc.reason, 401), error=f"oidc_{exc.reason}")
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(OIDC_COOKIE, state, max_age=int(accounts.oidc_flow.total_seconds()), secure=cookie_secure,
                            httponly=True, samesite="lax", path=OIDC_PATH)
        return response

    @app.get(f"{OIDC_PATH}/callback", include_in_schema=False)
    async def oidc_callback(request: Request) -> Response:
        if accounts.oidc is None:
            return refused(request, None, "not_found", 404)
        if login_buckets.take(address(request)) > 0:
            return page(request, "login.html", 429, error="too_many")
        q = request.query_params
        if q.get("error"):  # the provider's own refusal (access_denied …): nothing to verify
            SIGN_INS.labels("oidc_denied").inc()
            response = page(request, "login.html", 401, error="oidc_denied")
        else:
            try:
                token, next_path = await accounts.finish_oidc(state=q.get("state", ""), code=q.get("code", ""),
                                                              cookie_state=request.cookies.get(OIDC_COOKIE),
                                                              address=address(request))
            except OidcRefused as exc:
                SIGN_INS.labels(f"oidc_{exc.reason}").inc()
                response = page(request, "login.html", OIDC_STATUS.get(exc.reason, 401), error=f"oidc_{exc.reason}")
            else:
                SIGN_INS.labels("oidc_ok").inc()
                person = await accounts.person(token)
                assert person is not None
                # a page, not a redirect: the browser arrived from the provider's site, and a
                # SameSite=Strict cookie set now is sent only on a navigation that starts here
                response = page(request, "continue.html", person=person,
                                target=_safe_next(next_path) or HOME[person.role.name])
                session_cookie(response, token)
        response.delete_cookie(OIDC_COOKIE, path=OIDC_PATH)
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        person = await person_of(request)
        fields = await form(request)
        if person is not None and same(fields.get("csrf"), person.csrf):
            await accounts.sign_out(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/cases", response_class=HTMLResponse, include_in_schema=False)
    async def cases(request: Request) -> Response:
        person = await person_of(request)
        if person is None:
            return to_login(request)
        if person.role.name == "ops":
            return refused(request, person, "forbidden", 403)
        cursor = request.query_params.get("cursor") or None
        if cursor is not None and (len(cursor) > 512 or not cursor.isascii()):
            return refused(request, person, "bad_cursor", 400)
        try:
            listed = await workbench.worklist_page(person.api_key, cursor)
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if listed.refusal is not None:
            return refused(request, person, "bad_cursor", 400)
        return page(request, "cases.html", person=person, items=listed.items, next_cursor=listed.next_cursor,
                    prev_cursor=listed.prev_cursor, heading="all_cases" if person.role.sees_all_cases else "my_cases")

    @app.get("/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
    async def case_page(request: Request, case_id: str) -> Response:
        person = await person_of(request)
        if person is None:
            return to_login(request)
        if person.role.name == "ops":
            return refused(request, person, "forbidden", 403)
        if not _case_shaped(case_id):
            return refused(request, person, "not_found", 404)
        return await _render_case(request, person, case_id, done=request.query_params.get("done") == "1")

    async def _render_case(request: Request, person: Person, case_id: str, *, status: int = 200,
                           refusal: str | None = None, done: bool = False,
                           unmasked: dict[str, Any] | None = None, penalty: dict[str, Any] | None = None) -> Response:
        try:
            answer = await workbench.case(person.api_key, case_id)
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if answer.status in (403, 404):
            return refused(request, person, "not_found", 404)
        if not answer.ok:
            return refused(request, person, "service_down", 502)
        body = answer.body
        referral = body.get("referral") or {}
        agency = person.role.name == "bureau" and body["bureau"] == person.role.bureau
        goods = await workbench.goods(person.api_key, case_id)  # routing let them read the case: its goods too
        bureau_here = person.role.bureau if person.role.name in ("bureau", "office") else None  # custody's party
        return page(request, "case.html", status, person=person, case=body, refusal=refusal, done=done,
                    lots=lots_with_actions(goods.lots, bureau_here), appraisals=goods.appraisals,
                    can_register_lot=agency and workbench.custody is not None and goods.lots is not None,
                    can_request_appraisal=agency and workbench.appraisal is not None and goods.appraisals is not None,
                    hazards=goods_rules.HAZARDS, purposes=goods_rules.PURPOSES,
                    appraisal_kinds=goods_rules.APPRAISAL_KINDS, item_rows=goods_rules.ITEM_ROWS,
                    goods_shown=workbench.custody is not None or workbench.appraisal is not None,
                    idem=str(uuid.uuid4()), unmasked=unmasked, penalty=penalty,
                    outcomes=case_rules.OUTCOMES, penalty_types=case_rules.PENALTY_TYPES,
                    today=clock.now().astimezone(SHANGHAI).date().isoformat(),
                    can_propose_referral=agency and body["state"] == "accepted"
                    and referral.get("state") in (None, "rejected"),
                    can_decide_referral=agency and referral.get("state") == "proposed",
                    can_transfer_police=agency and referral.get("state") == "approved",
                    can_record_outcome=agency and body["state"] == "accepted",
                    can_penalise=agency and workbench.credit is not None and body["state"] in ("accepted", "closed"),
                    can_unmask=unmasking.available and bool(body.get("complainant"))
                    and (person.role.name == "office" or (person.role.name == "bureau" and body["bureau"] == person.role.bureau)),
                    can_acknowledge=person.role.name == "bureau" and body["state"] == "assigned"
                    and body["bureau"] == person.role.bureau,
                    can_transfer=person.role.name in ("bureau", "office") and body["state"] in ("assigned", "accepted")
                    and (body["bureau"] == person.role.bureau or person.role.name == "office"),
                    can_decide=person.role.name == "police" and referral.get("police") == person.role.bureau
                    and referral.get("state") in POLICE_DECIDES)

    async def writer(request: Request, roles: tuple[str, ...],
                     case_id: str | None = None) -> tuple[Person, dict[str, str]] | Response:
        """What every form POST checks first: signed in (else the login page), the CSRF token, the
        person's role among `roles`, and a case id of the case shape (else 404, as for an unknown case);
        the person and the form's fields, or the refusal to answer with."""
        person = await person_of(request)
        if person is None:
            return to_login(request)
        fields = await form(request)
        if not same(fields.get("csrf"), person.csrf):
            return refused(request, person, "csrf", 403)
        if person.role.name not in roles:
            return refused(request, person, "forbidden", 403)
        if case_id is not None and not _case_shaped(case_id):
            return refused(request, person, "not_found", 404)
        return person, fields

    @app.post("/cases/{case_id}/acknowledge", include_in_schema=False)
    async def acknowledge(request: Request, case_id: str) -> Response:
        checked = await writer(request, ("bureau",), case_id)
        if isinstance(checked, Response):
            return checked
        person, fields = checked
        decision = "refuse" if fields.get("decision") == "refuse" else "accept"
        try:
            answer = await workbench.acknowledge(person.api_key, case_id, decision=decision,
                                                 reason=(fields.get("reason") or "").strip()[:500] or None,
                                                 idempotency_key=(fields.get("idem") or "")[:100] or None)
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if answer.status == 404:
            return refused(request, person, "not_found", 404)
        if not answer.ok:
            return await _render_case(request, person, case_id, status=409, refusal=answer.refusal)
        return RedirectResponse(f"/cases/{quote(case_id)}?done=1", status_code=303)

    @app.get("/lookup", response_class=HTMLResponse, include_in_schema=False)
    async def lookup_page(request: Request) -> HTMLResponse:
        # notify's progress SMS links here with the tracking number (never the digits) in the query
        tracking = case_rules.canonical_tracking_no((request.query_params.get("tracking_no") or "")[:64])
        return page(request, "lookup.html", tracking_no=tracking)

    @app.post("/lookup", response_class=HTMLResponse, include_in_schema=False)
    async def lookup_status(request: Request) -> HTMLResponse:
        fields = await form(request)
        if not same(fields.get("csrf"), request.cookies.get(CSRF_COOKIE)):
            return page(request, "lookup.html", 403, error="csrf")
        tracking = (fields.get("tracking_no") or "").strip()[:64]
        if lookup_buckets.take(address(request)) > 0 or tracking_buckets.take(tracking.upper()) > 0:
            return page(request, "lookup.html", 429, error="too_many", tracking_no=tracking)
        try:
            found = await lookup.status(await accounts.public_key(), tracking, fields.get("last4") or "",
                                        request.client.host if request.client else None)
        except ServiceDown:
            return page(request, "lookup.html", 503, error="service_down", tracking_no=tracking)
        if found is None:
            return page(request, "lookup.html", 404, error="lookup_refused", tracking_no=tracking)
        return page(request, "lookup.html", found=found, tracking_no=tracking)

    # -- the public: the satisfaction survey (notify's closing SMS links here) --

    @app.get("/public/survey/{tracking_no}", response_class=HTMLResponse, include_in_schema=False)
    async def survey_page(request: Request, tracking_no: str) -> HTMLResponse:
        canonical = case_rules.canonical_tracking_no(tracking_no)
        if canonical is None:
            return refused(request, None, "survey_not_found", 404)
        return page(request, "survey.html", tracking_no=canonical, form={}, outcome=None)

    @app.post("/public/survey/{tracking_no}", response_class=HTMLResponse, include_in_schema=False)
    async def survey_answer(request: Request, tracking_no: str) -> HTMLResponse:
        """The complainant's answer, to intake with the console's survey principal (the citizen's
        address in X-Client-Address); intake's refusal is told with its own text."""
        canonical = case_rules.canonical_tracking_no(tracking_no)
        if canonical is None:
            return refused(request, None, "survey_not_found", 404)
        fields = await form(request)
        kept = {k: fields.get(k, "")[:600] for k in ("score", "resolved", "reopen", "comment")}

        def again(status: int, error: str, field: str | None = None, receipt: Any = None,
                  outcome: str | None = None) -> HTMLResponse:
            return page(request, "survey.html", status, tracking_no=canonical, form=kept, error=error, field=field,
                        receipt=receipt, outcome=outcome)

        if not same(fields.get("csrf"), request.cookies.get(CSRF_COOKIE)):
            return again(403, "csrf")
        if survey is None:
            return again(503, "service_down")
        if survey_buckets.take(address(request)) > 0 or survey_tracking_buckets.take(canonical) > 0:
            return again(429, "too_many")
        try:
            done = await survey.answer(await accounts.survey_key(), canonical, fields, address(request))
        except ServiceDown:
            return again(503, "service_down")
        if done.outcome == "answered":
            return again(201, "", receipt=done.receipt, outcome="answered")
        return again(done.status, "too_many" if done.outcome == "too_many" else f"survey_{done.outcome}",
                     field=done.field if done.field in ("last4", "score", "resolved", "comment") else None)

    @app.get("/ops", response_class=HTMLResponse, include_in_schema=False)
    async def ops(request: Request) -> Response:
        person = await person_of(request)
        if person is None:
            return to_login(request)
        if person.role.name != "ops":
            return refused(request, person, "forbidden", 403)
        topic = request.query_params.get("topic")
        topics = await dead_letters.topics()
        letters = await dead_letters.letters(topic) if topic and topic in topics else []
        return page(request, "ops.html", person=person, topics=topics, topic=topic, letters=letters,
                    replayed=request.query_params.get("replayed"))

    @app.post("/ops/replay", include_in_schema=False)
    async def replay(request: Request) -> Response:
        checked = await writer(request, ("ops",))
        if isinstance(checked, Response):
            return checked
        person, fields = checked
        topic = fields.get("topic", "")
        try:
            partition, offset = int(fields.get("partition", "")), int(fields.get("offset", ""))
        except ValueError:
            return refused(request, person, "not_found", 404)
        if not dead_letters.allowed(topic):
            return refused(request, person, "forbidden", 403)
        n = await dead_letters.replay(topic, partition, offset)
        return RedirectResponse(f"/ops?topic={quote(topic)}&replayed={n}", status_code=303)

    # -- ops: notify's webhook message log --

    @app.get("/ops/messages", response_class=HTMLResponse, include_in_schema=False)
    async def messages(request: Request) -> Response:
        """Notify's deliveries, newest first (state and recipient filters), and its endpoints."""
        person = await person_of(request)
        if person is None:
            return to_login(request)
        if person.role.name != "ops":
            return refused(request, person, "forbidden", 403)
        if notify is None:
            return refused(request, person, "service_down", 503)
        state = request.query_params.get("state") or None
        state = state if state in DELIVERY_STATES else None
        recipient = (request.query_params.get("recipient") or "").strip()[:120] or None
        try:
            listed, endpoints = await asyncio.gather(notify.deliveries(person.api_key, state=state, recipient=recipient,
                                                                       limit=100),
                                                     notify.endpoints(person.api_key))
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if not listed.ok:
            return page(request, "messages.html", 422 if listed.status == 422 else 403, person=person, deliveries=[],
                        endpoints=[], states=DELIVERY_STATES, state=state, recipient=recipient or "",
                        refusal=listed.refusal)
        recovered = request.query_params.get("recovered")
        return page(request, "messages.html", person=person, deliveries=listed.body,
                    endpoints=endpoints.body if endpoints.ok else [], states=DELIVERY_STATES, state=state,
                    recipient=recipient or "", refusal=None, idem=str(uuid.uuid4()),
                    recovered=int(recovered) if recovered and recovered.isdigit() and len(recovered) < 9 else None)

    @app.get("/ops/messages/{ref}", response_class=HTMLResponse, include_in_schema=False)
    async def message(request: Request, ref: str) -> Response:
        """One delivery and its attempts: status codes, results, the next retry."""
        person = await person_of(request)
        if person is None:
            return to_login(request)
        if person.role.name != "ops":
            return refused(request, person, "forbidden", 403)
        if notify is None:
            return refused(request, person, "service_down", 503)
        try:
            found = await notify.delivery(person.api_key, ref)
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if not found.ok:
            return refused(request, person, "not_found", 404)
        return page(request, "message_log.html", person=person, d=found.body, idem=str(uuid.uuid4()),
                    resent=request.query_params.get("resent") == "1", refusal=None)

    async def ops_writer(request: Request) -> tuple[Person | None, dict[str, str], Response | None]:
        """An ops person's POST: signed in, CSRF, role ops, notify's resends configured."""
        checked = await writer(request, ("ops",))
        if isinstance(checked, Response):
            return None, {}, checked
        person, fields = checked
        if resends is None:
            return person, fields, refused(request, person, "service_down", 503)
        return person, fields, None

    def idem_of(fields: dict[str, str]) -> str:
        """The form's own Idempotency-Key (rendered with the page), so a double submit is one resend."""
        value = fields.get("idem", "")
        return value if 8 <= len(value) <= 64 and value.replace("-", "").isalnum() and value.isascii() \
            else str(uuid.uuid4())

    @app.post("/ops/messages/{ref}/resend", include_in_schema=False)
    async def resend_message(request: Request, ref: str) -> Response:
        """Send one finished delivery again (notify: a new attempt series, the same webhook-id)."""
        person, fields, stop = await ops_writer(request)
        if stop is not None:
            return stop
        assert person is not None and resends is not None
        try:
            done = await resends.resend(key=person.api_key, username=person.username,
                                        principal_id=principal_id_for(person.username), ref=ref, idempotency_key=idem_of(fields))
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if done.ok:
            return RedirectResponse(f"/ops/messages/{quote(ref, safe='')}?resent=1", status_code=303)
        if done.status == 404:
            return refused(request, person, "not_found", 404)
        try:
            found = await notify.delivery(person.api_key, ref) if notify is not None else None
        except ServiceDown:
            found = None
        if found is None or not found.ok:
            return refused(request, person, "not_found", 404)
        return page(request, "message_log.html", done.status if done.status in (403, 409, 422) else 409,
                    person=person, d=found.body, idem=str(uuid.uuid4()), resent=False, refusal=done.refusal)

    @app.post("/ops/endpoints/{endpoint_id}/recover", include_in_schema=False)
    async def recover_endpoint(request: Request, endpoint_id: str) -> Response:
        """Resend what did not arrive at one endpoint since a local (Asia/Shanghai) time."""
        person, fields, stop = await ops_writer(request)
        if stop is not None:
            return stop
        assert person is not None and resends is not None
        try:
            since = dt.datetime.fromisoformat(fields.get("since", "").strip()[:32])
        except ValueError:
            return refused(request, person, "bad_since", 422)
        since = since.replace(tzinfo=SHANGHAI) if since.tzinfo is None else since
        try:
            done = await resends.recover(key=person.api_key, username=person.username,
                                         principal_id=principal_id_for(person.username), endpoint_id=endpoint_id, since=since,
                                         idempotency_key=idem_of(fields))
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if done.status == 404 or (done.status == 422 and not _names_field(done.body, "since")):
            return refused(request, person, "not_found", 404)  # notify refused the endpoint's id itself
        if not done.ok:
            return refused(request, person, "bad_since" if done.status == 422 else "forbidden", done.status)
        return RedirectResponse(f"/ops/messages?recovered={int(done.body.get('resent', 0))}", status_code=303)

    # -- the public: penalty disclosures, the blacklist and inspection results --

    @app.get("/disclosures", response_class=HTMLResponse, include_in_schema=False)
    async def public_disclosures(request: Request) -> Response:
        """Credit's published penalties, listings or inspection results, searched by name or credit code; no sign-in."""
        asked = request.query_params.get("kind")
        kind = asked if asked in ("listing", "inspection") else "penalty"
        query = " ".join((request.query_params.get("q") or "").split())[:100]
        if disclosures is None:
            return page(request, "disclosures.html", 503, kind=kind, q=query, found=None, error="service_down")
        if disclosure_buckets.take(address(request)) > 0:
            return page(request, "disclosures.html", 429, kind=kind, q=query, found=None, error="too_many")
        try:
            found = await disclosures.search(kind, query)
        except ServiceDown:
            return page(request, "disclosures.html", 503, kind=kind, q=query, found=None, error="service_down")
        return page(request, "disclosures.html", kind=kind, q=query, found=found, error=None)

    @app.get("/public/inspections", response_class=HTMLResponse, include_in_schema=False)
    async def public_inspections(request: Request) -> Response:
        """Inspection's published random-inspection results, searched by name or credit code (a
        person's name only as published: masked), and a bureau's quality commitments; no sign-in."""
        query = " ".join((request.query_params.get("q") or "").split())[:100]
        bureau = (request.query_params.get("bureau") or "").strip()[:64] or None

        def shown(status: int, **context: Any) -> HTMLResponse:
            return page(request, "inspections.html", status, q=query, bureau=bureau or "",
                        **{"found": None, "commitments": None, "error": None, **context})

        if bureau is not None and re.fullmatch(r"[a-z_]{2,40}@[0-9]{6}", bureau) is None:
            return shown(422, error="bad_bureau")
        if inspections is None:
            return shown(503, error="service_down")
        if disclosure_buckets.take(address(request)) > 0:
            return shown(429, error="too_many")
        key = await accounts.public_key()
        try:
            found = await inspections.search(key, query, bureau, address(request))
            commitments = await inspections.commitments(key, bureau, address(request)) if bureau else None
        except ServiceDown:
            return shown(503, error="service_down")
        return shown(200, found=found, commitments=commitments)

    async def _command(request: Request, case_id: str, roles: tuple[str, ...],
                       run: Callable[[Person, dict[str, str]], Awaitable[Any]], then: str | None = None) -> Response:
        """A case command from a form: signed in, CSRF, role, then routing decides; its refusal is shown."""
        checked = await writer(request, roles, case_id)
        if isinstance(checked, Response):
            return checked
        person, fields = checked
        try:
            answer = await run(person, fields)
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if answer.status == 404:
            return refused(request, person, "not_found", 404)
        if not answer.ok:
            return await _render_case(request, person, case_id, status=409, refusal=answer.refusal)
        return RedirectResponse(then or f"/cases/{quote(case_id)}?done=1", status_code=303)

    def _text(fields: dict[str, str], name: str, limit: int) -> str | None:
        return (fields.get(name) or "").strip()[:limit] or None

    @app.post("/cases/{case_id}/transfer", include_in_schema=False)
    async def transfer(request: Request, case_id: str) -> Response:
        async def run(person: Person, fields: dict[str, str]) -> Any:
            return await workbench.transfer(person.api_key, case_id, to_bureau=(_text(fields, "to_bureau", 64) or ""),
                                            reason=_text(fields, "reason", 500) or "",
                                            idempotency_key=_text(fields, "idem", 100))
        # once transferred the case is another bureau's: back to the list, where it is no longer
        return await _command(request, case_id, ("bureau", "office"), run, then="/cases")

    @app.post("/cases/{case_id}/police-decision", include_in_schema=False)
    async def police_decision(request: Request, case_id: str) -> Response:
        async def run(person: Person, fields: dict[str, str]) -> Any:
            return await workbench.police_decision(
                person.api_key, case_id, decision="refuse" if fields.get("decision") == "refuse" else "open",
                reason=_text(fields, "reason", 500), police_case_no=_text(fields, "police_case_no", 100),
                idempotency_key=_text(fields, "idem", 100))
        return await _command(request, case_id, ("police",), run)

    @app.post("/cases/{case_id}/referral", include_in_schema=False)
    async def propose_referral(request: Request, case_id: str) -> Response:
        async def run(person: Person, fields: dict[str, str]) -> Any:
            return await workbench.propose_referral(person.api_key, case_id, reason=_text(fields, "reason", 500) or "",
                                                    idempotency_key=_text(fields, "idem", 100))
        return await _command(request, case_id, ("bureau",), run)

    @app.post("/cases/{case_id}/referral-decision", include_in_schema=False)
    async def decide_referral(request: Request, case_id: str) -> Response:
        async def run(person: Person, fields: dict[str, str]) -> Any:
            return await workbench.decide_referral(person.api_key, case_id, approve=fields.get("decision") == "approve",
                                                   reason=_text(fields, "reason", 500),
                                                   idempotency_key=_text(fields, "idem", 100))
        return await _command(request, case_id, ("bureau",), run)

    @app.post("/cases/{case_id}/referral-transfer", include_in_schema=False)
    async def transfer_to_police(request: Request, case_id: str) -> Response:
        async def run(person: Person, fields: dict[str, str]) -> Any:
            return await workbench.transfer_to_police(person.api_key, case_id,
                                                      package=case_rules.transfer_package(fields),
                                                      idempotency_key=_text(fields, "idem", 100))
        return await _command(request, case_id, ("bureau",), run)

    @app.post("/cases/{case_id}/outcome", include_in_schema=False)
    async def record_outcome(request: Request, case_id: str) -> Response:
        async def run(person: Person, fields: dict[str, str]) -> Any:
            return await workbench.record_outcome(person.api_key, case_id, outcome=case_rules.outcome_body(fields),
                                                  idempotency_key=_text(fields, "idem", 100))
        return await _command(request, case_id, ("bureau",), run)

    # -- a case's seized goods (custody) and appraisal requests (appraisal) --

    @app.post("/cases/{case_id}/lots", include_in_schema=False)
    async def register_lot(request: Request, case_id: str) -> Response:
        async def run(person: Person, fields: dict[str, str]) -> Any:
            return await goods_actions.register(person.api_key, case_id, fields, _text(fields, "idem", 100))
        return await _command(request, case_id, ("bureau",), run)

    @app.post("/cases/{case_id}/lots/{lot_id}/handover", include_in_schema=False)
    async def hand_over_lot(request: Request, case_id: str, lot_id: str) -> Response:
        async def run(person: Person, fields: dict[str, str]) -> Any:
            if not goods_rules.lot_shaped(lot_id):
                return Answer(404, None)
            return await goods_actions.hand_over(person.api_key, case_id, lot_id, fields, _text(fields, "idem", 100))
        return await _command(request, case_id, ("bureau", "office"), run)

    @app.post("/cases/{case_id}/lots/{lot_id}/receive", include_in_schema=False)
    async def receive_lot(request: Request, case_id: str, lot_id: str) -> Response:
        async def run(person: Person, fields: dict[str, str]) -> Any:
            if not goods_rules.lot_shaped(lot_id):
                return Answer(404, None)
            return await goods_actions.receive(person.api_key, case_id, lot_id, _text(fields, "idem", 100))
        return await _command(request, case_id, ("bureau", "office"), run)

    @app.post("/cases/{case_id}/appraisals", include_in_schema=False)
    async def request_appraisal(request: Request, case_id: str) -> Response:
        async def run(person: Person, fields: dict[str, str]) -> Any:
            return await goods_actions.request_appraisal(person.api_key, case_id, fields, _text(fields, "idem", 100))
        return await _command(request, case_id, ("bureau",), run)

    @app.post("/cases/{case_id}/penalty", include_in_schema=False)
    async def decide_penalty(request: Request, case_id: str) -> Response:
        """The bureau's penalty decision on its case, sent to credit; credit's refusal is shown."""
        checked = await writer(request, ("bureau",), case_id)
        if isinstance(checked, Response):
            return checked
        person, fields = checked
        try:
            case = await workbench.case(person.api_key, case_id)  # routing's rule: only a case one may see
            if not case.ok:
                return refused(request, person, "not_found", 404)
            answer = await workbench.decide_penalty(person.api_key, case_rules.penalty_decision(fields, case.body),
                                                    idempotency_key=_text(fields, "idem", 100))
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if not answer.ok:
            return await _render_case(request, person, case_id, status=409, refusal=answer.refusal)
        return await _render_case(request, person, case_id, penalty=answer.body)

    @app.post("/cases/{case_id}/unmask", include_in_schema=False)
    async def unmask(request: Request, case_id: str) -> Response:
        """The complainant's personal data in clear, for a stated reason, audited before it is shown."""
        checked = await writer(request, ("bureau", "office"), case_id)
        if isinstance(checked, Response):
            return checked
        person, fields = checked
        try:
            outcome, opened = await unmasking.unmask(key=person.api_key, username=person.username,
                                                     principal_id=principal_id_for(person.username), case_id=case_id,
                                                     reason_text=fields.get("reason"))
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if outcome == "not_found":
            return refused(request, person, "not_found", 404)
        if outcome != "ok":
            return await _render_case(request, person, case_id, status=422 if outcome == "no_reason" else 503,
                                      refusal=i18n.text("unmask_" + outcome, lang_of(request)))
        return await _render_case(request, person, case_id, unmasked=opened)

    @app.get("/referrals", response_class=HTMLResponse, include_in_schema=False)
    async def referrals(request: Request) -> Response:
        person = await person_of(request)
        if person is None:
            return to_login(request)
        if person.role.name != "police":
            return refused(request, person, "forbidden", 403)
        try:
            items = await workbench.referrals(person.api_key)
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        return page(request, "cases.html", person=person, items=items, heading="referrals_heading", referrals=True)

    @app.get("/supervision", response_class=HTMLResponse, include_in_schema=False)
    async def supervision(request: Request) -> Response:
        person = await person_of(request)
        if person is None:
            return to_login(request)
        if person.role.name != "procuratorate":
            return refused(request, person, "forbidden", 403)
        try:
            answer = await workbench.supervision(person.api_key)
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if not answer.ok:
            return refused(request, person, "forbidden", 403)
        return page(request, "supervision.html", person=person, items=answer.body)

    # -- the office --

    async def office_person(request: Request) -> Person | Response:
        person = await person_of(request)
        if person is None:
            return to_login(request)
        if person.role.name != "office":
            return refused(request, person, "forbidden", 403)
        return person

    @app.get("/office", response_class=HTMLResponse, include_in_schema=False)
    async def office_overview(request: Request) -> Response:
        person = await office_person(request)
        if not isinstance(person, Person):
            return person
        figure = office_rules.pick_figure(request.query_params.get("figure"))
        if figure == "score":
            figure = "open"
        try:
            answer = await office.overview(person.api_key)
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if not answer.ok:
            return refused_answer(request, person, answer)
        lang = lang_of(request)
        return page(request, "office.html", person=person, ov=answer.body, figure=figure,
                    figures=[f for f in office_rules.FIGURES if f != "score"], names=office.names(lang),
                    tiles=office.county_map(answer.body, figure, lang), map_size=office_rules.map_size(),
                    map_action="/office")

    def period(request: Request) -> tuple[dt.date, dt.date] | None:
        today = clock.now().astimezone(SHANGHAI).date()
        try:
            start = dt.date.fromisoformat(request.query_params.get("start") or (today - dt.timedelta(days=29)).isoformat())
            end = dt.date.fromisoformat(request.query_params.get("end") or today.isoformat())
        except ValueError:
            return None
        if end < start or (end - start).days >= 366:
            return None
        return start, end

    async def _assessment(request: Request, person: Person) -> tuple[dt.date, dt.date, dict[str, Any]] | Response:
        chosen = period(request)
        if chosen is None:
            return page(request, "assessment.html", 422, person=person, error="bad_period", report=None,
                        start=request.query_params.get("start", "")[:10], end=request.query_params.get("end", "")[:10])
        start, end = chosen
        try:
            answer = await office.assessment(person.api_key, start, end, lang_of(request))
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if answer.status == 422:
            return page(request, "assessment.html", 422, person=person, error="bad_period", report=None,
                        start=start.isoformat(), end=end.isoformat())
        if not answer.ok:
            return refused_answer(request, person, answer)
        return start, end, answer.body

    @app.get("/office/assessment", response_class=HTMLResponse, include_in_schema=False)
    async def assessment_page(request: Request) -> Response:
        person = await office_person(request)
        if not isinstance(person, Person):
            return person
        got = await _assessment(request, person)
        if isinstance(got, Response):
            return got
        start, end, report = got
        return page(request, "assessment.html", person=person, report=report, start=start.isoformat(),
                    end=end.isoformat(), pdf=pdf is not None)

    @app.get("/office/assessment.{fmt}", include_in_schema=False)
    async def assessment_download(request: Request, fmt: str) -> Response:
        person = await office_person(request)
        if not isinstance(person, Person):
            return person
        if fmt not in ("csv", "html", "pdf"):
            return refused(request, person, "not_found", 404)
        got = await _assessment(request, person)
        if isinstance(got, Response):
            return got
        start, end, report = got
        name = f"shuangda-assessment-{start.isoformat()}-{end.isoformat()}"
        if fmt == "csv":
            return Response(office_rules.assessment_csv(report["by_county"], report["by_bureau"]).encode("utf-8"),
                            media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
        lang = lang_of(request)
        html = env.get_template("assessment_report.html").render(
            t=lambda k: i18n.text(k, lang), lang=lang, report=report, start=start.isoformat(), end=end.isoformat(),
            css=css.decode("utf-8"))
        if fmt == "html":
            return Response(html.encode("utf-8"), media_type="text/html; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}.html"'})
        if pdf is None:
            return refused(request, person, "pdf_unavailable", 503)
        return Response(await pdf(html), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})

    @app.get("/office/map", response_class=HTMLResponse, include_in_schema=False)
    async def county_map(request: Request) -> Response:
        person = await office_person(request)
        if not isinstance(person, Person):
            return person
        figure = office_rules.pick_figure(request.query_params.get("figure"))
        lang = lang_of(request)
        scores: dict[str, float | None] | None = None
        try:
            answer = await office.overview(person.api_key)
            if figure == "score":
                got = await _assessment(request, person)
                if isinstance(got, Response):
                    return got
                scores = {r["key"]: r["score"] for r in got[2]["by_county"]}
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if not answer.ok:
            return refused(request, person, "service_down", 502)
        chosen = period(request)
        return page(request, "map.html", person=person, figure=figure, figures=office_rules.FIGURES,
                    tiles=office.county_map(answer.body, figure, lang, scores), map_size=office_rules.map_size(),
                    map_action="/office/map", start=chosen[0].isoformat() if chosen else "",
                    end=chosen[1].isoformat() if chosen else "")

    # -- the office: joint-meeting proposals (联席会议) --

    async def _render_meetings(request: Request, person: Person, *, status: int = 200, refusal: str | None = None,
                               refused_case: str | None = None, decided: str | None = None) -> Response:
        """The proposals with a convene and a dismiss form each. Every rendering mints new
        Idempotency-Keys, so the form shown again after a refusal is a new request for routing (the
        refused one's key stays bound to the refused body: reusing it would be a 409)."""
        try:
            answer = await office.joint_meetings(person.api_key)
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if not answer.ok:
            return refused_answer(request, person, answer)
        return page(request, "joint_meetings.html", status, person=person, meetings=answer.body,
                    names=office.names(lang_of(request)), idem=str(uuid.uuid4()), refusal=refusal, refused_case=refused_case,
                    decided=decided if decided in MEETING_DECISIONS else None)

    @app.get("/office/joint-meetings", response_class=HTMLResponse, include_in_schema=False)
    async def joint_meetings(request: Request) -> Response:
        person = await office_person(request)
        if not isinstance(person, Person):
            return person
        return await _render_meetings(request, person, decided=request.query_params.get("decided"))

    @app.post("/office/joint-meetings/{case_id}", include_in_schema=False)
    async def decide_joint_meeting(request: Request, case_id: str) -> Response:
        """Convene the proposed meeting, or dismiss the proposal with a reason; routing decides (once
        per case, the office only) and its refusal is shown on the list."""
        checked = await writer(request, ("office",), case_id)
        if isinstance(checked, Response):
            return checked
        person, fields = checked
        decision = fields.get("decision", "")
        if decision not in MEETING_DECISIONS:
            return await _render_meetings(request, person, status=422, refused_case=case_id,
                                          refusal=i18n.text("jm_bad_decision", lang_of(request)))
        try:
            answer = await office.decide_joint_meeting(person.api_key, case_id, decision=decision,
                                                       reason=_text(fields, "reason", 2000),
                                                       idempotency_key=_text(fields, "idem", 100))
        except ServiceDown:
            return refused(request, person, "service_down", 503)
        if answer.status == 404:
            return refused(request, person, "not_found", 404)
        if not answer.ok:
            return await _render_meetings(request, person, status=answer.status if answer.status in (403, 409, 422) else 409,
                                          refusal=answer.refusal, refused_case=case_id)
        return RedirectResponse(f"/office/joint-meetings?decided={decision}", status_code=303)

    return app


def _case_shaped(case_id: str) -> bool:
    """A case id of the shape every service accepts (shared.text.CASE_ID_PATTERN); anything else is
    no case, answered before any service is asked (the adapters quote what they send anyway)."""
    return re.fullmatch(CASE_ID_PATTERN, case_id) is not None


def _names_field(problem: Any, name: str) -> bool:
    """Whether a problem document's errors name the field `name` (``since``, ``path.endpoint`` …)."""
    errors = problem.get("errors") if isinstance(problem, dict) else None
    return isinstance(errors, list) and any(isinstance(e, dict) and str(e.get("field", "")).split(".")[-1] == name
                                            for e in errors)


def _safe_next(value: str | None) -> str | None:
    """Only a local path (no scheme, no //host) is followed after sign-in."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value and len(value) < 200:
        return value
    return None
