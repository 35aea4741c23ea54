"""Custody's use cases, each in the caller's unit of work: change the lots, append the audit
chain, emit the events. No SQL and no status codes here (adapters/postgres, adapters/http)."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared import attachments, audit, case_bureaus
from shared.attachments import AttachmentLimits
from shared.blobstore import BlobStore
from shared.clock import Clock
from shared.contracts.custody import CustodyChanged, DestructionPlanChanged, LotDisposed, LotOutcomeDecided, LotRegistered
from shared.refusals import NotFound
from shared.runtime.uow import UnitOfWork
from shared.workdays import SHANGHAI

from services.custody.adapters import postgres as db
from services.custody.app.deadlines import CustodyDeadlines
from services.custody.domain import lots as rules
from services.custody.domain.lots import DestructionPlan, Item, Lot, Refused, StoredFile
from services.custody.metrics import COMMANDS


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


@dataclass(frozen=True)
class Actor:
    """Who acts: the party they act for (a bureau type@division, or the principal itself) and the person."""

    party: str
    person: str
    is_office: bool = False


@dataclass(frozen=True)
class Custody:
    clock: Clock
    topic: str
    deadlines: CustodyDeadlines | None = None
    #: the one blob store (shared/blobstore.py) for lots' photos and documents, and their limits
    blobs: BlobStore | None = None
    file_limits: AttachmentLimits = AttachmentLimits(max_bytes=10 * 1024 * 1024, max_count=20)

    async def _one(self, uow: UnitOfWork, lot_id: str) -> Lot:
        found = await db.lock_lots(uow.conn, [lot_id])
        if lot_id not in found:
            raise NotFound("lot", lot_id)
        return found[lot_id]

    async def _audit(self, uow: UnitOfWork, kind: str, subject: str, actor: Actor, body: dict[str, Any]) -> None:
        """The decision's record in the hash-chained audit log, and its count once committed."""
        await audit.append(uow.conn, kind, subject, body, actor=actor.person, at=self.clock.now())
        uow.after_commit(COMMANDS.labels(kind.removeprefix("custody.")).inc)

    async def register(self, uow: UnitOfWork, actor: Actor, *, case_id: str, hazard: str, items: list[Item],
                       location: str) -> Lot:
        now = self.clock.now()
        await case_bureaus.check(uow.conn, case_id, actor.party, is_office=actor.is_office)
        lot = rules.register(new_id("lot"), case_id, actor.party, hazard, items, location, now)
        await db.insert_lot(uow.conn, lot)
        await self._audit(uow, "custody.registered", lot.lot_id, actor,
                          {"case_id": case_id, "bureau": lot.bureau, "hazard": hazard, "location": location,
                           "items": [{"description": i.description, "quantity": i.quantity, "unit": i.unit,
                                      "declared_value": i.declared_value} for i in items]})
        uow.emit(self.topic, LotRegistered(lot_id=lot.lot_id, case_id=case_id, bureau=lot.bureau, hazard=lot.hazard,
                                           items_count=len(items), declared_value=lot.declared_value,
                                           location=location, registered_at=now), key=lot.lot_id)
        if self.deadlines is not None:
            await self.deadlines.registered(uow, lot)
        return lot

    async def hand_over(self, uow: UnitOfWork, actor: Actor, lot_id: str, *, to_party: str, purpose: str) -> Lot:
        now = self.clock.now()
        lot = rules.hand_over(await self._one(uow, lot_id), by_party=actor.party, by_person=actor.person,
                              to_party=to_party, purpose=purpose, at=now)
        await db.save_lots(uow.conn, [lot])
        h = lot.handovers[-1]
        await self._audit(uow, "custody.handed_over", lot_id, actor,
                          {"seq": h.seq, "from": h.from_party, "to": h.to_party, "purpose": h.purpose})
        uow.emit(self.topic, CustodyChanged(lot_id=lot_id, case_id=lot.case_id, step="handed_over", seq=h.seq,
                                            from_party=h.from_party, to_party=h.to_party, purpose=h.purpose, at=now),
                 key=lot_id)
        return lot

    async def receive(self, uow: UnitOfWork, actor: Actor, lot_id: str) -> Lot:
        now = self.clock.now()
        lot = rules.receive(await self._one(uow, lot_id), by_party=actor.party, by_person=actor.person, at=now)
        await db.save_lots(uow.conn, [lot])
        h = lot.handovers[-1]
        await self._audit(uow, "custody.received", lot_id, actor, {"seq": h.seq, "from": h.from_party, "to": h.to_party})
        uow.emit(self.topic, CustodyChanged(lot_id=lot_id, case_id=lot.case_id, step="received", seq=h.seq,
                                            from_party=h.from_party, to_party=h.to_party, purpose=h.purpose, at=now),
                 key=lot_id)
        if self.deadlines is not None:
            await self.deadlines.received(uow, lot, now)
        return lot

    async def decide(self, uow: UnitOfWork, actor: Actor, lot_id: str, *, outcome: str, document_no: str,
                     decided_on: dt.date) -> Lot:
        lot = rules.decide(await self._one(uow, lot_id), by_party=actor.party, by_person=actor.person,
                           outcome=outcome, document_no=document_no, decided_on=decided_on)
        await db.save_lots(uow.conn, [lot])
        await self._audit(uow, "custody.decided", lot_id, actor,
                          {"outcome": outcome, "document_no": document_no, "decided_on": decided_on})
        uow.emit(self.topic, LotOutcomeDecided(lot_id=lot_id, case_id=lot.case_id, outcome=outcome,  # type: ignore[arg-type]
                                               document_no=document_no, decided_on=decided_on), key=lot_id)
        return lot

    async def release(self, uow: UnitOfWork, actor: Actor, lot_id: str, *, outcome: str) -> Lot:
        """Return or auction the goods (destruction goes through a plan: `record_destruction`)."""
        now = self.clock.now()
        lot = rules.dispose(await self._one(uow, lot_id), by_party=actor.party, outcome=outcome, at=now)
        await db.save_lots(uow.conn, [lot])
        await self._audit(uow, "custody.disposed", lot_id, actor, {"outcome": outcome})
        uow.emit(self.topic, LotDisposed(lot_id=lot_id, case_id=lot.case_id, outcome=outcome, at=now),  # type: ignore[arg-type]
                 key=lot_id)
        if self.deadlines is not None:
            await self.deadlines.disposed(uow, [lot], now)
        return lot

    async def propose_plan(self, uow: UnitOfWork, actor: Actor, *, lot_ids: list[str], scheduled_on: dt.date,
                           facility: str, witnesses: list[str]) -> DestructionPlan:
        now = self.clock.now()
        found = await db.lock_lots(uow.conn, sorted(set(lot_ids)))
        missing = sorted(set(lot_ids) - set(found))
        if missing:
            raise NotFound("lot", missing[0])
        plan = rules.propose_plan(new_id("plan"), actor.party, [found[i] for i in sorted(found)], scheduled_on,
                                  facility, witnesses, self.clock.now().astimezone(SHANGHAI).date())
        await db.insert_plan(uow.conn, plan, now)
        await self._audit(uow, "custody.plan_proposed", plan.plan_id, actor,
                          {"lots": list(plan.lot_ids), "scheduled_on": scheduled_on, "facility": facility,
                           "witnesses": list(plan.witnesses)})
        self._emit_plan(uow, plan)
        return plan

    async def approve_plan(self, uow: UnitOfWork, actor: Actor, plan_id: str) -> DestructionPlan:
        plan = await db.lock_plan(uow.conn, plan_id)
        if plan is None:
            raise NotFound("destruction plan", plan_id)
        plan = rules.approve_plan(plan, by_person=actor.person, approver_is_office=actor.is_office)
        await db.save_plan(uow.conn, plan, self.clock.now())
        await self._audit(uow, "custody.plan_approved", plan_id, actor, {"lots": list(plan.lot_ids)})
        self._emit_plan(uow, plan)
        return plan

    async def record_destruction(self, uow: UnitOfWork, actor: Actor, plan_id: str, *, photos: list[str],
                                 environmental_cost: Decimal) -> DestructionPlan:
        """The destruction record: every lot of the approved plan is disposed of as destroyed."""
        now = self.clock.now()
        plan = await db.lock_plan(uow.conn, plan_id)
        if plan is None:
            raise NotFound("destruction plan", plan_id)
        if actor.party != plan.bureau:
            raise Refused("plan", "not_responsible", f"only {plan.bureau} records this destruction", forbidden=True)
        approved = plan.state == "approved"
        uploaded = frozenset(f.sha256 for f in await db.files_of(uow.conn, plan_id) if f.kind == "photo")
        done = rules.record_destruction(plan, photos=photos, environmental_cost=environmental_cost, uploaded=uploaded)
        found = await db.lock_lots(uow.conn, sorted(plan.lot_ids))
        lots = [rules.dispose(found[i], by_party=actor.party, outcome="destroyed", at=now, plan_id=plan_id,
                              plan_approved=approved) for i in sorted(found)]
        await db.save_lots(uow.conn, lots)
        await db.save_plan(uow.conn, done, now)
        await self._audit(uow, "custody.destroyed", plan_id, actor,
                          {"lots": list(plan.lot_ids), "photos": photos, "environmental_cost": environmental_cost})
        for lot in lots:
            uow.emit(self.topic, LotDisposed(lot_id=lot.lot_id, case_id=lot.case_id, outcome="destroyed",
                                             plan_id=plan_id, at=now), key=lot.lot_id)
        if self.deadlines is not None:
            await self.deadlines.disposed(uow, lots, now)
        self._emit_plan(uow, done)
        return done

    async def add_file(self, uow: UnitOfWork, actor: Actor, *, owner: str, kind: str, data: bytes
                       ) -> tuple[bool, StoredFile]:
        """A photo or document of a lot (``lot_…``) or of a destruction plan's record (``plan_…``):
        judged by its bytes and the limits (`shared.attachments.check`: sniffed type, size, count per
        owner, photo metadata stripped), kept in the blob store under its SHA-256, recorded, audited.
        The same content again: False and the first record."""
        if owner.startswith("lot_"):
            rules.may_add_to_lot(await self._one(uow, owner), by_party=actor.party)
        else:
            plan = await db.lock_plan(uow.conn, owner)
            if plan is None:
                raise NotFound("destruction plan", owner)
            rules.may_add_to_plan(plan, by_party=actor.party)
        assert self.blobs is not None
        kept = await db.files_of(uow.conn, owner)
        decided = attachments.check(data, already=0, limits=self.file_limits)  # the count: below, after "again?"
        if isinstance(decided, attachments.Refused):
            raise Refused("file", decided.reason, decided.detail)
        again = next((f for f in kept if f.sha256 == decided.digest), None)
        if again is not None:
            return False, again
        if len(kept) >= self.file_limits.max_count:
            raise Refused("file", "too_many", f"at most {self.file_limits.max_count} files")
        rules.file_fits(kind, decided.content_type)
        await self.blobs.put(decided.digest, decided.data)  # before the row: a row never names a missing blob
        fresh, stored = await db.insert_file(uow.conn, StoredFile(
            owner, decided.digest, kind, decided.content_type, len(decided.data), decided.removed,  # type: ignore[arg-type]
            actor.person, self.clock.now()))
        if fresh:
            await self._audit(uow, "custody.file_added", owner, actor,
                              {"sha256": stored.sha256, "kind": kind, "content_type": stored.content_type,
                               "size_bytes": stored.size_bytes, "removed": list(stored.removed)})
        return fresh, stored

    def _emit_plan(self, uow: UnitOfWork, plan: DestructionPlan) -> None:
        uow.emit(self.topic, DestructionPlanChanged(plan_id=plan.plan_id, bureau=plan.bureau, state=plan.state,
                                                    lot_ids=list(plan.lot_ids), scheduled_on=plan.scheduled_on,
                                                    facility=plan.facility, environmental_cost=plan.environmental_cost),
                 key=plan.plan_id)
