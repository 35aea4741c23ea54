"""Seized goods in custody (公物仓): a lot, its chain of custody and its disposal. Pure.

A bureau registers the goods seized on a case as a *lot* (items, hazard class, storage location);
the registering bureau holds it. Every change of custody is a hand-over from the current holder
to a named party, completed when that party confirms receipt — so the chain records who handed
over, who received and when. A lot leaves custody only by a disposal that follows a decided
outcome: returned, confiscated and auctioned, or destroyed — destruction only under an approved
destruction plan (the unified process for toxic and harmful goods).

Refusals name the field and the reason (`Refused`); the application layer turns them into
problem documents.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal

from shared.refusals import Refused

Hazard = Literal["toxic_harmful", "perishable", "ordinary"]
Purpose = Literal["warehouse", "appraisal", "police", "return_to_bureau"]
Outcome = Literal["returned", "confiscated_auctioned", "destroyed"]
State = Literal["in_custody", "in_transit", "disposed"]

HAZARDS: tuple[Hazard, ...] = ("toxic_harmful", "perishable", "ordinary")
PURPOSES: tuple[Purpose, ...] = ("warehouse", "appraisal", "police", "return_to_bureau")
OUTCOMES: tuple[Outcome, ...] = ("returned", "confiscated_auctioned", "destroyed")


@dataclass(frozen=True)
class Item:
    description: str
    quantity: Decimal
    unit: str
    declared_value: Decimal


@dataclass(frozen=True)
class Handover:
    seq: int
    from_party: str
    to_party: str
    purpose: Purpose
    handed_at: dt.datetime
    handed_by: str
    received_at: dt.datetime | None = None
    received_by: str | None = None


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    document_no: str
    decided_on: dt.date
    decided_by: str


@dataclass(frozen=True)
class Lot:
    lot_id: str
    case_id: str
    bureau: str                 # the registering bureau (type@division): it answers for the lot
    hazard: Hazard
    items: tuple[Item, ...]
    location: str
    holder: str                 # the party holding the goods now
    state: State
    registered_at: dt.datetime
    handovers: tuple[Handover, ...] = ()
    decision: Decision | None = None
    disposed_outcome: Outcome | None = None
    disposed_at: dt.datetime | None = None
    plan_id: str | None = None

    @property
    def declared_value(self) -> Decimal:
        return sum((i.declared_value for i in self.items), Decimal(0))

    @property
    def pending(self) -> Handover | None:
        return self.handovers[-1] if self.handovers and self.handovers[-1].received_at is None else None


def register(lot_id: str, case_id: str, bureau: str, hazard: str, items: list[Item], location: str,
             at: dt.datetime) -> Lot:
    if hazard not in HAZARDS:
        raise Refused("hazard", "unknown_hazard", f"one of {', '.join(HAZARDS)}")
    if not items:
        raise Refused("items", "empty", "a lot has at least one item")
    for n, item in enumerate(items):
        if item.quantity <= 0:
            raise Refused(f"items.{n}.quantity", "not_positive", "a quantity is more than 0")
        if item.declared_value < 0:
            raise Refused(f"items.{n}.declared_value", "negative", "a value is 0 or more")
    return Lot(lot_id, case_id, bureau, hazard, tuple(items), location, holder=bureau, state="in_custody",  # type: ignore[arg-type]
               registered_at=at)


def _open(lot: Lot) -> None:
    if lot.state == "disposed":
        raise Refused("lot", "disposed", f"the lot was disposed of ({lot.disposed_outcome}) on {lot.disposed_at}")


def hand_over(lot: Lot, *, by_party: str, by_person: str, to_party: str, purpose: str, at: dt.datetime) -> Lot:
    """The holder hands the goods to `to_party`; custody passes when that party confirms receipt."""
    _open(lot)
    if purpose not in PURPOSES:
        raise Refused("purpose", "unknown_purpose", f"one of {', '.join(PURPOSES)}")
    if lot.pending is not None:
        raise Refused("lot", "hand_over_pending", f"a hand-over to {lot.pending.to_party} awaits its receipt")
    if by_party != lot.holder:
        raise Refused("from", "not_holder", f"{by_party} does not hold the lot (held by {lot.holder})", forbidden=True)
    if to_party == lot.holder:
        raise Refused("to", "same_party", "a hand-over goes to another party")
    h = Handover(len(lot.handovers) + 1, lot.holder, to_party, purpose, at, by_person)  # type: ignore[arg-type]
    return replace(lot, state="in_transit", handovers=lot.handovers + (h,))


def receive(lot: Lot, *, by_party: str, by_person: str, at: dt.datetime) -> Lot:
    """The named receiver confirms it has the goods: it becomes the holder."""
    _open(lot)
    pending = lot.pending
    if pending is None:
        raise Refused("lot", "nothing_to_receive", "no hand-over awaits a receipt")
    if by_party != pending.to_party:
        raise Refused("to", "not_receiver", f"the goods were handed to {pending.to_party}, not {by_party}", forbidden=True)
    done = replace(pending, received_at=at, received_by=by_person)
    return replace(lot, holder=pending.to_party, state="in_custody", handovers=lot.handovers[:-1] + (done,))


def decide(lot: Lot, *, by_party: str, by_person: str, outcome: str, document_no: str, decided_on: dt.date) -> Lot:
    """Record the decided outcome (the penalty decision or court judgment that disposes of the goods)."""
    _open(lot)
    if by_party != lot.bureau:
        raise Refused("lot", "not_responsible", f"only {lot.bureau} records the lot's outcome", forbidden=True)
    if outcome not in OUTCOMES:
        raise Refused("outcome", "unknown_outcome", f"one of {', '.join(OUTCOMES)}")
    if not document_no.strip():
        raise Refused("document_no", "missing", "the decision's document number")
    return replace(lot, decision=Decision(outcome, document_no, decided_on, by_person))  # type: ignore[arg-type]


def dispose(lot: Lot, *, by_party: str, outcome: str, at: dt.datetime, plan_id: str | None = None,
            plan_approved: bool = False) -> Lot:
    """Release or destroy the goods. Refused without a decided outcome, by anyone but the holder,
    with a hand-over pending, or — for destruction — without an approved destruction plan."""
    _open(lot)
    if lot.decision is None:
        raise Refused("outcome", "no_decided_outcome", "goods leave custody only after a decided outcome")
    if outcome != lot.decision.outcome:
        raise Refused("outcome", "not_the_decision", f"the decision ({lot.decision.document_no}) says {lot.decision.outcome}")
    if lot.pending is not None:
        raise Refused("lot", "hand_over_pending", f"a hand-over to {lot.pending.to_party} awaits its receipt")
    if by_party != lot.holder:
        raise Refused("lot", "not_holder", f"{by_party} does not hold the lot (held by {lot.holder})", forbidden=True)
    if outcome == "destroyed" and not (plan_id and plan_approved):
        raise Refused("plan_id", "no_approved_plan", "destruction follows an approved destruction plan")
    if outcome != "destroyed" and plan_id:
        raise Refused("plan_id", "not_a_destruction", "only a destruction follows a plan")
    return replace(lot, state="disposed", disposed_outcome=outcome, disposed_at=at, plan_id=plan_id)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DestructionPlan:
    plan_id: str
    bureau: str
    lot_ids: tuple[str, ...]
    scheduled_on: dt.date
    facility: str
    witnesses: tuple[str, ...]
    state: Literal["proposed", "approved", "done"] = "proposed"
    approved_by: str | None = None
    environmental_cost: Decimal | None = None
    record_photos: tuple[str, ...] = field(default=())


MIN_WITNESSES = 2


def propose_plan(plan_id: str, bureau: str, lots: list[Lot], scheduled_on: dt.date, facility: str,
                 witnesses: list[str], today: dt.date) -> DestructionPlan:
    if not lots:
        raise Refused("lot_ids", "empty", "a plan destroys at least one lot")
    for lot in lots:
        _open(lot)
        if lot.bureau != bureau:
            raise Refused("lot_ids", "not_responsible", f"{lot.lot_id} is {lot.bureau}'s", forbidden=True)
        if lot.decision is None or lot.decision.outcome != "destroyed":
            raise Refused("lot_ids", "no_decided_outcome", f"{lot.lot_id} has no decision to destroy it")
    if scheduled_on < today:
        raise Refused("scheduled_on", "in_the_past", "a destruction is planned for today or later")
    if len(set(witnesses)) < MIN_WITNESSES:
        raise Refused("witnesses", "too_few", f"at least {MIN_WITNESSES} different witnesses")
    if not facility.strip():
        raise Refused("facility", "missing", "the facility where the goods are destroyed")
    return DestructionPlan(plan_id, bureau, tuple(l.lot_id for l in lots), scheduled_on, facility, tuple(witnesses))


def approve_plan(plan: DestructionPlan, *, by_person: str, approver_is_office: bool) -> DestructionPlan:
    if not approver_is_office:
        raise Refused("plan", "not_approver", "the leading-group office approves destruction plans", forbidden=True)
    if plan.state != "proposed":
        raise Refused("plan", "not_proposed", f"the plan is {plan.state}")
    return replace(plan, state="approved", approved_by=by_person)


def record_destruction(plan: DestructionPlan, *, photos: list[str], environmental_cost: Decimal,
                       uploaded: frozenset[str] = frozenset()) -> DestructionPlan:
    """`photos`: the SHA-256 of photos added to the plan (`uploaded`: the plan's photos)."""
    if plan.state != "approved":
        raise Refused("plan", "not_approved", f"the plan is {plan.state}")
    if not photos:
        raise Refused("photos", "missing", "the destruction record carries photos")
    for n, digest in enumerate(photos):
        if digest not in uploaded:
            raise Refused(f"photos.{n}", "not_uploaded", f"{digest} is not a photo added to plan {plan.plan_id}")
    if environmental_cost < 0:
        raise Refused("environmental_cost", "negative", "a cost is 0 or more")
    return replace(plan, state="done", environmental_cost=environmental_cost, record_photos=tuple(photos))


# -- photos and documents -------------------------------------------------------------------------

FileKind = Literal["photo", "document"]
FILE_KINDS: tuple[FileKind, ...] = ("photo", "document")
#: what each kind may be, by the sniffed content type: a photo is an image; a document is a PDF or a scan
FILE_TYPES: dict[str, frozenset[str]] = {"photo": frozenset({"image/jpeg", "image/png"}),
                                         "document": frozenset({"image/jpeg", "image/png", "application/pdf"})}


@dataclass(frozen=True)
class StoredFile:
    owner: str                  # the lot or destruction plan
    sha256: str                 # of the bytes kept (after metadata was stripped)
    kind: FileKind
    content_type: str
    size_bytes: int
    removed: tuple[str, ...]
    added_by: str
    added_at: dt.datetime


def may_add_to_lot(lot: Lot, *, by_party: str) -> None:
    """The registering bureau or the holder adds a lot's photos and documents (the centre photographs
    the samples it holds); not after the lot was disposed of."""
    _open(lot)
    if by_party not in {lot.bureau, lot.holder}:
        raise Refused("lot", "not_bureau_or_holder", f"{lot.bureau} or the holder {lot.holder} adds files",
                      forbidden=True)


def may_add_to_plan(plan: DestructionPlan, *, by_party: str) -> None:
    """The plan's bureau adds the destruction record's photos, once the plan is approved and until recorded."""
    if by_party != plan.bureau:
        raise Refused("plan", "not_responsible", f"only {plan.bureau} adds this destruction's photos", forbidden=True)
    if plan.state != "approved":
        raise Refused("plan", "not_approved", f"the plan is {plan.state}")


def file_fits(kind: str, content_type: str) -> None:
    if kind not in FILE_KINDS:
        raise Refused("kind", "unknown_kind", f"one of {', '.join(FILE_KINDS)}")
    if content_type not in FILE_TYPES[kind]:
        raise Refused("file", "not_a_photo" if kind == "photo" else "unsupported_type",
                      f"a {kind} is {' or '.join(sorted(FILE_TYPES[kind]))}, this is {content_type}")
