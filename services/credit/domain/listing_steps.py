"""The steps before a listing on the serious-violation list takes effect (SAMR Order 44), as states.

A rule match never lists by itself (issue 14 §2). It opens a *proceeding*:

    review ──dismiss──▶ not_listed                      (a local-policy flag: a person decides)
       │ weigh
       ▼
    weighing ──weigh (not serious, or no intent: art. 12)──▶ not_listed
       │ weigh (serious, intent shown)
       ▼
    to_notify ──notify (served_on)──▶ statement_period        (art. 13: reasons, basis, rights;
                                         │  statement | hearing_request | waiver   statement and hearing deadlines)
                                         │ decide (after the period, or once the party has spoken;
                                         ▼         a requested hearing must have been held)
                    not_listed ◀── decide(list=false)   decide(list=true) ──▶ approval (county / prefecture:
                                                             │                 the level above consents) ──approve──▶ listed
                                                             └──(no approval needed)──────────────────────────────────▶ listed
    any open state ──(its trigger revoked: art. 19)──▶ withdrawn

Who acts: the authority (the bureau of the newest trigger) takes every step but the approval, which
is the same bureau type one level up (`approver_of`); the office may also take the first step of a
local-policy flag. Periods come from `blacklist.yaml` (`procedure`). Pure: no I/O, time is passed in.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from shared.workdays import SHANGHAI, Deadline, WorkdayCalendar

from services.credit.domain.model import Bureau
from services.credit.rules import ProcedureVersion, resolve_period

State = Literal["review", "weighing", "to_notify", "statement_period", "approval", "listed", "not_listed", "withdrawn"]
Action = Literal["dismiss", "weigh", "notify", "statement", "decide", "approve"]
OPEN_STATES: frozenset[str] = frozenset({"review", "weighing", "to_notify", "statement_period", "approval"})
CLOSED_STATES: frozenset[str] = frozenset({"listed", "not_listed", "withdrawn"})
OFFICE = "office"


class StepRefused(Exception):
    """A step the proceeding's state, the caller or the rules do not allow (`field` names the request
    field at fault, when one is)."""

    def __init__(self, kind: Literal["not_allowed", "conflict", "invalid"], reason: str, detail: str,
                 field: str | None = None) -> None:
        super().__init__(detail)
        self.kind, self.reason, self.detail, self.field = kind, reason, detail, field


@dataclass(frozen=True)
class Proceeding:
    """What the steps need to know of one proceeding."""

    proceeding_id: str
    rule_id: str
    basis: str  # order44 | local_policy
    state: str
    authority: str  # type@division
    approver: str | None
    statement_due_at: dt.datetime | None = None
    hearing_request_due_at: dt.datetime | None = None
    hearing_requested: bool = False
    party_heard: bool = False


@dataclass(frozen=True)
class Step:
    """One request: the action and what it carries (only the fields of its action are read)."""

    action: Action
    reason: str = ""
    serious: bool | None = None
    intent_shown: bool | None = None
    served_on: dt.date | None = None
    statement_kind: Literal["statement", "hearing_request", "waiver"] | None = None
    list_entity: bool | None = None
    hearing_held_on: dt.date | None = None
    approved: bool | None = None


@dataclass(frozen=True)
class Transition:
    from_state: str
    state: str
    citation: str
    article: str
    #: set by `notify`: the party's periods
    statement_due: Deadline | None = None
    hearing_request_due: Deadline | None = None
    hearing_requested: bool | None = None
    party_heard: bool | None = None
    #: the listing takes effect now
    lists: bool = False
    notes: dict[str, str] = field(default_factory=dict)


def division_level(division: str) -> Literal["province", "prefecture", "county"]:
    """GB/T 2260: ``610000`` a province, ``610400`` a prefecture-level city, ``610402`` a county or district."""
    if division.endswith("0000"):
        return "province"
    if division.endswith("00"):
        return "prefecture"
    return "county"


def parent_division(division: str) -> str:
    level = division_level(division)
    if level == "county":
        return division[:4] + "00"
    if level == "prefecture":
        return division[:2] + "0000"
    raise ValueError(f"{division} is a province: no level above in the directory")


def approver_of(procedure: ProcedureVersion, authority: str) -> str | None:
    """The bureau that must consent to a listing decided by `authority` (type@division), or None."""
    btype, _, division = authority.partition("@")
    if division_level(division) not in procedure.approval.levels:
        return None
    return f"{btype}@{parent_division(division)}"


def _start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI)


def advance(p: Proceeding, step: Step, actor: Bureau, procedure: ProcedureVersion, calendar: WorkdayCalendar,
            now: dt.datetime) -> Transition:
    """The transition `step` makes, or `StepRefused`."""
    if p.state in CLOSED_STATES:
        raise StepRefused("conflict", "proceeding_closed", f"proceeding {p.proceeding_id} is {p.state}")
    _check_actor(p, step, actor)
    a, c = step.action, procedure.citation
    if a == "dismiss":
        if p.state != "review":
            raise StepRefused("conflict", "not_a_review_flag", f"only a local-policy flag is dismissed; this one is {p.state}")
        return Transition(p.state, "not_listed", f"{c}; local policy (no Order 44 ground)", "", notes={"outcome": "dismissed"})
    if a == "weigh":
        if p.state not in ("review", "weighing"):
            raise StepRefused("conflict", "not_weighing", f"proceeding {p.proceeding_id} is {p.state}, past the weighing")
        serious = _required(step.serious, "serious")
        intent = _required(step.intent_shown, "intent_shown")
        w = procedure.weighing
        if not intent:
            return Transition(p.state, "not_listed", f"{c} {w.article}第二款", w.article, notes={"outcome": "no_intent"})
        if not serious:
            return Transition(p.state, "not_listed", f"{c} {w.article}", w.article, notes={"outcome": "not_serious"})
        return Transition(p.state, "to_notify", f"{c} {w.article}", w.article, notes={"outcome": "serious"})
    if a == "notify":
        if p.state != "to_notify":
            raise StepRefused("conflict", "not_to_notify", f"proceeding {p.proceeding_id} is {p.state}; notice follows the weighing")
        served = _required(step.served_on, "served_on")
        if _start(served) > now:
            raise StepRefused("invalid", "served_in_future", f"served_on {served} is after today", field="served_on")
        n = procedure.notice
        statement = calendar.deadline_from(_start(served), resolve_period(n.statement_within, served, n.article))
        hearing = calendar.deadline_from(_start(served), resolve_period(n.hearing_request_within, served, n.hearing_citation))
        return Transition(p.state, "statement_period", f"{c} {n.article}", n.article,
                          statement_due=statement, hearing_request_due=hearing)
    if a == "statement":
        if p.state != "statement_period":
            raise StepRefused("conflict", "not_in_statement_period", f"proceeding {p.proceeding_id} is {p.state}")
        kind = _required(step.statement_kind, "statement_kind")
        n = procedure.notice
        if kind == "hearing_request":
            if p.hearing_request_due_at is not None and now > p.hearing_request_due_at:
                raise StepRefused("conflict", "hearing_request_late",
                                  f"the period to ask for a hearing ended at {p.hearing_request_due_at.isoformat()}"
                                  f" ({n.hearing_citation})", field="statement_kind")
            return Transition(p.state, p.state, n.hearing_citation, n.article, hearing_requested=True, party_heard=True)
        return Transition(p.state, p.state, f"{c} {n.article}", n.article, party_heard=True)
    if a == "decide":
        if p.state != "statement_period":
            raise StepRefused("conflict", "not_in_statement_period", f"proceeding {p.proceeding_id} is {p.state}")
        list_it = _required(step.list_entity, "list")
        if p.hearing_requested and step.hearing_held_on is None:
            raise StepRefused("invalid", "hearing_not_held", "the party asked for a hearing: give hearing_held_on",
                              field="hearing_held_on")
        period_over = p.statement_due_at is not None and now > p.statement_due_at
        if not (period_over or p.party_heard):
            due = p.statement_due_at.isoformat() if p.statement_due_at else "?"
            raise StepRefused("conflict", "statement_period_open",
                              f"the party may state its case until {due}; decide after it, or once the party has spoken")
        if not list_it:
            return Transition(p.state, "not_listed", f"{c} {procedure.notice.article}", procedure.notice.article,
                              notes={"outcome": "not_listed"})
        if p.approver is not None:
            return Transition(p.state, "approval", f"{c} {procedure.approval.article}", procedure.approval.article)
        return Transition(p.state, "listed", c, "", lists=True)
    if a == "approve":
        if p.state != "approval":
            raise StepRefused("conflict", "not_awaiting_approval", f"proceeding {p.proceeding_id} is {p.state}")
        ok = _required(step.approved, "approved")
        art = procedure.approval.article
        return Transition(p.state, "listed" if ok else "not_listed", f"{c} {art}", art, lists=ok,
                          notes={"outcome": "approved" if ok else "refused"})
    raise StepRefused("invalid", "unknown_action", f"unknown action {a!r}", field="action")


def _check_actor(p: Proceeding, step: Step, actor: Bureau) -> None:
    if step.action == "approve":
        if actor.id != p.approver:
            raise StepRefused("not_allowed", "not_the_approver",
                              f"the listing is approved by {p.approver or 'nobody (no approval needed)'}, not {actor.id}")
        return
    if actor.id == p.authority:
        return
    if p.state == "review" and step.action in ("dismiss", "weigh") and actor.bureau_type == OFFICE:
        return
    raise StepRefused("not_allowed", "not_the_authority", f"proceeding {p.proceeding_id} is decided by {p.authority}, not {actor.id}")


def _required(value, name: str):  # type: ignore[no-untyped-def]
    if value is None:
        raise StepRefused("invalid", "missing", f"{name}: required for this action", field=name)
    return value
