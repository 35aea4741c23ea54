"""Registering a validated report: recognise a re-submission, lock the
suspect's merge slot, open a case or merge into the open one, store the report
with its personal data sealed, and announce ``case.opened`` / ``case.merged``
through the outbox — all in the caller's unit of work (an HTTP request's
transaction, or a consumer batch's)."""
from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from services.intake.adapters import postgres as db
from services.intake.domain.merge import decide, merge_into, open_case
from services.intake.domain.model import CaseState, Outcome, Report
from services.intake.domain.tracking import new_tracking_no
from shared.contracts.cases import CaseMerged, CaseOpened, Complainant, Suspect
from shared.envelope import deterministic_event_id, new_event_id
from shared.pii import Keyring
from shared.runtime import UnitOfWork

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


@dataclass
class Registrar:
    """What registering needs besides the transaction: keys, the window, where events go."""

    keyring: Keyring
    window: timedelta
    case_topic: str
    random_bytes: Callable[[int], bytes] = field(default=os.urandom)

    async def register(self, uow: UnitOfWork, report: Report, now: datetime) -> Receipt:
        conn = uow.conn
        report_id = str(uuid.uuid4())
        claim = await db.claim_and_lock(conn, client_id=report.client_id, source_id=report.source_id,
                                        report_id=report_id, category=report.category, merge_key=report.merge_key)
        if claim.earlier is not None:
            earlier = claim.earlier
            return Receipt(earlier.report_id, earlier.case_id, "duplicate", earlier.tracking_no, earlier.received_at,
                           earlier.reports_count, earlier.origin)
        current = claim.current
        tracking_no = new_tracking_no(now, self.random_bytes(5)) if report.is_complaint else None
        complainant = self.seal(report)
        if decide(current, report, now, self.window) == "merge":
            assert current is not None
            case = merge_into(current, report, now)
            outcome: Outcome = "merged"
        else:
            case = open_case(new_event_id(), report, now)
            outcome = "opened"
        row = db.ReportRow(
            report_id=report_id, case_id=case.case_id, outcome=outcome, origin=report.origin, channel=report.channel,
            client_id=report.client_id, source_id=report.source_id, tracking_no=tracking_no, category=report.category,
            county=report.county, suspect=report.suspect, figures=report.figures, summary=report.summary,
            complainant=complainant.model_dump(mode="json") if complainant else None, occurred_on=report.occurred_on,
            observed_at=report.observed_at, evidence_urls=report.evidence_urls, received_at=now,
        )
        if outcome == "merged":
            await db.save_merged(conn, case, row)
        else:
            await db.save_opened(conn, case, row)
        self.announce(uow, case, report, outcome, report_id, tracking_no, complainant, now)
        log.info("report registered", extra={"case_id": case.case_id, "outcome": outcome, "channel": report.channel,
                                             "client_id": report.client_id, "origin": report.origin})
        return Receipt(report_id, case.case_id, outcome, tracking_no, now, case.reports_count, report.origin)

    def seal(self, report: Report) -> Complainant | None:
        """The complainant with every personal field sealed, plus the masked forms that may be shown."""
        c = report.complainant
        if c is None:
            return None
        return Complainant(
            name=self.keyring.seal(c.name, field="name") if c.name else None,
            phone=self.keyring.seal(c.phone, field="phone") if c.phone else None,
            id_number=self.keyring.seal(c.id_number, field="id_number") if c.id_number else None,
            name_masked=c.name_masked,
            phone_masked=c.phone_masked,
        )

    def announce(self, uow: UnitOfWork, case: CaseState, report: Report, outcome: Outcome, report_id: str,
                 tracking_no: str | None, complainant: Complainant | None, now: datetime) -> None:
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
        uow.emit(self.case_topic, event, key=case.case_id, subject=case.case_id, correlationid=case.case_id,
                 event_id=deterministic_event_id("intake", report_id, outcome), time=now)
