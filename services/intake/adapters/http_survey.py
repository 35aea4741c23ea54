"""The satisfaction survey over HTTP (issue 15 §4): ``POST /v1/complaints/{tracking_no}/survey``.

Any client with ``complaints:write`` records the answer a complainant gives it (the web form, the
hotline's return call, an SMS gateway), and the complainant proves who they are with the last 4
digits of the phone the complaint was filed with (in the body, never the URL). The rule
(`domain.survey`): once, after the case closed, within the window. The answer is stored (the
comment sealed under the complainant's own data key, `shared.vault`, so an erasure shreds it; only
the masked copy is readable) and announced as ``case.survey-answered`` on intake's case topic in the same
transaction; routing reopens the case when it asks to (``case.reopened``).

Refusals: 404 (no such complaint, or the digits are wrong — the same answer for both; failed checks
are limited per tracking number and per address, 429 beyond: shared/second_factor.py), 409
``case_open`` / ``already_answered`` / ``window_closed``, 422 for a bad field. Counted in
``shuangda_intake_surveys_total``.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from services.intake.adapters import postgres_attachments as sql
from services.intake.adapters.http import AUTH_PROBLEMS, HttpDeps, problem_doc, require_scope, second_factor_checked
from services.intake.adapters.http_attachments import _last4_matches
from services.intake.domain import survey as rules
from services.intake.domain.text import redact
from services.intake.domain.tracking import parse_tracking_no
from services.intake.metrics import SURVEYS
from shared import vault
from shared.contracts.cases import CaseSurveyAnswered
from shared.envelope import deterministic_event_id
from shared.http import ProblemError, run_in_transaction
from shared.identity.model import Principal
from shared.pii import Erased, Sealed

TYPE = "https://shuangda.example/problems/survey"


class SurveyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [
        {"last4": "5678", "score": 1, "resolved": False, "reopen": True, "comment": "店铺还在卖假货"}]})
    last4: str = Field(pattern=r"^\d{4}$", description="the last 4 digits of the phone the complaint was filed with")
    score: int = Field(ge=1, le=5, description="1 (very dissatisfied) … 5 (very satisfied)")
    resolved: bool = Field(description="was the problem resolved")
    reopen: bool = Field(default=False, description="ask for the case to be handled again")
    comment: str = Field(default="", max_length=500)


class SurveyReceipt(BaseModel):
    tracking_no: str
    score: int
    reopen_requested: bool
    reopen: bool = Field(description="the answer sends the case back to its bureau")
    answered_at: dt.datetime
    rule_version: str


def refused(status: int, reason: str, detail: str, field: str = "tracking_no") -> ProblemError:
    SURVEYS.labels("refused", reason).inc()
    return ProblemError(status, "Survey answer refused", detail, type_=TYPE,
                        errors=[{"field": field, "reason": reason, "detail": detail}])


def _doc(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def survey_router(deps: HttpDeps) -> APIRouter:
    router = APIRouter(tags=["complaints"])
    not_found = "no complaint with this tracking number and these digits"

    @router.post("/v1/complaints/{tracking_no}/survey", status_code=201, response_model=SurveyReceipt,
                 responses={**AUTH_PROBLEMS, 404: problem_doc(not_found),
                            409: problem_doc("the case is open, the survey was answered, or its window closed"),
                            429: problem_doc("too many failed checks of this tracking number or from this address")},
                 summary="The complainant's satisfaction with a closed case (once; may reopen it)")
    async def answer(request: Request, body: SurveyAnswer, tracking_no: str = Path(max_length=32),
                     client: Principal = Depends(require_scope(deps, "complaints:write"))) -> SurveyReceipt:
        assert deps.pool is not None and deps.registrar is not None
        keyring = deps.registrar.keyring
        canonical = parse_tracking_no(tracking_no)
        now = deps.clock.now()
        pool = deps.pool

        async def reporter() -> bool:
            target = await sql.survey_target(pool, canonical) if canonical else None
            return target is not None and _last4_matches(target["complainant"], body.last4)

        if not await second_factor_checked(deps, request, canonical or tracking_no, reporter, client):
            raise refused(404, "not_found", not_found)

        async def work(uow: Any) -> SurveyReceipt:
            target = await sql.survey_target(uow.conn, canonical) if canonical else None
            if target is None or not _last4_matches(target["complainant"], body.last4):
                raise refused(404, "not_found", not_found)
            decided = rules.decide(closed_at=target["closed_at"], outcome=target["outcome"],
                                   answered_before=target["answered"], now=now, score=body.score,
                                   resolved=body.resolved, reopen_requested=body.reopen)
            if not isinstance(decided, rules.Decision):
                raise refused(409, *decided)
            comment, sealed = "", None
            if body.comment:  # the original may name a person: sealed under the complainant's own data key,
                doc = _doc(target["complainant"])  # so erasing them (the key destroyed) shreds it with the rest
                try:
                    opener = await vault.opener(uow.conn, keyring, [doc], schema=deps.registrar.vault_schema)
                    sealer = opener.sealer(doc)
                    # the readable copy masks the complainant's own name too (no pattern finds a name;
                    # intake holds this one), as the case summary does
                    own = opener.open(Sealed.model_validate(doc["name"]), field="name") if (doc or {}).get("name") else None
                except Erased:
                    raise refused(404, "not_found", not_found) from None
                comment = redact(body.comment, names=(own,))[:500]
                sealed = sealer.seal(body.comment, field="survey_comment").model_dump_json()
            if not await sql.insert_survey(uow.conn, {
                    "report_id": target["report_id"], "case_id": target["case_id"], "score": body.score,
                    "resolved": body.resolved, "reopen_requested": body.reopen, "reopen": decided.reopen,
                    "comment_sealed": sealed, "rule_version": decided.rule.version,
                    "answered_by": client.principal_id, "answered_at": now}):
                raise refused(409, "already_answered", "this complaint's survey was answered already")
            assert canonical is not None
            event = CaseSurveyAnswered(case_id=target["case_id"], tracking_no=canonical, score=body.score,
                                       resolved=body.resolved, reopen=decided.reopen, comment=comment, answered_at=now,
                                       rule_version=decided.rule.version)
            uow.emit(deps.registrar.topic_of(target["priority_lane"]), event, key=target["case_id"], subject=target["case_id"],
                     correlationid=target["case_id"], time=now,
                     event_id=deterministic_event_id("intake", target["report_id"], "survey"))
            outcome = "reopen" if decided.reopen else "answered"
            uow.after_commit(lambda: SURVEYS.labels(outcome, str(body.score)).inc())
            return SurveyReceipt(tracking_no=canonical, score=body.score, reopen_requested=body.reopen,
                                 reopen=decided.reopen, answered_at=now, rule_version=decided.rule.version)

        return await run_in_transaction(deps.pool, work, source="/shuangda/intake", actor=client.principal_id)

    return router
