"""The case aggregate: assignment, bureau commands, figures, joint meetings.

Every function here is pure: it takes the current state, the reference data,
the rules and ``now``, and returns `Effects` — the new state, the events to
emit (each with the bureaus whose egress topic gets a copy), the deadlines to
open or close, and notes for metrics. A command that cannot be honoured
yields a single `CaseCommandRefused` and no state change.
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal, Mapping, Sequence

from pydantic import BaseModel

from shared.contracts.bureau_actions import (
    AcknowledgeCase,
    BureauCommand,
    DecideCriminalCase,
    DecideReferral,
    HandOver,
    ProposeReferral,
    RecordOutcome,
    RequestReconsideration,
    RequestSupervision,
    RequestTransfer,
    TransferToPolice,
)
from shared.contracts.cases import CaseMerged, CaseOpened, Complainant, Suspect
from shared.contracts.referral import (
    ReferralAccepted,
    ReferralApproved,
    ReferralHandedOver,
    ReferralProposed,
    ReferralReconsiderationRefused,
    ReferralReconsiderationRequested,
    ReferralRefused,
    ReferralRejected,
    ReferralSupervisionRequested,
    ReferralTransferred,
    ThresholdBasis,
    TransferPackage,
)
from shared.contracts.routing import (
    CaseAcknowledged,
    CaseAssigned,
    CaseCommandRefused,
    CaseEscalated,
    CaseFiguresUpdated,
    CasePenaltyOverThreshold,
    CaseOutcomeRecorded,
    CaseTransferred,
    JointMeetingDecided,
    JointMeetingProposed,
)
from services.routing.domain import deadlines, referral as machine
from services.routing.domain.appraised import appraised_figures
from services.routing.domain.bureaus import SYSTEM_ACTOR, Bureau, bureau_type_of
from services.routing.domain.deadlines import DeadlineSpec
from services.routing.domain.placement import (
    CaseFacts,
    Placement,
    involved_counties,
    is_major,
    is_repeat,
    place,
    resolve_target,
)
from services.routing.domain.reference import Reference, local_date
from services.routing.domain.rules import RoutingRules

OPEN_STATES = frozenset({"assigned", "accepted"})
POLICE_TYPE = "public_security"
PROCURATORATE_TYPE = "procuratorate"


@dataclass
class Case:
    case_id: str
    origin: str
    channel: str
    category: str
    county: str
    counties: tuple[str, ...]
    suspect: Suspect
    suspect_key: str | None
    figures: dict[str, Decimal]
    reports_count: int
    tracking_no: str | None
    summary: str
    complainant: Complainant | None
    opened_at: dt.datetime
    assignee: str
    level: str
    reasons: tuple[str, ...]
    co_bureaus: tuple[str, ...]
    state: str
    assignment_no: int
    transfers: int
    assigned_at: dt.datetime
    ack_due_at: dt.datetime | None
    directory_version: str
    joint_meeting_proposed: bool = False
    acknowledged_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    outcome: str | None = None
    outcome_detail: dict[str, Any] | None = None
    #: its events go on the routing topic's priority lane: its case.opened came on intake's (a case a
    #: person filed); set when the case opens, never changed, so all its events stay on one topic
    priority_lane: bool = False

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def assignee_bureau(self) -> Bureau:
        return Bureau.parse(self.assignee)


@dataclass
class Referral:
    referral_id: str
    case_id: str
    seq: int
    state: str
    agency: str
    police: str
    procuratorate: str
    proposed_by: str
    basis: ThresholdBasis
    created_at: dt.datetime
    updated_at: dt.datetime
    package: TransferPackage | None = None


@dataclass(frozen=True)
class Emission:
    stream: Literal["case", "referral"]
    payload: BaseModel
    audience: tuple[str, ...]  # bureaus whose egress topic gets a copy


@dataclass(frozen=True)
class DeadlineClose:
    case_id: str
    kinds: frozenset[str] | None  # None: every open deadline of the case
    state: Literal["met", "cancelled"]


@dataclass(frozen=True)
class Note:
    """Something to count (translated into metrics by the adapter)."""

    what: str
    labels: dict[str, str]
    value: float = 1.0


@dataclass
class Effects:
    case: Case | None = None
    referral: Referral | None = None
    emissions: list[Emission] = field(default_factory=list)
    open_deadlines: list[DeadlineSpec] = field(default_factory=list)
    close_deadlines: list[DeadlineClose] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    refusal: CaseCommandRefused | None = None

    def emit(self, stream: Literal["case", "referral"], payload: BaseModel, *audience: str) -> None:
        self.emissions.append(Emission(stream, payload, tuple(dict.fromkeys(a for a in audience if a))))


@dataclass(frozen=True)
class Context:
    ref: Reference
    rules: RoutingRules
    now: dt.datetime
    #: answers that depend only on this context (the same rules, reference and instant for every case of
    #: a batch): placements by the facts that decide them, the office; a context lives for one batch
    _memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def office(self) -> str:
        try:
            return self._memo["office"]  # type: ignore[no-any-return]
        except KeyError:
            office = self._memo["office"] = str(
                Bureau(self.ref.directory_at(self.now).resolve(self.rules.office_bureau_type), self.ref.city_code))
            return office

    def place(self, facts: CaseFacts, prior_cases_of_suspect: int) -> Placement:
        """`placement.place` under this context, remembered by what decides it: the category, the
        county and the counties involved, whether the case is major and whether its suspect repeats
        (a batch's cases share a handful of these, so placing one costs a dictionary hit)."""
        key = ("place", facts.category, facts.county, facts.counties, is_major(self.rules, facts.figures),
               is_repeat(self.rules, prior_cases_of_suspect))
        try:
            return self._memo[key]  # type: ignore[no-any-return]
        except KeyError:
            placed = self._memo[key] = place(facts, ref=self.ref, rules=self.rules, now=self.now,
                                             prior_cases_of_suspect=prior_cases_of_suspect)
            return placed


# -- identity of suspects -----------------------------------------------------------------


def suspect_key(suspect: Suspect, county: str) -> str | None:
    """The key that recognises a repeat suspect: credit code, else name + county, else shop, else listing."""
    if suspect.credit_code:
        return f"uscc:{suspect.credit_code}"
    if suspect.name:
        name = " ".join(unicodedata.normalize("NFKC", suspect.name).split()).casefold()
        return f"name:{name}|{county}"
    if suspect.platform and suspect.shop_id:
        return f"shop:{suspect.platform}:{suspect.shop_id}"
    if suspect.listing:
        return f"listing:{suspect.listing}"
    return None


# -- case opened ----------------------------------------------------------------------------


def open_case(event: CaseOpened, *, ctx: Context, prior_cases_of_suspect: int, on_lane: bool = False) -> Effects:
    """Assign a newly opened case: lead bureau, co-operating bureaus, acknowledgement deadline;
    propose a referral when its figures cross the threshold and a joint meeting when it is major.
    `on_lane`: the case.opened came on intake's priority lane, so the case's events go on routing's."""
    figures = dict(event.figures)
    placement = ctx.place(CaseFacts(event.case_id, event.category, event.county, tuple(event.counties), figures),
                          prior_cases_of_suspect)
    lead = str(placement.lead)
    ack = _ack_deadline(ctx, event.case_id, event.origin, lead, 1, event.opened_at)
    case = Case(
        case_id=event.case_id, origin=event.origin, channel=event.channel, category=event.category,
        county=event.county, counties=tuple(event.counties), suspect=event.suspect,
        suspect_key=suspect_key(event.suspect, placement.county or event.county), figures=figures,
        reports_count=event.reports_count, tracking_no=event.tracking_no, summary=event.summary,
        complainant=event.complainant, opened_at=event.opened_at, assignee=lead, level=placement.level,
        reasons=placement.reasons, co_bureaus=tuple(str(b) for b in placement.co_bureaus), state="assigned",
        assignment_no=1, transfers=0, assigned_at=ctx.now, ack_due_at=ack.due_at,
        directory_version=placement.directory_version, priority_lane=on_lane,
    )
    fx = Effects(case=case, open_deadlines=[ack])
    fx.emit("case", _assigned_event(case, ctx, [ack], transferred_from=None), lead)
    fx.notes.append(Note("assigned", {"bureau": placement.lead.type, "county": _county_label(placement.county), "level": placement.level}))
    _maybe_propose_referral(fx, case, None, ctx)
    _maybe_propose_joint_meeting(fx, case, ctx)
    return fx


def merge_into(case: Case, referral: Referral | None, event: CaseMerged, *, ctx: Context,
               appraised: Sequence[Mapping[str, Decimal]] = ()) -> Effects:
    """Another report joined the case: take its running figures and counties; re-check the
    criminal threshold and the joint-meeting triggers (an open case only). The reports' running
    figures know nothing of the case's appraisals (`appraised`: each recorded appraisal's figures),
    so those are applied again on top (`domain.appraised`): a merge never lowers an appraised figure."""
    counties = tuple(dict.fromkeys((*case.counties, *event.counties, event.county)))
    figures = appraised_figures(dict(event.figures), appraised, ctx.ref.money_figures())
    updated = replace(case, figures=figures, counties=counties, reports_count=event.reports_count)
    return figures_changed(updated, referral, ctx=ctx)


def figures_changed(updated: Case, referral: Referral | None, *, ctx: Context) -> Effects:
    """The case's figures (or counties) changed — a report merged in, an appraisal's result:
    announce them, re-check the criminal threshold and the joint-meeting triggers (an open case only)."""
    fx = Effects(case=updated)
    crossing = None
    category = ctx.ref.category(updated.category)
    if category is not None:
        crossing = ctx.ref.crossing(category, updated.figures, local_date(updated.opened_at))
    fx.emit("case", CaseFiguresUpdated(
        case_id=updated.case_id, bureau=updated.assignee, figures=updated.figures, counties=list(updated.counties),
        reports_count=updated.reports_count, threshold_crossed=crossing is not None,
        threshold_rule=crossing.rule_id if crossing else None, updated_at=ctx.now,
    ), updated.assignee)
    if updated.is_open:
        _maybe_propose_referral(fx, updated, referral, ctx)
        _maybe_propose_joint_meeting(fx, updated, ctx)
    return fx


# -- bureau commands ------------------------------------------------------------------------


def decide(case: Case | None, referral: Referral | None, actor: str, command: BureauCommand,
           command_id: str | None, *, ctx: Context) -> Effects:
    """Apply a bureau's command, or refuse it with a reason."""

    def refuse(reason: str, detail: str) -> Effects:
        refusal = CaseCommandRefused(
            case_id=command.case_id, command=command.EVENT_TYPE, command_id=command_id, actor=actor,
            reason=reason, detail=detail, refused_at=ctx.now,  # type: ignore[arg-type]
        )
        fx = Effects(refusal=refusal)
        fx.emit("case", refusal, actor)
        fx.notes.append(Note("refused", {"command": _command_label(command), "reason": reason}))
        return fx

    if case is None:
        return refuse("unknown_case", f"no case {command.case_id!r} is known to routing")
    if isinstance(command, DecideCriminalCase):
        if referral is None or actor != referral.police or referral.state not in machine.POLICE_INVOLVED:
            return refuse("not_police_of_referral", f"{actor} is not the police a referral of this case was transferred to")
    elif actor != case.assignee:
        return refuse("not_assignee", f"{actor} is not the bureau this case is assigned to")
    if not case.is_open:
        return refuse("case_closed", f"the case is {case.state}")
    try:
        handler = _HANDLERS[type(command)]
    except KeyError:  # pragma: no cover - every command class has a handler
        return refuse("illegal_transition", f"{command.EVENT_TYPE} is not a command routing knows")
    result = handler(case, referral, actor, command, ctx)
    if isinstance(result, tuple):
        return refuse(*result)
    return result


Refusal = tuple[str, str]


def _acknowledge(case: Case, referral: Referral | None, actor: str, cmd: AcknowledgeCase, ctx: Context) -> Effects | Refusal:
    if case.state != "assigned":
        return "illegal_transition", f"the case was already acknowledged (state {case.state})"
    if cmd.decision == "refuse" and not cmd.reason:
        return "reason_required", "reason: a refusal (不予受理) needs a reason"
    if cmd.decision == "refuse" and referral is not None and machine.is_active(referral.state) \
            and referral.state not in machine.SETTLED:
        return "referral_in_progress", f"a criminal referral is {referral.state}; the agency head decides on it first"
    seconds = max(0.0, (ctx.now - case.assigned_at).total_seconds())
    late = case.ack_due_at is not None and ctx.now > case.ack_due_at
    fx = Effects()
    if cmd.decision == "accept":
        fx.case = replace(case, state="accepted", acknowledged_at=ctx.now)
        fx.close_deadlines.append(DeadlineClose(case.case_id, frozenset({"acknowledgement"}), "met"))
    else:
        fx.case = replace(case, state="not_accepted", acknowledged_at=ctx.now, closed_at=ctx.now)
        fx.close_deadlines.append(DeadlineClose(case.case_id, frozenset({"acknowledgement"}), "met"))
        fx.close_deadlines.append(DeadlineClose(case.case_id, None, "cancelled"))
    fx.emit("case", CaseAcknowledged(
        case_id=case.case_id, bureau=actor, decision=cmd.decision, reason=cmd.reason,
        acknowledged_at=ctx.now, seconds_to_acknowledge=seconds, late=late,
    ), case.assignee)
    fx.notes.append(Note("acknowledged", {"bureau": bureau_type_of(actor)}, seconds))
    return fx


def _transfer(case: Case, referral: Referral | None, actor: str, cmd: RequestTransfer, ctx: Context) -> Effects | Refusal:
    if referral is not None and machine.is_active(referral.state):
        return "referral_in_progress", f"a criminal referral is {referral.state}; it must be settled first"
    try:
        requested = Bureau.parse(cmd.to_bureau)
    except ValueError as exc:
        return "invalid_target", str(exc)
    target, why = resolve_target(requested, ref=ctx.ref, rules=ctx.rules, now=ctx.now)
    if target is None:
        return "invalid_target", why
    if str(target) == case.assignee:
        return "invalid_target", f"{cmd.to_bureau} resolves to {target}, which already has the case"
    office = ctx.office
    by_office = actor == office
    transfers = 0 if by_office else case.transfers + 1
    escalated = not by_office and transfers > ctx.rules.max_transfers
    new_assignee = office if escalated else str(target)
    if new_assignee == case.assignee:  # escalating a case the office already holds cannot happen (the office resets)
        return "invalid_target", f"{new_assignee} already has the case"
    assignment_no = case.assignment_no + 1
    ack = _ack_deadline(ctx, case.case_id, case.origin, new_assignee, assignment_no, ctx.now)
    new_jurisdiction = Bureau.parse(new_assignee).jurisdiction
    updated = replace(
        case, assignee=new_assignee, level="city" if new_jurisdiction == ctx.ref.city_code else "county",
        reasons=(), state="assigned", assignment_no=assignment_no, transfers=transfers, assigned_at=ctx.now,
        ack_due_at=ack.due_at, acknowledged_at=None, directory_version=ctx.ref.directory_at(ctx.now).version,
    )
    fx = Effects(case=updated, open_deadlines=[ack])
    fx.close_deadlines.append(DeadlineClose(case.case_id, None, "cancelled"))
    fx.emit("case", CaseTransferred(
        case_id=case.case_id, from_bureau=case.assignee, to_bureau=new_assignee, requested_bureau=cmd.to_bureau,
        reason=cmd.reason, transfers=transfers, escalated=escalated, transferred_at=ctx.now,
    ), case.assignee, new_assignee)
    if escalated:
        fx.emit("case", CaseEscalated(
            case_id=case.case_id, office=office, reason="too_many_transfers", transfers=transfers, escalated_at=ctx.now,
            detail=f"transferred {transfers} times (more than {ctx.rules.max_transfers}); the office directs it now",
        ), office)
        fx.notes.append(Note("escalated", {"reason": "too_many_transfers"}))
    fx.emit("case", _assigned_event(updated, ctx, [ack], transferred_from=case.assignee), new_assignee)
    fx.notes.append(Note("transferred", {"from_bureau": bureau_type_of(case.assignee), "to_bureau": bureau_type_of(new_assignee)}))
    return fx


def _propose(case: Case, referral: Referral | None, actor: str, cmd: ProposeReferral, ctx: Context) -> Effects | Refusal:
    if referral is not None and machine.is_active(referral.state):
        return "referral_in_progress", f"a criminal referral is already {referral.state}"
    if case.assignee_bureau.type == POLICE_TYPE:
        return "already_with_police", "the case is assigned to the police"
    category = ctx.ref.category(case.category)
    if category is None:
        return "below_threshold", f"category {case.category!r} is unknown, so no criminal threshold applies"
    if category.ip:
        basis = ThresholdBasis(kind="ip_reasonable_suspicion", reason=cmd.reason)
    elif not category.threshold_families:
        basis = ThresholdBasis(kind="bureau_judgement", reason=cmd.reason)
    else:
        crossing = ctx.ref.crossing(category, case.figures, local_date(case.opened_at))
        if crossing is None:
            return "below_threshold", (f"the figures do not cross the criminal threshold of {', '.join(category.threshold_families)}; "
                                       "only IP cases may be referred on reasonable suspicion")
        basis = _threshold_basis(crossing, reason=cmd.reason)
    return _new_referral(case, referral, actor, basis, ctx)


def _decide_referral(case: Case, referral: Referral | None, actor: str, cmd: DecideReferral, ctx: Context) -> Effects | Refusal:
    if not cmd.approve and not cmd.reason:
        return "reason_required", "reason: a decision not to transfer needs a reason"
    action = "approve" if cmd.approve else "reject"

    def build(r: Referral, nxt: DeadlineSpec | None) -> BaseModel:
        if cmd.approve:
            return ReferralApproved(**_ref_fields(r, ctx, nxt), reason=cmd.reason)
        return ReferralRejected(**_ref_fields(r, ctx, nxt), reason=cmd.reason or "")

    return _step(case, referral, action, build, ctx)


def _transfer_to_police(case: Case, referral: Referral | None, actor: str, cmd: TransferToPolice, ctx: Context) -> Effects | Refusal:
    missing = machine.missing_documents(cmd.package)
    if missing and referral is not None and referral.state == "approved":
        return "incomplete_package", f"the transfer package lacks: {', '.join(missing)} (Order 310 art. 6)"

    def build(r: Referral, nxt: DeadlineSpec | None) -> BaseModel:
        return ReferralTransferred(**_ref_fields(r, ctx, nxt), package=cmd.package, category=case.category, suspect=case.suspect)

    return _step(case, referral, "transfer", build, ctx, package=cmd.package)


def _police_decision(case: Case, referral: Referral | None, actor: str, cmd: DecideCriminalCase, ctx: Context) -> Effects | Refusal:
    assert referral is not None
    if cmd.decision == "refuse" and not cmd.reason:
        return "reason_required", "reason: a refusal to open a case must be in writing with reasons (Order 310 art. 8)"
    before = referral.state
    action = "open" if cmd.decision == "open" else "refuse"

    def build(r: Referral, nxt: DeadlineSpec | None) -> BaseModel:
        if action == "open":
            after = {"transferred": "transfer", "reconsideration_requested": "reconsideration"}.get(before, "supervision")
            return ReferralAccepted(**_ref_fields(r, ctx, nxt), police_case_no=cmd.police_case_no, category=case.category,
                                    suspect=case.suspect, figures=case.figures, after=after)  # type: ignore[arg-type]
        if before == "reconsideration_requested":
            return ReferralReconsiderationRefused(**_ref_fields(r, ctx, nxt), reason=cmd.reason or "")
        return ReferralRefused(**_ref_fields(r, ctx, nxt), reason=cmd.reason or "")

    return _step(case, referral, action, build, ctx)


def _reconsider(case: Case, referral: Referral | None, actor: str, cmd: RequestReconsideration, ctx: Context) -> Effects | Refusal:
    def build(r: Referral, nxt: DeadlineSpec | None) -> BaseModel:
        return ReferralReconsiderationRequested(**_ref_fields(r, ctx, nxt), reason=cmd.reason)

    return _step(case, referral, "reconsider", build, ctx)


def _supervise(case: Case, referral: Referral | None, actor: str, cmd: RequestSupervision, ctx: Context) -> Effects | Refusal:
    def build(r: Referral, nxt: DeadlineSpec | None) -> BaseModel:
        return ReferralSupervisionRequested(**_ref_fields(r, ctx, nxt), procuratorate=r.procuratorate, reason=cmd.reason)

    fx = _step(case, referral, "supervise", build, ctx)
    if isinstance(fx, Effects) and referral is not None:
        fx.emissions[-1] = replace(fx.emissions[-1], audience=(*fx.emissions[-1].audience, referral.procuratorate))
    return fx


def _hand_over(case: Case, referral: Referral | None, actor: str, cmd: HandOver, ctx: Context) -> Effects | Refusal:
    def build(r: Referral, nxt: DeadlineSpec | None) -> BaseModel:
        return ReferralHandedOver(**_ref_fields(r, ctx, nxt), goods_list=cmd.goods_list, files=cmd.files, note=cmd.note)

    fx = _step(case, referral, "hand_over", build, ctx)
    if isinstance(fx, tuple):
        return fx
    closed = replace(case, state="closed", closed_at=ctx.now, outcome="referred_to_police",
                     outcome_detail={"referral_id": referral.referral_id if referral else None})
    fx.case = closed
    fx.close_deadlines.append(DeadlineClose(case.case_id, None, "cancelled"))
    fx.emit("case", _outcome_event(closed, actor, "referred_to_police", None, None, f"handed over to {referral.police if referral else ''}", ctx), case.assignee)
    fx.notes.append(Note("closed", {"outcome": "referred_to_police"}))
    return fx


def _record_outcome(case: Case, referral: Referral | None, actor: str, cmd: RecordOutcome, ctx: Context) -> Effects | Refusal:
    if case.state != "accepted":
        return "illegal_transition", f"the case must be accepted before its outcome is recorded (state {case.state})"
    if referral is not None and machine.is_active(referral.state) and referral.state not in machine.SETTLED:
        return "referral_in_progress", f"a criminal referral is {referral.state}; it must be settled first"
    if cmd.outcome == "penalty_decided" and not cmd.decision_no:
        return "reason_required", "decision_no: a penalty outcome names the decision (行政处罚决定书文号)"
    closed = replace(case, state="closed", closed_at=ctx.now, outcome=cmd.outcome, outcome_detail={
        "decision_no": cmd.decision_no, "penalty_amount": str(cmd.penalty_amount) if cmd.penalty_amount is not None else None,
        "detail": cmd.detail,
    })
    fx = Effects(case=closed)
    fx.close_deadlines.append(DeadlineClose(case.case_id, None, "cancelled"))
    fx.emit("case", _outcome_event(closed, actor, cmd.outcome, cmd.decision_no, cmd.penalty_amount, cmd.detail, ctx), case.assignee)
    fx.notes.append(Note("closed", {"outcome": cmd.outcome}))
    if cmd.outcome == "penalty_decided":
        _penalty_over_threshold(fx, case, referral, cmd.decision_no, ctx)
    return fx


#: Order 310, read in its text (the 2020 revision): art. 11 para. 1 forbids substituting a penalty for the
#: transfer, art. 16 para. 2 makes the agency head liable
LIABILITY = "《行政执法机关移送涉嫌犯罪案件的规定》(国务院令第310号, 2020修订) 第十一条第一款, 第十六条第二款"


def _penalty_over_threshold(fx: Effects, case: Case, referral: Referral | None, decision_no: str | None,
                            ctx: Context) -> None:
    """Routing's side of 以罚代刑 (issue 14 §7): a case heading to a penalty whose figures cross a criminal
    threshold with no referral made (none, or the agency head rejected it) is reported to the
    procuratorate and the office. Routing holds the case's referral itself, so no grace period is needed."""
    if referral is not None and referral.state != "rejected":
        return  # referred: the police (and the procuratorate) decide
    category = ctx.ref.category(case.category)
    if category is None or not category.threshold_families:
        return
    crossing = ctx.ref.crossing(category, case.figures, local_date(case.opened_at))
    if crossing is None:
        return
    jurisdiction = case.assignee_bureau.jurisdiction
    procuratorate = str(Bureau(ctx.ref.directory_at(ctx.now).resolve(PROCURATORATE_TYPE), jurisdiction))
    fx.emit("case", CasePenaltyOverThreshold(
        case_id=case.case_id, bureau=case.assignee, category=case.category, decision_no=decision_no, figures=case.figures,
        family=crossing.family, threshold_rule=crossing.rule_id, threshold_version=crossing.version,
        threshold_zh=crossing.condition_text_zh, threshold_citation=crossing.citation, threshold_article=crossing.article,
        threshold_verified=crossing.verified, referral_state=referral.state if referral else "none",
        liability_citation=LIABILITY, procuratorate=procuratorate, office=ctx.office, detected_at=ctx.now,
    ), procuratorate, ctx.office)
    fx.notes.append(Note("penalty_over_threshold", {"family": crossing.family}))


_HANDLERS: dict[type, Any] = {
    AcknowledgeCase: _acknowledge,
    RequestTransfer: _transfer,
    ProposeReferral: _propose,
    DecideReferral: _decide_referral,
    TransferToPolice: _transfer_to_police,
    DecideCriminalCase: _police_decision,
    RequestReconsideration: _reconsider,
    RequestSupervision: _supervise,
    HandOver: _hand_over,
    RecordOutcome: _record_outcome,
}


# -- referral steps ---------------------------------------------------------------------------


def _step(case: Case, referral: Referral | None, action: str, build: Any, ctx: Context,
          package: TransferPackage | None = None) -> Effects | Refusal:
    """Move the referral along `action`: close the step's deadline, open the next one, emit its event."""
    state = referral.state if referral is not None else None
    if referral is None or state in machine.CLOSED:
        return "no_active_referral", f"no criminal referral of this case is in progress (cannot {action})"
    try:
        new_state = machine.next_state(state, action)
    except machine.IllegalTransition as exc:
        return "illegal_transition", str(exc)
    assert referral is not None
    moved = replace(referral, state=new_state, updated_at=ctx.now, package=package or referral.package)
    fx = Effects(referral=moved)
    fx.close_deadlines.append(DeadlineClose(case.case_id, _referral_kinds(), "met"))
    nxt = _step_deadline(case, moved, ctx)
    if nxt is not None:
        fx.open_deadlines.append(nxt)
    audience = [case.assignee]
    if new_state in machine.POLICE_INVOLVED:
        audience.append(moved.police)
    fx.emit("referral", build(moved, nxt), *audience)
    fx.notes.append(Note("referral", {"stage": new_state}))
    return fx


def _new_referral(case: Case, previous: Referral | None, proposer: str, basis: ThresholdBasis, ctx: Context) -> Effects:
    seq = previous.seq + 1 if previous is not None else 1
    agency = case.assignee_bureau
    directory = ctx.ref.directory_at(ctx.now)
    r = Referral(
        referral_id=f"{case.case_id}/referral/{seq}", case_id=case.case_id, seq=seq, state=machine.next_state(
            previous.state if previous is not None else None, "propose"),
        agency=case.assignee, police=str(Bureau(directory.resolve(POLICE_TYPE), agency.jurisdiction)),
        procuratorate=str(Bureau(directory.resolve(PROCURATORATE_TYPE), agency.jurisdiction)),
        proposed_by=proposer, basis=basis, created_at=ctx.now, updated_at=ctx.now,
    )
    fx = Effects(referral=r)
    nxt = _step_deadline(case, r, ctx)
    if nxt is not None:
        fx.open_deadlines.append(nxt)
    fx.emit("referral", ReferralProposed(
        **_ref_fields(r, ctx, nxt), proposed_by=proposer, basis=basis, category=case.category,
        figures=case.figures, suspect=case.suspect,
    ), case.assignee)
    fx.notes.append(Note("referral", {"stage": "proposed"}))
    return fx


def _maybe_propose_referral(fx: Effects, case: Case, referral: Referral | None, ctx: Context) -> None:
    """Routing proposes the referral itself when the figures cross the category's threshold."""
    if referral is not None and machine.is_active(referral.state):
        return
    if referral is not None and referral.state == "rejected":
        return  # the agency head already decided against it; a bureau may propose again
    if case.assignee_bureau.type == POLICE_TYPE:
        return
    category = ctx.ref.category(case.category)
    if category is None or not category.threshold_families:
        return
    crossing = ctx.ref.crossing(category, case.figures, local_date(case.opened_at))
    if crossing is None:
        return
    auto = _new_referral(case, referral, SYSTEM_ACTOR, _threshold_basis(crossing, reason=None), ctx)
    fx.referral = auto.referral
    fx.emissions.extend(auto.emissions)
    fx.open_deadlines.extend(auto.open_deadlines)
    fx.notes.extend(auto.notes)


def _threshold_basis(crossing: Any, *, reason: str | None) -> ThresholdBasis:
    return ThresholdBasis(
        kind="threshold_crossed", family=crossing.family, rule_id=crossing.rule_id, rule_version=crossing.version,
        condition=crossing.condition_text_zh, citation=crossing.citation, reason=reason,
    )


def _step_deadline(case: Case, r: Referral, ctx: Context) -> DeadlineSpec | None:
    step = machine.STEP_DEADLINE.get(r.state)
    if step is None:
        return None
    kind, role = step
    return deadlines.compute(
        ref=ctx.ref, rules=ctx.rules, deadline_id=f"{r.referral_id}/{kind}", case_id=case.case_id, kind=kind,
        rule_id=ctx.rules.referral_rules[kind], bureau=r.agency if role == "agency" else r.police,  # type: ignore[index]
        subject=r.referral_id, starts_at=ctx.now,
    )


def _referral_kinds() -> frozenset[str]:
    return frozenset(kind for kind, _ in machine.STEP_DEADLINE.values())


def _ref_fields(r: Referral, ctx: Context, nxt: DeadlineSpec | None) -> dict[str, Any]:
    return {
        "case_id": r.case_id, "referral_id": r.referral_id, "state": r.state, "agency": r.agency, "police": r.police,
        "at": ctx.now, "next_deadline": nxt.info() if nxt is not None else None,
    }


# -- joint meetings -----------------------------------------------------------------------------


def _maybe_propose_joint_meeting(fx: Effects, case: Case, ctx: Context) -> None:
    if case.joint_meeting_proposed:
        return
    jm = ctx.rules.joint_meeting
    bureaus = [case.assignee, *case.co_bureaus]
    reasons: list[str] = []
    if len(set(bureaus)) >= jm.min_bureaus:
        reasons.append("several_bureaus")
    counties = involved_counties(ctx.ref, case.county, case.counties)
    if jm.cross_county and len(counties) > 1:
        reasons.append("cross_county")
    if jm.major_amount and is_major(ctx.rules, case.figures):
        reasons.append("major_amount")
    if jm.repeat_suspect and "repeat_suspect" in case.reasons:
        reasons.append("repeat_suspect")
    if not reasons:
        return
    office = ctx.office
    proposed = replace(fx.case or case, joint_meeting_proposed=True)
    fx.case = proposed
    fx.emit("case", JointMeetingProposed(
        case_id=case.case_id, office=office, bureaus=list(dict.fromkeys(bureaus)), reasons=reasons,  # type: ignore[arg-type]
        category=case.category, counties=list(counties), proposed_at=ctx.now,
    ), office)
    fx.notes.append(Note("joint_meeting", {}))


def decide_joint_meeting(case: Case | None, decided: str | None, *, actor: str, principal: str, decision: str,
                         reason: str | None, ctx: Context) -> Effects | Refusal:
    """The office convenes a proposed joint meeting or dismisses the proposal (a reason required): once per
    case, on an open case whose meeting was proposed. `decided`: the decision taken before, if any. The
    bureaus concerned (lead and co-operating) hear of it on their egress topics, the office on its own."""
    if case is None:
        return "unknown_case", "no such case"
    if actor != ctx.office:
        return "not_office", f"{actor} is not the office ({ctx.office}); only it convenes joint meetings"
    if not case.joint_meeting_proposed:
        return "not_proposed", "no joint meeting was proposed for this case"
    if decided is not None:
        return "already_decided", f"the proposal was already decided ({decided})"
    if not case.is_open:
        return "case_closed", f"the case is {case.state}"
    reason = (reason or "").strip() or None
    if decision == "dismiss" and reason is None:
        return "reason_required", "reason: a dismissal needs a reason"
    bureaus = list(dict.fromkeys([case.assignee, *case.co_bureaus]))
    fx = Effects()
    fx.emit("case", JointMeetingDecided(
        case_id=case.case_id, office=ctx.office, decision=decision, reason=reason, bureaus=bureaus,  # type: ignore[arg-type]
        decided_by=principal, decided_at=ctx.now,
    ), *bureaus)
    fx.notes.append(Note("joint_meeting_decided", {"decision": decision}))
    return fx


# -- helpers ------------------------------------------------------------------------------------


def _ack_deadline(ctx: Context, case_id: str, origin: str, bureau: str, assignment_no: int, starts_at: dt.datetime) -> DeadlineSpec:
    return deadlines.compute(
        ref=ctx.ref, rules=ctx.rules, deadline_id=f"{case_id}/acknowledgement/{assignment_no}", case_id=case_id,
        kind="acknowledgement", rule_id=ctx.rules.acknowledgement_rules[origin],  # type: ignore[index]
        bureau=bureau, subject=case_id, starts_at=starts_at,
    )


def _assigned_event(case: Case, ctx: Context, dls: list[DeadlineSpec], *, transferred_from: str | None) -> CaseAssigned:
    lead = case.assignee_bureau
    return CaseAssigned(
        case_id=case.case_id, assignment_no=case.assignment_no, assigned_at=case.assigned_at, bureau=case.assignee,
        bureau_type=lead.type, jurisdiction=lead.jurisdiction, level=case.level,  # type: ignore[arg-type]
        reasons=list(case.reasons), co_bureaus=list(case.co_bureaus), category=case.category,  # type: ignore[arg-type]
        county=case.county, counties=list(case.counties), origin=case.origin,  # type: ignore[arg-type]
        tracking_no=case.tracking_no, summary=case.summary, suspect=case.suspect, figures=case.figures,
        complainant=case.complainant, deadlines=[d.info() for d in dls], transferred_from=transferred_from,
        directory_version=case.directory_version, rules_version=ctx.rules.version,
    )


def _outcome_event(case: Case, actor: str, outcome: str, decision_no: str | None, amount: Decimal | None,
                   detail: str, ctx: Context) -> CaseOutcomeRecorded:
    return CaseOutcomeRecorded(
        case_id=case.case_id, bureau=actor, outcome=outcome, decision_no=decision_no,  # type: ignore[arg-type]
        penalty_amount=amount, detail=detail, category=case.category, suspect=case.suspect, recorded_at=ctx.now,
    )


def _county_label(county: str | None) -> str:
    return county or "unknown"


def _command_label(command: BureauCommand) -> str:
    """A bounded label: the command's short name (``acknowledge-case``)."""
    parts = command.EVENT_TYPE.split(".")
    return parts[2] if len(parts) > 3 else "other"


def visible_to(case: Case, referral: Referral | None, bureau: str, office: str) -> bool:
    """Who may read a case: its assignee, the police a referral went to, and the office."""
    if bureau == office or bureau == case.assignee:
        return True
    return referral is not None and bureau == referral.police and referral.state in machine.POLICE_INVOLVED
