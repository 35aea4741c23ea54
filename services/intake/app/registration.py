"""Registering validated reports, a batch at a time: recognise re-submissions,
lock the suspects' merge slots, open cases or merge into the open ones, store
the reports with their personal data sealed, and announce ``case.opened`` /
``case.merged`` through the outbox (on the case topic, or its priority lane for a case a person
filed: the lane is decided when the case opens and kept for its every event) — all in the caller's unit of work (an HTTP
request's transaction, or a consumer batch's).

A batch costs the same few round trips whatever its size: claim every
(client, source id) in one statement (plus one query for the earlier reports of
the re-submissions among them), lock every merge slot and its case in one
statement (in digest order, so concurrent batches cannot deadlock), decide in
Python in record order, write everything in one statement."""
from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from services.intake.adapters import postgres as db
from services.intake.domain.merge import decide, merge_into, open_case
from services.intake.domain.model import CaseState, Outcome, Report
from services.intake.domain.tracking import new_tracking_no
from shared.contracts.cases import CaseMerged, CaseOpened, Complainant, Suspect
from shared.envelope import deterministic_event_id, new_event_id
from shared import vault
from shared.pii import DataKey, Keyring, Sealed, new_data_key
from shared.runtime import Message, UnitOfWork
from shared.topics import lane

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    report_id: str
    case_id: str
    outcome: Outcome
    tracking_no: str | None
    received_at: datetime
    reports_count: int
    origin: str


@dataclass(frozen=True)
class _Registered:
    """A report this batch stores, and the case as it stood right after it."""

    index: int
    report: Report
    report_id: str
    case: CaseState
    outcome: Outcome
    tracking_no: str | None
    complainant: Complainant | None
    description_sealed: dict[str, Any] | None = None


@dataclass
class Registrar:
    """What registering needs besides the transaction: keys, the window, where events go."""

    keyring: Keyring
    window: timedelta
    case_topic: str
    random_bytes: Callable[[int], bytes] = field(default=os.urandom)
    #: the key store of persons' data keys (shared.vault): one key per complainant record, stored with it
    vault_schema: str = vault.SCHEMA

    async def register(self, uow: UnitOfWork, report: Report, now: datetime) -> Receipt:
        """One report: a batch of one."""
        [receipt] = await self.register_many(uow, [report], now)
        return receipt

    async def register_many(self, uow: UnitOfWork, reports: Sequence[Report], now: datetime,
                            causes: Sequence[Message[Any] | None] | None = None) -> list[Receipt]:
        """Register `reports` in order as if one after another; one receipt each, in the same order.

        Reports about one suspect join one case even within the batch, and a (client, source id)
        sent twice in the batch counts once. ``causes[i]`` (a consumed record) becomes the cause of
        report i's event."""
        conn = uow.conn
        report_ids = [str(uuid.uuid4()) for _ in reports]

        # re-submissions: the first of each (client, source id) in the batch claims it
        first_of: dict[tuple[str, str], int] = {}
        again: dict[int, int] = {}  # index → the index of the same submission earlier in this batch
        for i, report in enumerate(reports):
            if report.source_id is None:
                continue
            key = (report.client_id, report.source_id)
            if key in first_of:
                again[i] = first_of[key]
            else:
                first_of[key] = i
        claimed = await db.claim_submissions(conn, sorted((k[0], k[1], report_ids[i]) for k, i in first_of.items()))
        resubmitted = [k for k in first_of if k not in claimed]
        earlier = await db.earlier_reports(conn, resubmitted)
        if len(earlier) != len(resubmitted):  # claimed in this very transaction and not yet written: a bug, not input
            raise RuntimeError("submission claimed without a report")

        # the merge slots of the new reports, locked in digest order
        digests: dict[int, bytes] = {}
        slots: dict[bytes, tuple[bytes, str, str]] = {}
        for i, report in enumerate(reports):
            if i in again or (report.source_id is not None and (report.client_id, report.source_id) in earlier):
                continue
            digest = db.merge_digest(report.category, report.merge_key)
            digests[i] = digest
            slots.setdefault(digest, (digest, report.category, report.merge_key))
        current: dict[bytes, CaseState | None] = await db.lock_slots(conn, [slots[d] for d in sorted(slots)])

        # the merge rule, in record order
        cases: dict[str, CaseState] = {c.case_id: c for c in current.values() if c is not None}
        opened: dict[str, None] = {}  # case ids in order (dicts as ordered sets)
        merged: dict[str, None] = {}
        pointers: dict[bytes, str] = {}
        registered: list[_Registered] = []
        receipts: list[Receipt] = []
        data_keys: list[tuple[str, Sealed]] = []  # (key id, wrapped key) for the key store
        for i, report in enumerate(reports):
            if i in again:
                first = receipts[again[i]]
                count = cases[first.case_id].reports_count if first.case_id in cases else first.reports_count
                receipts.append(Receipt(first.report_id, first.case_id, "duplicate", first.tracking_no, first.received_at,
                                        count, first.origin))
                continue
            if i not in digests:
                assert report.source_id is not None
                e = earlier[(report.client_id, report.source_id)]
                count = cases[e.case_id].reports_count if e.case_id in cases else e.reports_count
                receipts.append(Receipt(e.report_id, e.case_id, "duplicate", e.tracking_no, e.received_at, count, e.origin))
                continue
            digest = digests[i]
            case_now = current[digest]
            outcome: Outcome
            if decide(case_now, report, now, self.window) == "merge":
                assert case_now is not None
                case = merge_into(case_now, report, now)
                outcome = "merged"
                if case.case_id not in opened:  # a case opened in this batch is inserted with its final totals
                    merged[case.case_id] = None
            else:
                case = open_case(new_event_id(), report, now)
                outcome = "opened"
                opened[case.case_id] = None
                pointers[digest] = case.case_id
            current[digest] = case
            cases[case.case_id] = case
            tracking_no = new_tracking_no(now, self.random_bytes(5)) if report.is_complaint else None
            key: DataKey | None = None
            if report.complainant is not None or report.original_description is not None:
                key, wrapped = new_data_key(self.keyring)  # this record's own key: erasing it shreds every copy
                data_keys.append((key.id, wrapped))
            registered.append(_Registered(i, report, report_ids[i], case, outcome, tracking_no, self.seal(report, key),
                                          self.seal_description(report, key)))
            receipts.append(Receipt(report_ids[i], case.case_id, outcome, tracking_no, now, case.reports_count,
                                    report.origin))

        await db.save_registrations(
            conn, opened=[cases[c] for c in opened], merged=[cases[c] for c in merged], slots=pointers,
            reports=[self._row(r, now) for r in registered],
        )
        await vault.store(conn, data_keys, schema=self.vault_schema)  # one statement, in this transaction
        for r in registered:
            self.announce(uow, r.case, r.report, r.outcome, r.report_id, r.tracking_no, r.complainant, now,
                          cause=causes[r.index] if causes is not None else None)
            log.info("report registered", extra={"case_id": r.case.case_id, "outcome": r.outcome,
                                                 "channel": r.report.channel, "client_id": r.report.client_id,
                                                 "origin": r.report.origin})
        return receipts

    @staticmethod
    def _row(r: _Registered, now: datetime) -> db.ReportRow:
        report = r.report
        return db.ReportRow(
            report_id=r.report_id, case_id=r.case.case_id, outcome=r.outcome, origin=report.origin,
            channel=report.channel, client_id=report.client_id, source_id=report.source_id, tracking_no=r.tracking_no,
            category=report.category, county=report.county, suspect=report.suspect, figures=report.figures,
            summary=report.summary, complainant=r.complainant.model_dump(mode="json") if r.complainant else None,
            occurred_on=report.occurred_on, observed_at=report.observed_at, evidence_urls=report.evidence_urls,
            received_at=now, description_sealed=r.description_sealed,
        )

    def seal_description(self, report: Report, key: DataKey | None = None) -> dict[str, Any] | None:
        """The original description sealed (kept only when the readable summary is not all of it), with
        the record's data key (`key`; the service keyring without one)."""
        if report.original_description is None:
            return None
        return (key or self.keyring).seal(report.original_description, field="description").model_dump(mode="json")

    def seal(self, report: Report, key: DataKey | None = None) -> Complainant | None:
        """The complainant with every personal field sealed with the record's data key (`key`; the
        service keyring without one), plus the masked forms that may be shown."""
        c = report.complainant
        if c is None:
            return None
        sealer = key or self.keyring
        return Complainant(
            name=sealer.seal(c.name, field="name") if c.name else None,
            phone=sealer.seal(c.phone, field="phone") if c.phone else None,
            id_number=sealer.seal(c.id_number, field="id_number") if c.id_number else None,
            name_masked=c.name_masked,
            phone_masked=c.phone_masked,
        )

    def topic_of(self, on_lane: bool) -> str:
        """Where a case's events go: the case topic, or its priority lane for a case a person filed
        (`CaseState.priority_lane`, decided when it opened), so all of one case's events share a topic."""
        return lane(self.case_topic, priority=on_lane)

    def announce(self, uow: UnitOfWork, case: CaseState, report: Report, outcome: Outcome, report_id: str,
                 tracking_no: str | None, complainant: Complainant | None, now: datetime,
                 cause: Message[Any] | None = None) -> None:
        suspect = Suspect(credit_code=case.suspect.credit_code, name=case.suspect.name, platform=case.suspect.platform,
                          shop_id=case.suspect.shop_id, listing=case.suspect.listing)
        common: dict[str, Any] = dict(
            case_id=case.case_id, origin=report.origin, channel=report.channel, client_id=report.client_id,
            category=case.category, county=case.county, counties=list(case.counties), suspect=suspect,
            figures=dict(case.figures), reports_count=case.reports_count, tracking_no=tracking_no,
            source_id=report.source_id, complainant=complainant,
        )
        event: CaseOpened | CaseMerged
        if outcome == "opened":
            event = CaseOpened(opened_at=now, summary=report.summary, **common)
        else:
            event = CaseMerged(merged_at=now, **common)
        uow.emit(self.topic_of(case.priority_lane), event, key=case.case_id, subject=case.case_id, correlationid=case.case_id,
                 event_id=deterministic_event_id("intake", report_id, outcome), time=now, cause=cause)
