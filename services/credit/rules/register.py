"""Credit's rule files as entries of the legal register (``shared.reference.register``):
publicity periods, heavy-penalty rules, serious-violation list rules, what is published of a
natural person. Pure."""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from services.credit.rules import PeriodSpec, RuleBook, load_rulebook
from shared.reference.register import LegalFigure, in_force, period_text

_NO_RECORD = "no verification recorded in the rule file"


def _period(spec: PeriodSpec, at: dt.date) -> str:
    if spec.rule is not None:
        from shared.reference._base import UnknownCode
        from shared.reference.deadlines import deadline_rule

        try:
            rule = deadline_rule(spec.rule, at)
        except UnknownCode:  # the credit rule predates the shared period it names: say so, don't crash the register
            return f"no version of shared rule {spec.rule} in force on {at.isoformat()}"
        return f"{period_text(rule.amount, rule.unit)} [shared rule {spec.rule}]"
    assert spec.amount is not None and spec.unit is not None
    return period_text(spec.amount, spec.unit)


def credit_figures(at: dt.date, book: RuleBook | None = None) -> list[LegalFigure]:
    book = book or load_rulebook()
    return [*_publicity(book, at), *_heavy(book, at), *_blacklist(book, at), *_party_names(book, at)]


def _publicity(book: RuleBook, at: dt.date) -> Iterable[LegalFigure]:
    for t in book.publicity.types:
        found = in_force(t.versions, at)
        if found is None:
            continue
        v, until = found
        shown = "published" if t.disclose else "not published in the feed"
        yield LegalFigure(
            area="credit.publicity", id=t.id, governs=f"{t.name_zh} — publicity period ({shown})",
            value=f"min {_period(v.min, at)}; max {_period(v.max, at)}", citation=v.citation, article="",
            version=v.version, effective_from=v.effective_from, effective_until=until,
            verified=v.verified, verified_note=v.verified_note)


def _heavy(book: RuleBook, at: dt.date) -> Iterable[LegalFigure]:
    for rule in book.heavy.rules:
        found = in_force(rule.versions, at)
        if found is None:
            continue
        v, until = found
        parts = []
        if v.any_penalty_type:
            parts.append("any of " + ", ".join(v.any_penalty_type))
        if v.aggravated is not None:
            parts.append(f"aggravated={v.aggravated}")
        if v.fine_at_least:
            parts.append("fine ≥ " + ", ".join(f"{k} {amount}" for k, amount in v.fine_at_least.items()))
        yield LegalFigure(
            area="credit.heavy_penalty", id=rule.id, governs=f"{rule.name_zh} — counts as a heavy penalty (较重行政处罚)",
            value=("; ".join(parts) or "—") + ("" if v.enabled else " [retired]"), citation=v.citation, article="",
            version=v.version, effective_from=v.effective_from, effective_until=until,
            verified=v.verified, verified_note=v.verified_note or _NO_RECORD)


def _blacklist(book: RuleBook, at: dt.date) -> Iterable[LegalFigure]:
    for rule in book.blacklist.rules:
        found = in_force(rule.versions, at)
        if found is None:
            continue
        v, until = found
        window = f" within {v.window.amount} {v.window.unit}" if v.window else ""
        what = ("opens a listing proceeding (Order 44 steps)" if rule.basis == "order44"
                else "a review flag only (local policy, never applied automatically)")
        yield LegalFigure(
            area="credit.blacklist", id=rule.id, governs=f"{rule.name_zh} — {what}",
            value=f"{v.count} matching record(s){window}" + ("" if v.enabled else " [retired]"),
            citation=v.citation, article=v.article, version=v.version, effective_from=v.effective_from,
            effective_until=until, verified=v.verified, verified_note=v.verified_note or _NO_RECORD)
    found = in_force(book.blacklist.procedure.versions, at)
    if found is None:
        return
    p, until = found
    steps = (
        ("weighing", p.weighing, "art. 12 weighing before a listing", "no listing where intent is not shown"),
        ("notice_statement", p.notice, "prior notice: the party's period to state its case",
         _period(p.notice.statement_within, at)),
        ("notice_hearing", p.notice, "prior notice: the party's period to ask for a hearing",
         _period(p.notice.hearing_request_within, at)),
        ("approval", p.approval, "consent of the level above to a listing", "levels: " + ", ".join(p.approval.levels)),
        ("basis_revoked", p.basis_revoked, "a listing whose penalty is revoked ends and its publication stops",
         _period(p.basis_revoked.within, at)),
    )
    for sid, step, governs, value in steps:
        cite = p.notice.hearing_citation if sid == "notice_hearing" else p.citation
        yield LegalFigure(
            area="credit.blacklist", id=f"procedure.{sid}", governs=f"{governs} — {step.text}", value=value,
            citation=cite, article="" if sid == "notice_hearing" else step.article, version=p.version,
            effective_from=p.effective_from, effective_until=until, verified=step.verified,
            verified_note=step.verified_note or _NO_RECORD)


def _party_names(book: RuleBook, at: dt.date) -> Iterable[LegalFigure]:
    found = in_force(book.party_names.versions, at)
    if found is None:
        return
    v, until = found
    for kind, form in v.parties.items():
        yield LegalFigure(
            area="credit.party_names", id=kind, governs=f"what the disclosure, the export and department views show of a {kind} party",
            value=f"name: {form.name}; legal_representative: {form.legal_representative}; resident_id: {form.resident_id}",
            citation=v.citation, article=v.article, version=v.version, effective_from=v.effective_from,
            effective_until=until, verified=v.verified, verified_note=v.verified_note or _NO_RECORD)
