"""The public satisfaction survey (issue 15 §4, the page notify's closing SMS links to): the
complainant proves who they are with the last 4 digits of their phone and answers a score 1–5,
whether it was resolved, whether to reopen, a comment. One call to intake's
``POST /v1/complaints/{tracking_no}/survey`` with the console's survey principal; intake decides
(once, after the case closed, within the window) and its refusal is told as it is: an unknown
number and wrong digits are the same ``not_found``; ``case_open``, ``already_answered``,
``window_closed``; ``too_many`` when intake's attempt limit is reached."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.console.adapters.intake import IntakeClient
from services.console.adapters.routing import ServiceDown
from services.console.domain.cases import canonical_tracking_no, valid_last4

#: intake's 409 reasons, each told to the citizen with its own text (i18n ``survey_<reason>``)
CONFLICTS = ("case_open", "already_answered", "window_closed")
COMMENT_MAX = 500


@dataclass(frozen=True)
class SurveyOutcome:
    #: ``answered`` or the refusal: not_found, case_open, already_answered, window_closed, too_many, invalid
    outcome: str
    #: intake's receipt when answered (score, reopen)
    receipt: dict[str, Any] | None = None
    #: the form field a refusal is about (``invalid``)
    field: str | None = None

    @property
    def status(self) -> int:
        return {"answered": 201, "not_found": 404, "too_many": 429, "invalid": 422}.get(self.outcome, 409)


def read_form(fields: dict[str, str]) -> dict[str, Any] | SurveyOutcome:
    """The survey's body from the form, or the refusal naming the first bad field."""
    last4 = (fields.get("last4") or "").strip()
    if not valid_last4(last4):
        return SurveyOutcome("invalid", field="last4")
    score = (fields.get("score") or "").strip()
    if score not in ("1", "2", "3", "4", "5"):
        return SurveyOutcome("invalid", field="score")
    resolved = fields.get("resolved")
    if resolved not in ("yes", "no"):
        return SurveyOutcome("invalid", field="resolved")
    comment = (fields.get("comment") or "").strip()
    if len(comment) > COMMENT_MAX:
        return SurveyOutcome("invalid", field="comment")
    return {"last4": last4, "score": int(score), "resolved": resolved == "yes",
            "reopen": fields.get("reopen") == "yes", "comment": comment}


class Survey:
    def __init__(self, intake: IntakeClient) -> None:
        self.intake = intake

    async def answer(self, key: str | None, tracking_text: str, fields: dict[str, str],
                     client_address: str | None = None) -> SurveyOutcome:
        tracking_no = canonical_tracking_no(tracking_text)
        if tracking_no is None:
            return SurveyOutcome("not_found")
        body = read_form(fields)
        if isinstance(body, SurveyOutcome):
            return body
        if key is None:
            raise ServiceDown("intake: the console's survey principal is not registered")
        answer = await self.intake.answer_survey(key, tracking_no, body, client_address)
        if answer.ok:
            return SurveyOutcome("answered", receipt=answer.body if isinstance(answer.body, dict) else {})
        if answer.status == 404:
            return SurveyOutcome("not_found")
        if answer.status == 429:
            return SurveyOutcome("too_many")
        reason = _reason(answer.body)
        if answer.status == 409 and reason in CONFLICTS:
            return SurveyOutcome(reason)
        if answer.status == 422:
            return SurveyOutcome("invalid", field=_field(answer.body))
        raise ServiceDown(f"intake refused the survey: {answer.status}")  # 401/403: the console's key, not the citizen


def _errors(body: Any) -> list[dict[str, Any]]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _reason(body: Any) -> str | None:
    return next((str(e.get("reason")) for e in _errors(body) if e.get("reason")), None)


def _field(body: Any) -> str | None:
    named = next((str(e.get("field")) for e in _errors(body) if e.get("field")), None)
    return named.split(".")[-1] if named else None
