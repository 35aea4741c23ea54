"""Published random-inspection results (双随机、一公开) as credit discloses them. Pure.

Inspection publishes a plan's results (`shuangda.inspection.results-published.v1` on
``inspection.lifecycle``); credit shows each result in its public disclosure feed
(``GET /v1/disclosures?kind=inspection``) beside the penalties and listings, with the fields of
rules/disclosure.yaml ``inspection_fields``: the plan id, the bureau, the date, the result and the
inspected party — its name as rules/party_names.yaml shows a party of its kind (a 个体工商户 known
by its operator's own name by the surname). The findings are free text and may hold a person's
number: they stay in inspection's own public plan and are not copied here.

`accept` checks one event's results: a bad plan id, bureau, credit code, result or an empty
list makes the whole event a dead letter with the reason (the event is one publication: it is
taken whole or not at all).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
import datetime as dt
from typing import Any, Iterable

from shared.identifiers import IdentifierError, parse_uscc, uscc_party_kind

PLAN_ID = re.compile(r"insp_[0-9a-f]{20}")
BUREAU_ID = re.compile(r"([a-z][a-z_]{1,40})@(\d{6})")
RESULTS = ("no_problem", "problems_found", "referred_to_case")


class BadPublication(ValueError):
    def __init__(self, reason: str, field: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.field, self.detail = reason, field, detail


@dataclass(frozen=True)
class PublishedInspection:
    """One published result of one target of one plan, as credit keeps it."""

    plan_id: str
    credit_code: str
    bureau: str
    party_kind: str          # organisation | individual_trader
    name: str
    result: str
    published_at: dt.datetime


def party_kind(credit_code: str) -> str:
    """GB 32100: ``92…`` is a 个体工商户, every other code an organisation's (`shared.identifiers`)."""
    return uscc_party_kind(credit_code)


def accept(*, plan_id: str, bureau: str, published_at: dt.datetime, results: Iterable[Any],
           bureau_types: frozenset[str] | set[str]) -> list[PublishedInspection]:
    """The publication's results, checked (`BadPublication` naming the field and reason otherwise).
    A code listed twice keeps its last result (the event's order)."""
    if not PLAN_ID.fullmatch(plan_id):
        raise BadPublication("invalid_plan_id", "plan_id", f"plan_id: {plan_id[:40]!r} is not insp_ and 20 hex digits")
    m = BUREAU_ID.fullmatch(bureau)
    if m is None or m.group(1) not in bureau_types:
        raise BadPublication("unknown_bureau", "bureau", f"bureau: {bureau[:60]!r} is not <known bureau type>@<division>")
    if published_at.tzinfo is None:
        raise BadPublication("invalid_time", "published_at", "published_at: a time without a zone")
    out: dict[str, PublishedInspection] = {}
    for i, r in enumerate(results):
        try:
            code = parse_uscc(r.credit_code)
        except IdentifierError as exc:
            raise BadPublication("invalid_credit_code", f"results.{i}.credit_code", exc.message) from None
        if r.result not in RESULTS:
            raise BadPublication("unknown_result", f"results.{i}.result", f"one of {', '.join(RESULTS)}")
        name = (r.name or "").strip()
        if not name or len(name) > 200:
            raise BadPublication("invalid_name", f"results.{i}.name", "a name of 1 to 200 characters")
        out[code] = PublishedInspection(plan_id, code, bureau, party_kind(code), name, r.result, published_at)
    if not out:
        raise BadPublication("no_results", "results", "a publication names at least one result")
    return list(out.values())
