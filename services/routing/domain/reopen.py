"""Reopening a closed case after the complainant's survey (issue 15 §4). Pure.

Intake decides whether an answer asks for a reopening (its survey rule: once, within the window, a
low score or "not resolved" with a request); routing decides whether the case can be reopened:
- a case closed with an outcome goes back to its bureau as **accepted** (it handles it again and
  records an outcome anew);
- a case refused (不予受理, ``not_accepted``) goes back as **assigned**: the bureau acknowledges it
  again;
- a case handed to the police (``referred_to_police``) stays closed — it is theirs now;
- an open case (already reopened, or never closed) is left as it is.
Both the bureau and the office get ``case.reopened`` with the score and the comment; the survey is
recorded whatever the decision (the assessment counts answers, mean score and reopenings).

The reopened case gets a deadline from versioned data, counted from the reopening: back as accepted,
the rules' ``reopening.rule`` (kind ``reopened``; a working reading, ``verified: false`` in routing.yaml);
back as assigned, its origin's acknowledgement rule (kind ``acknowledgement``, which the bureau's
acknowledgement meets). One deadline per survey answer (its id names the tracking number).
"""
from __future__ import annotations

from dataclasses import replace

from shared.contracts.cases import CaseSurveyAnswered
from shared.contracts.routing import CaseReopened

from services.routing.domain import deadlines
from services.routing.domain.case import OPEN_STATES, Case, Context, Effects, Note

STAYS_CLOSED = frozenset({"referred_to_police"})


def reopen(case: Case, survey: CaseSurveyAnswered, ctx: Context) -> Effects | None:
    """The effects of a survey asking to reopen `case`, or None when the case stays as it is."""
    if not survey.reopen or case.state in OPEN_STATES or (case.outcome or "") in STAYS_CLOSED:
        return None
    state = "assigned" if case.state == "not_accepted" else "accepted"
    previous = case.outcome or case.state
    kind, rule_id = (("acknowledgement", ctx.rules.acknowledgement_rules[case.origin])  # type: ignore[index]
                     if state == "assigned" else ("reopened", ctx.rules.reopening.rule))
    due = deadlines.compute(ref=ctx.ref, rules=ctx.rules, deadline_id=f"{case.case_id}/reopened/{survey.tracking_no}",
                            case_id=case.case_id, kind=kind, rule_id=rule_id, bureau=case.assignee,
                            subject=case.case_id, starts_at=ctx.now)
    again = replace(case, state=state, closed_at=None, outcome=None, outcome_detail=None,
                    acknowledged_at=None if state == "assigned" else case.acknowledged_at,
                    ack_due_at=due.due_at if state == "assigned" else case.ack_due_at)
    fx = Effects(case=again, open_deadlines=[due])
    fx.emit("case", CaseReopened(case_id=case.case_id, bureau=case.assignee, state=state, previous_outcome=previous,
                                 score=survey.score, resolved=survey.resolved, comment=survey.comment,
                                 tracking_no=survey.tracking_no, reopened_at=ctx.now, deadline=due.info()),
            case.assignee, ctx.office)
    fx.notes.append(Note("reopened", {"previous": previous}))
    return fx
