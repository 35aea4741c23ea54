"""Rapid appraisal (快速维权鉴定): a request from a case, its provider's answer and result. Pure.

A bureau asks a provider — the city's rapid appraisal centre, or a rights holder's
identification service (品牌权利人鉴别) — to appraise goods of a case: authenticity of branded
goods, quality testing, or value. Both providers are principals of the identity store (kind
``appraisal``; a rights holder's service carries the role ``rights_holder``). The provider
accepts or refuses, confirms the samples arrived (for goods in custody, custody's receipt of a
hand-over with purpose ``appraisal`` does it), then reports the result: a verdict, a valuation and
the report document. A rights holder's identification is marked as such: its evidential weight
differs from the appraisal centre's opinion (it is a party's statement, not an independent one),
and a rights holder identifies the authenticity of its own marks only.

Lifecycle::

    requested ──accept──▶ accepted ──samples──▶ samples_received ──report──▶ reported
        │ refuse / withdraw   │ refuse / withdraw     │ refuse / withdraw
        ▼                     ▼                       ▼
    refused | withdrawn

Refusals name the field and the reason (`shared.refusals.Refused`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from shared.refusals import Refused

Kind = Literal["authenticity", "quality", "value"]
ProviderKind = Literal["appraisal_centre", "rights_holder"]
State = Literal["requested", "accepted", "samples_received", "reported", "refused", "withdrawn"]
Verdict = Literal["genuine", "counterfeit", "conforming", "substandard", "undetermined"]

KINDS: tuple[Kind, ...] = ("authenticity", "quality", "value")
#: the verdicts each kind of appraisal may give (a valuation gives none: its result is the value)
VERDICTS: dict[str, tuple[str, ...]] = {
    "authenticity": ("genuine", "counterfeit", "undetermined"),
    "quality": ("conforming", "substandard", "undetermined"),
    "value": (),
}
#: how a result weighs as evidence, by who gave it
EVIDENTIAL_WEIGHT: dict[str, str] = {"appraisal_centre": "appraisal_opinion",
                                     "rights_holder": "rights_holder_identification"}
OPEN: frozenset[str] = frozenset({"requested", "accepted", "samples_received"})
RIGHTS_HOLDER_ROLE = "rights_holder"


@dataclass(frozen=True)
class Report:
    doc_no: str
    title: str | None = None
    uri: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Result:
    verdict: Verdict | None
    valuation: Decimal | None
    report: Report
    summary: str
    evidential_weight: str
    reported_at: dt.datetime
    reported_by: str


@dataclass(frozen=True)
class Appraisal:
    appraisal_id: str
    case_id: str
    bureau: str                     # the requesting bureau (type@division)
    kind: Kind
    provider: str                   # the provider's principal id
    provider_kind: ProviderKind
    subject: str                    # what is to be appraised, in words
    requested_at: dt.datetime
    requested_by: str
    state: State = "requested"
    lot_id: str | None = None       # the custody lot the samples come from, when known
    wanted_by: dt.date | None = None
    accepted_at: dt.datetime | None = None
    samples_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    reason: str | None = None       # of a refusal or withdrawal
    result: Result | None = None


def provider_kind_of(roles: frozenset[str] | set[str]) -> ProviderKind:
    return "rights_holder" if RIGHTS_HOLDER_ROLE in roles else "appraisal_centre"


def request(appraisal_id: str, *, case_id: str, bureau: str, by_person: str, kind: str, provider: str,
            provider_is_appraiser: bool, provider_kind: ProviderKind, subject: str, lot_id: str | None,
            wanted_by: dt.date | None, at: dt.datetime, today: dt.date) -> Appraisal:
    if kind not in KINDS:
        raise Refused("kind", "unknown_kind", f"one of {', '.join(KINDS)}")
    if not provider_is_appraiser:
        raise Refused("provider", "not_an_appraiser", f"{provider} is no active appraisal centre or identification service")
    if provider_kind == "rights_holder" and kind != "authenticity":
        raise Refused("provider", "rights_holder_authenticity_only",
                      "a rights holder identifies the authenticity of its own marks; quality and value go to the centre")
    if wanted_by is not None and wanted_by < today:
        raise Refused("wanted_by", "in_the_past", "a wanted-by date is today or later")
    if not subject.strip():
        raise Refused("subject", "missing", "what is to be appraised")
    return Appraisal(appraisal_id, case_id, bureau, kind, provider, provider_kind, subject, at, by_person,  # type: ignore[arg-type]
                     lot_id=lot_id, wanted_by=wanted_by)


def _provider(a: Appraisal, by_party: str) -> None:
    if by_party != a.provider:
        raise Refused("appraisal", "not_provider", f"the appraisal was requested of {a.provider}", forbidden=True)


def _in(a: Appraisal, *states: str) -> None:
    if a.state not in states:
        raise Refused("appraisal", f"not_{states[0]}" if len(states) == 1 else "closed",
                      f"the appraisal is {a.state}")


def accept(a: Appraisal, *, by_party: str, at: dt.datetime) -> Appraisal:
    _provider(a, by_party)
    _in(a, "requested")
    return replace(a, state="accepted", accepted_at=at)


def samples_received(a: Appraisal, *, by_party: str, at: dt.datetime, lot_id: str | None = None) -> Appraisal:
    """The provider has the samples (it says so, or custody recorded its receipt of the lot)."""
    _provider(a, by_party)
    _in(a, "accepted")
    if lot_id is not None and a.lot_id is not None and lot_id != a.lot_id:
        raise Refused("lot_id", "not_the_lot", f"the appraisal is of lot {a.lot_id}")
    return replace(a, state="samples_received", samples_at=at, lot_id=lot_id or a.lot_id)


def report(a: Appraisal, *, by_party: str, by_person: str, verdict: str | None, valuation: Decimal | None,
           report_doc: Report, summary: str, at: dt.datetime) -> Appraisal:
    _provider(a, by_party)
    _in(a, "samples_received")
    allowed = VERDICTS[a.kind]
    if allowed and verdict not in allowed:
        raise Refused("verdict", "not_for_this_kind", f"a {a.kind} appraisal gives one of {', '.join(allowed)}")
    if not allowed and verdict is not None:
        raise Refused("verdict", "not_for_this_kind", "a valuation gives a value, not a verdict")
    if a.kind == "value" and valuation is None:
        raise Refused("valuation", "missing", "a valuation reports the value")
    if valuation is not None and valuation < 0:
        raise Refused("valuation", "negative", "a value is 0 or more")
    if not report_doc.doc_no.strip():
        raise Refused("report.doc_no", "missing", "the report document's number")
    result = Result(verdict, valuation, report_doc, summary, EVIDENTIAL_WEIGHT[a.provider_kind], at, by_person)  # type: ignore[arg-type]
    return replace(a, state="reported", result=result, closed_at=at)


def refuse(a: Appraisal, *, by_party: str, reason: str, at: dt.datetime) -> Appraisal:
    _provider(a, by_party)
    _in(a, *sorted(OPEN))
    if not reason.strip():
        raise Refused("reason", "missing", "a refusal gives its reason")
    return replace(a, state="refused", reason=reason, closed_at=at)


def withdraw(a: Appraisal, *, by_party: str, reason: str, at: dt.datetime) -> Appraisal:
    if by_party != a.bureau:
        raise Refused("appraisal", "not_requester", f"only {a.bureau} withdraws its request", forbidden=True)
    _in(a, *sorted(OPEN))
    return replace(a, state="withdrawn", reason=reason, closed_at=at)


def figures(a: Appraisal) -> dict[str, Decimal]:
    """What the result says about the case's figures: counterfeit or substandard goods count at
    their valuation as unsold goods. Whether they are added to the case (routing's threshold
    evaluation takes them) is the evidential-weight rule's (`domain.weights`)."""
    r = a.result
    if r is None or r.valuation is None:
        return {}
    if a.kind == "value" or r.verdict in ("counterfeit", "substandard"):
        return {"unsold_value": r.valuation}
    return {}
