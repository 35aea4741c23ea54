"""Disclosure (双公示): publishing recorded penalties — by the scheduler when auto-disclosure is on,
or by the deciding bureau — and the public feed (JSON or CSV, the fields of
services/credit/rules/disclosure.yaml, a person shown as rules/party_names.yaml says) and the platform export built from it.

Text in a CSV cell that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, or a
tab or carriage return first) is prefixed with an apostrophe (OWASP's CSV injection advice)."""
from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any, Literal

import asyncpg

from shared import audit
from shared.contracts.credit import RecordDisclosed
from shared.envelope import deterministic_event_id
from shared.reference import UnknownCode, bureau_type, city, resolve_county
from shared.runtime import UnitOfWork

from services.credit import metrics
from services.credit.adapters.postgres import entities as entities_db
from services.credit.adapters.postgres import inspections as inspections_db
from services.credit.adapters.postgres import penalties as penalties_db
from services.credit.adapters.postgres import read_models
from services.credit.app.context import Credit, local_day
from services.credit.app.errors import Conflict, Invalid, NotAllowed, NotFound
from services.credit.domain.disclosure import project, published_name, published_party, to_csv
from services.credit.domain.model import Bureau
from services.credit.rules import PartyNameVersion

#: the export's next page starts this long before "now", so rows committed late are never missed
EXPORT_OVERLAP = dt.timedelta(seconds=120)

EXPORT_COLUMNS = (
    "op", "item", "id", "version", "changed_at", "status", "status_reason", "decision_no", "party_name", "party_kind",
    "credit_code", "legal_representative", "resident_id_masked", "violation", "legal_basis", "penalty_types", "content",
    "fine_amount_wan", "confiscated_amount_wan", "decided_on", "authority", "publicity_until", "published_at", "rule_id",
    "reason", "listed_at", "expires_on",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


async def disclose(credit: Credit, uow: UnitOfWork, row: Any, now: dt.datetime) -> bool:
    """Publish one record (False when it was published already or is no longer active)."""
    if not await penalties_db.mark_disclosed(uow.conn, row["record_id"], now):
        return False
    on_time = row["disclosure_due_at"] is None or now <= row["disclosure_due_at"]
    key = row["credit_code"] or row["entity_id"]
    uow.emit(credit.topics.credit, RecordDisclosed(
        record_id=row["record_id"], decision_no=row["decision_no"], entity_id=row["entity_id"],
        credit_code=row["credit_code"], disclosed_at=now, due_on=row["disclosure_due_on"], on_time=on_time,
    ), key=key, event_id=deterministic_event_id("credit.record-disclosed", row["record_id"]))
    await audit.append(uow.conn, "credit.record-disclosed", key, {"record_id": row["record_id"], "on_time": on_time,
                                                                  "due_on": row["disclosure_due_on"]},
                       actor=uow.actor, at=now)
    timeliness = "on_time" if on_time else "late"
    uow.after_commit(lambda: metrics.DISCLOSURES.labels(timeliness).inc())
    return True


async def disclose_by_bureau(credit: Credit, uow: UnitOfWork, bureau: Bureau, record_id: str) -> str:
    """The deciding bureau publishes one of its records (when auto-disclosure is off)."""
    await audit.lock(uow.conn)
    record = await penalties_db.record_by_id(uow.conn, record_id, lock=True)
    if record is None or record["kind"] != "penalty":
        raise NotFound("unknown_record", f"no penalty record {record_id}")
    if record["bureau"] != bureau.id:
        raise NotAllowed("not_decider_of_record", f"record {record_id} was decided by {record['bureau']}")
    if record["disclosed_at"] is not None:
        return "already_disclosed"
    if record["status"] != "active" or not record["disclose"]:
        raise Conflict("not_disclosable", f"record {record_id} is {record['status']}")
    entity = await entities_db.entity_by_key(uow.conn, record["entity_id"])
    assert entity is not None
    await disclose(credit, uow, record | {"credit_code": entity["credit_code"]}, credit.clock.now())
    return "disclosed"


# -- the public feed -----------------------------------------------------------------------------

def bureau_display(bureau_id: str) -> str:
    """``market_regulation@610402`` → 秦都区市场监督管理局 (falls back to the id)."""
    btype, _, division = bureau_id.partition("@")
    try:
        name = bureau_type(btype).name_zh
    except UnknownCode:
        return bureau_id
    the_city = city()
    if division in the_city.city_level_codes or division == the_city.code:
        return the_city.name_zh + name
    try:
        return resolve_county(division).name_zh + name
    except (UnknownCode, ValueError):
        return name


def cursor(at: dt.datetime, ident: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{ident}".encode()).decode().rstrip("=")


def uncursor(text: str | None) -> tuple[dt.datetime, str] | None:
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        at, sep, ident = raw.partition("|")
        parsed = dt.datetime.fromisoformat(at)
        if not sep or parsed.tzinfo is None or not ident.isascii() or len(ident) > 64:
            raise ValueError(raw)
        return parsed, ident
    except (ValueError, UnicodeDecodeError):
        raise Invalid("bad_cursor", "not a cursor returned by this feed", field="after") from None


def party_rule(credit: Credit) -> PartyNameVersion:
    """What may be shown of a person today (rules/party_names.yaml): the feed, the export and the
    department views read every stored party through it."""
    return credit.book.party_names.at(local_day(credit.clock.now()))


def penalty_row(r: Any, rule: PartyNameVersion) -> dict[str, Any]:
    party = published_party(r["party"], rule)
    return {
        "record_id": r["record_id"], "decision_no": r["decision_no"], "party_name": party.get("name"),
        "party_kind": party.get("kind"), "credit_code": party.get("credit_code"),
        "legal_representative": party.get("legal_representative"), "resident_id_masked": party.get("resident_id_masked"),
        "violation": r["violation"], "legal_basis": list(r["legal_basis"]), "penalty_types": list(r["penalty_types"]),
        "content": r["content"], "fine_amount": r["fine_amount"], "confiscated_amount": r["confiscated_amount"],
        "decided_on": r["decided_on"], "bureau": bureau_display(r["bureau"]), "bureau_id": r["bureau"],
        "publicity_until": r["publicity_max_on"], "disclosed_at": r["disclosed_at"],
    }


def listing_row(r: Any) -> dict[str, Any]:
    return {
        "listing_id": r["listing_id"], "party_name": r["name"], "credit_code": r["credit_code"], "rule_id": r["rule_id"],
        "reason": r["reason"], "authority": bureau_display(r["authority"]), "listed_at": r["listed_at"],
        "expires_on": r["expires_on"],
    }


def inspection_row(r: Any, rule: PartyNameVersion, labels: Any) -> dict[str, Any]:
    """A published random-inspection result: the party's name as the rule shows its kind."""
    return {
        "plan_id": r["plan_id"], "party_name": published_name(r["party_kind"], r["name"], rule),
        "party_kind": r["party_kind"], "credit_code": r["credit_code"], "result": r["result"],
        "result_label": labels.get(r["result"], r["result"]), "bureau": bureau_display(r["bureau"]),
        "bureau_id": r["bureau"], "published_at": r["published_at"],
    }


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never evaluates (strings and lists of strings)."""
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    if isinstance(value, (list, tuple)):
        return [csv_safe(v) for v in value]
    return value


def safe_csv(rows: list[dict[str, Any]], fields: Any, *, labels: bool = False) -> str:
    return to_csv([{k: csv_safe(v) for k, v in row.items()} for row in rows], fields, labels=labels)


async def feed(credit: Credit, conn: asyncpg.Connection, kind: Literal["penalty", "listing", "inspection"], after: str | None,
               limit: int) -> tuple[list[dict[str, Any]], Any, str | None]:
    """One page of the public feed: the published items, their fields, the next cursor."""
    position = uncursor(after)
    if kind == "penalty":
        rows = await read_models.feed_penalties(conn, position, limit)
        rule = party_rule(credit)
        items = [penalty_row(r, rule) for r in rows]
        fields = credit.book.disclosure.penalty_fields
        last = (rows[-1]["disclosed_at"], rows[-1]["record_id"]) if rows else None
    elif kind == "inspection":
        rows = await inspections_db.feed(conn, position, limit)
        rule, labels = party_rule(credit), credit.book.disclosure.inspection_result_labels
        items = [inspection_row(r, rule, labels) for r in rows]
        fields = credit.book.disclosure.inspection_fields
        last = (rows[-1]["published_at"], f"{rows[-1]['plan_id']}:{rows[-1]['credit_code']}") if rows else None
    else:
        rows = await read_models.feed_listings(conn, position, limit)
        items = [listing_row(r) for r in rows]
        fields = credit.book.disclosure.listing_fields
        last = (rows[-1]["listed_at"], rows[-1]["listing_id"]) if rows else None
    nxt = cursor(*last) if last and len(rows) == limit else None
    return [project(i, fields) for i in items], fields, nxt


# -- the platform export ------------------------------------------------------------------------

def _wan(amount: Decimal | None) -> Decimal | None:
    return None if amount is None else (amount / Decimal(10000)).quantize(Decimal("0.000001"))


def export_line(r: Any, rule: PartyNameVersion) -> dict[str, Any]:
    party = published_party(r["party"], rule) if r["party"] else {}
    live = r["status"] in ("active", "listed") and r["published"]
    return {
        "op": "publish" if live else "withdraw", "item": r["item"], "id": r["id"], "version": r["version"],
        "changed_at": r["changed_at"], "status": r["status"], "status_reason": r["status_reason"],
        "decision_no": r["decision_no"], "party_name": party.get("name"), "party_kind": party.get("kind"),
        "credit_code": party.get("credit_code"), "legal_representative": party.get("legal_representative"),
        "resident_id_masked": party.get("resident_id_masked"), "violation": r["violation"],
        "legal_basis": list(r["legal_basis"] or []), "penalty_types": list(r["penalty_types"] or []), "content": r["content"],
        "fine_amount_wan": _wan(r["fine_amount"]), "confiscated_amount_wan": _wan(r["confiscated_amount"]),
        "decided_on": r["decided_on"], "authority": bureau_display(r["bureau"]) if r["bureau"] else None,
        "publicity_until": r["publicity_max_on"], "published_at": r["disclosed_at"], "rule_id": r["rule_id"],
        "reason": r["reason"], "listed_at": r["listed_at"], "expires_on": r["expires_on"],
    }


def export_csv(lines: list[dict[str, Any]]) -> str:
    from services.credit.rules import PublishedField

    return safe_csv(lines, [PublishedField(key=c, label_zh=c) for c in EXPORT_COLUMNS])


async def export(conn: asyncpg.Connection, since: dt.datetime, limit: int,
                 rule: PartyNameVersion) -> tuple[list[dict[str, Any]], dt.datetime]:
    """Export lines changed at or after `since` (parties as `rule` shows them), and where the next page starts."""
    rows = await read_models.export_changes(conn, since, limit)
    if len(rows) == limit:
        next_since = rows[-1]["changed_at"]
    else:
        next_since = max(since, await read_models.server_now(conn) - EXPORT_OVERLAP)
    return [export_line(r, rule) for r in rows], next_since
