"""Which notices an event makes: who it is addressed to, whether it is critical,
and whether complainants are told.

The rules are data: one `NoticeRule` per event type notify consumes. A notice
is *addressed* to bureaus named by the event (the case's assignee, the
deadline's bureau, the referral's police …), *broadcast* to every subscribing
directory entry (the serious-violation list concerns every department), and/or
sent to the case's *complainants* (progress). Critical notices — referral and
deadline notices — are never held back for a digest.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Literal

from pydantic import BaseModel

from shared.contracts import alerts, cases, credit, referral, routing
from shared.topics import filed_by_person

#: complainants told of an event: none, the complainant the event brings, or every complainant of the case
ComplainantScope = Literal["none", "event", "case"]

#: the type of a digest delivery (not an event on Kafka; it names the template)
DIGEST_TYPE = "shuangda.notify.digest.v1"

#: delivery priority lanes, claimed in this order (lower first): a complaint's notice never waits behind bulk
PRIORITY_CRITICAL = 0
PRIORITY_COMPLAINT = 1
PRIORITY_BULK = 2


@dataclass(frozen=True)
class NoticeRule:
    model: type[BaseModel]
    critical: bool
    addressed: Callable[[Any], Iterable[str]] = lambda _e: ()
    broadcast: bool = False
    complainants: ComplainantScope = "none"

    @property
    def event_type(self) -> str:
        return self.model.EVENT_TYPE  # type: ignore[attr-defined]


def _one(*names: str) -> Callable[[Any], list[str]]:
    """Addressees read from attributes (dotted paths), skipping empty values."""

    def pick(event: Any) -> list[str]:
        out: list[str] = []
        for name in names:
            value: Any = event
            for part in name.split("."):
                value = getattr(value, part, None)
            if isinstance(value, str) and value:
                out.append(value)
            elif isinstance(value, (list, tuple)):
                out.extend(v for v in value if isinstance(v, str) and v)
        return out

    return pick


_RULES: tuple[NoticeRule, ...] = (
    # -- intake: complainants learn their report was registered or joined a case
    NoticeRule(cases.CaseOpened, critical=False, complainants="event"),
    NoticeRule(cases.CaseMerged, critical=False, complainants="event"),
    # -- routing: bureaus learn of new cases and transfers; complainants of progress; the office of escalations
    NoticeRule(routing.CaseAssigned, critical=False, addressed=_one("bureau", "co_bureaus"), complainants="case"),
    NoticeRule(routing.CaseAcknowledged, critical=False, complainants="case"),
    NoticeRule(routing.CaseTransferred, critical=False, addressed=_one("from_bureau")),
    NoticeRule(routing.CaseEscalated, critical=False, addressed=_one("office")),
    NoticeRule(routing.CaseFiguresUpdated, critical=False, addressed=_one("bureau")),
    NoticeRule(routing.CaseOutcomeRecorded, critical=False, complainants="case"),  # its SMS invites the survey
    NoticeRule(routing.CaseReopened, critical=False, addressed=_one("bureau"), complainants="case"),
    NoticeRule(routing.JointMeetingProposed, critical=False, addressed=_one("office", "bureaus")),
    NoticeRule(routing.JointMeetingDecided, critical=False, addressed=_one("bureaus")),
    # -- deadlines: the bureau that must act; a breach also goes to the office
    NoticeRule(routing.CaseDeadlineRevised, critical=True, addressed=_one("deadline.bureau")),
    NoticeRule(routing.DeadlineApproaching, critical=True, addressed=_one("deadline.bureau")),
    NoticeRule(routing.DeadlineBreached, critical=True, addressed=_one("deadline.bureau", "escalated_to")),
    # -- referrals (两法衔接): whoever must act next
    NoticeRule(referral.ReferralProposed, critical=True, addressed=_one("agency")),
    NoticeRule(referral.ReferralApproved, critical=True, addressed=_one("agency")),
    NoticeRule(referral.ReferralRejected, critical=True, addressed=_one("agency")),
    NoticeRule(referral.ReferralTransferred, critical=True, addressed=_one("police", "agency")),
    NoticeRule(referral.ReferralAccepted, critical=True, addressed=_one("agency")),
    NoticeRule(referral.ReferralRefused, critical=True, addressed=_one("agency")),
    NoticeRule(referral.ReferralReconsiderationRequested, critical=True, addressed=_one("police")),
    NoticeRule(referral.ReferralReconsiderationRefused, critical=True, addressed=_one("agency")),
    NoticeRule(referral.ReferralSupervisionRequested, critical=True, addressed=_one("procuratorate", "police")),
    NoticeRule(referral.ReferralHandedOver, critical=True, addressed=_one("police", "agency")),
    # -- early warnings for the office
    NoticeRule(alerts.HotspotDetected, critical=False, addressed=_one("office")),
    # -- the serious-violation list concerns every department
    NoticeRule(credit.Blacklisted, critical=False, broadcast=True),
    NoticeRule(credit.Delisted, critical=False, broadcast=True),
    # -- 以罚代刑 (Order 310 art. 16): the procuratorate supervises, the office is told at once
    NoticeRule(credit.PenaltySubstitutesProsecution, critical=True, addressed=_one("procuratorate", "office")),
    NoticeRule(routing.CasePenaltyOverThreshold, critical=True, addressed=_one("procuratorate", "office")),
)

RULES: dict[str, NoticeRule] = {r.event_type: r for r in _RULES}


@dataclass(frozen=True)
class Notice:
    """One event to tell people about."""

    event_id: str
    event_type: str
    event_time: datetime
    case_id: str | None
    addressed: tuple[str, ...]
    broadcast: bool
    complainants: ComplainantScope
    critical: bool
    event: BaseModel
    #: whether the event is about a complaint or report a person filed (not a bulk lead)
    about_complaint: bool = False

    def priority(self, *, to_complainant: bool = False) -> int:
        """The delivery lane: critical first, then anything about a person's complaint, then the rest."""
        if self.critical:
            return PRIORITY_CRITICAL
        if to_complainant or self.about_complaint:
            return PRIORITY_COMPLAINT
        return PRIORITY_BULK


def about_complaint(event: BaseModel) -> bool:
    """A person's complaint or report (by its origin), unless it came in through a bulk Kafka ingress feed."""
    return filed_by_person(getattr(event, "origin", None), getattr(event, "channel", None))


def notice_for(event_id: str, event_time: datetime, event: BaseModel, *, correlation_id: str | None = None) -> Notice | None:
    """The notice an event makes, or None for a type notify does not tell anyone about."""
    etype = getattr(type(event), "EVENT_TYPE", None)
    rule = RULES.get(etype or "")
    if rule is None:
        return None
    addressed: list[str] = []
    for bureau in rule.addressed(event):
        if bureau not in addressed:
            addressed.append(bureau)
    case_id = getattr(event, "case_id", None) or correlation_id
    return Notice(
        event_id=event_id, event_type=rule.event_type, event_time=event_time,
        case_id=case_id if isinstance(case_id, str) else None,
        addressed=tuple(addressed), broadcast=rule.broadcast, complainants=rule.complainants,
        critical=rule.critical, event=event, about_complaint=about_complaint(event),
    )


def public_event_data(event: BaseModel) -> dict[str, Any]:
    """The event's fields as JSON for receivers, with sealed personal data removed
    (the masked forms stay)."""
    return _strip_sealed(event.model_dump(mode="json"))


def _strip_sealed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_sealed(v) for k, v in value.items() if not _is_sealed(v)}
    if isinstance(value, list):
        return [_strip_sealed(v) for v in value if not _is_sealed(v)]
    return value


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and "ciphertext" in value and "nonce" in value and "kid" in value
