"""Reading the registry: an entity's record (`view`), screening many codes at once (`check`) and
the name search (`search`). Codes are parsed once (full-width accepted, a bad check character
named); the measures that apply come from the rules."""
from __future__ import annotations

import time
from typing import Any

import asyncpg

from shared.identifiers import IdentifierError, parse_uscc

from services.credit.adapters.postgres import entities as entities_db
from services.credit.adapters.postgres import name_search as name_search_db
from services.credit.adapters.postgres import read_models
from services.credit.app.context import Credit, local_day
from services.credit.app.disclosure import bureau_display, party_rule
from services.credit.domain.disclosure import published_name
from services.credit.app.errors import Invalid, NotFound
from services.credit.domain.measures import applicable
from services.credit.domain.search import NameIndex, rank

#: how long a search result's status may be reused (seconds); screening uses check, which is always current
SEARCH_STATUS_TTL = 2.0
_STATUS_CACHE_MAX = 50_000


def entity_key(code: str) -> str:
    """An entity id (``ent-…``) as it is, or the parsed credit code; `Invalid` naming the code otherwise."""
    if code.startswith("ent-"):
        return code
    try:
        return parse_uscc(code)
    except IdentifierError as exc:
        raise Invalid(exc.reason, exc.message, field="code") from None


async def view(credit: Credit, conn: asyncpg.Connection, code: str) -> dict[str, Any]:
    key = entity_key(code)
    e = await entities_db.entity_by_key(conn, key)
    if e is None:
        raise NotFound("unknown_entity", f"no credit record for {key}")
    names = await entities_db.entity_names(conn, e["entity_id"])
    records = await read_models.active_records(conn, e["entity_id"])
    listings = await read_models.active_listings(conn, e["entity_id"])
    now = credit.clock.now()
    rules = [li["rule_id"] for li in listings]
    measures = applicable(credit.book, listing_rules=rules, has_heavy_record=any(r["heavy"] for r in records),
                          today=local_day(now))
    return {
        "entity_id": e["entity_id"], "credit_code": e["credit_code"], "kind": e["kind"],
        "name": published_name(e["kind"], e["name"], party_rule(credit)),  # a person by surname (party_names.yaml)
        "status": "blacklisted" if listings else "has_records" if records else "clear",
        "names": [dict(n) for n in names],
        "records": [dict(r) | {"bureau_name": bureau_display(r["bureau"])} for r in records],
        "listings": [dict(li) | {"authority_name": bureau_display(li["authority"])} for li in listings],
        "measures": [m.__dict__ for m in measures],
        "as_of": now,
    }


async def check(credit: Credit, conn: asyncpg.Connection, codes: list[str], max_codes: int) -> dict[str, Any]:
    if len(codes) > max_codes:
        raise Invalid("too_many_codes", f"at most {max_codes} codes per request, got {len(codes)}", field="codes")
    results: list[dict[str, Any]] = []
    valid: dict[str, int] = {}
    for i, raw in enumerate(codes):
        try:
            code = parse_uscc(raw)
        except IdentifierError as exc:
            results.append({"code": raw, "valid": False, "reason": exc.reason, "detail": exc.message})
            continue
        valid[code] = i
        results.append({"code": code, "valid": True})
    now = credit.clock.now()
    rows = await read_models.status_by_codes(conn, list(valid))
    found = {r["credit_code"]: r for r in rows}
    measures_for: dict[tuple[tuple[str, ...], bool], list[str]] = {}
    listed = with_records = 0
    for item in results:
        if not item["valid"]:
            continue
        r = found.get(item["code"])
        if r is None:
            item.update(known=False, status="clear", listed=False, measures=[])
            continue
        rules = tuple(r["listing_rules"])
        key = (rules, r["has_heavy"])
        if key not in measures_for:
            measures_for[key] = [m.id for m in applicable(credit.book, listing_rules=rules, has_heavy_record=r["has_heavy"],
                                                           today=local_day(now))]
        status = "blacklisted" if rules else "has_records" if r["has_records"] else "clear"
        listed += bool(rules)
        with_records += bool(r["has_records"])
        until = r["listed_until"]
        item.update(known=True, name=r["name"], status=status, listed=bool(rules), listing_rules=list(rules),
                    listed_until=until.isoformat() if until else None, measures=measures_for[key])
    return {"as_of": now.isoformat(), "results": results,
            "summary": {"checked": len(results), "invalid": len(results) - len(valid), "listed": listed,
                        "with_records": with_records}}


class Search:
    """The name search over the index in Postgres (`index` holds its rules), each candidate with
    its current status (cached `SEARCH_STATUS_TTL` seconds, in a bounded map). A query takes one
    connection and one statement, the candidates its rare bigrams select (plus one for the status of
    those not cached): the bigram counts the plan needs come from `counts` (the refresher's
    `GramCounts`, at most one refresh interval old, like the index), or from Postgres while it has
    none loaded."""

    def __init__(self, index: NameIndex, counts: Any = None) -> None:
        self.index = index
        self.counts = counts
        self._status: dict[str, tuple[float, str]] = {}

    async def __call__(self, pool: asyncpg.Pool, q: str, *, limit: int, min_score: float) -> dict[str, Any]:
        candidates: list[dict[str, Any]] = []
        try:
            code = parse_uscc(q)
        except IdentifierError:
            code = None
        counts = self.counts if self.counts is not None and self.counts.version is not None else None
        async with pool.acquire() as conn:
            grams = [] if code is not None else self.index.query_grams(q)
            if counts is not None:
                held = counts.names
                postings, size = {g: held[g] for g in grams if g in held}, counts.entities
            else:
                postings, size = await name_search_db.postings(conn, list(grams))
            if code is not None:
                e = await entities_db.entity_by_key(conn, code)
                if e is not None:
                    candidates.append({"entity_id": e["entity_id"], "credit_code": code, "name": e["name"],
                                       "matched_name": code, "matched_name_kind": "credit_code", "score": 100.0,
                                       "explanation": ["the query is this entity's unified social credit code"]})
            else:
                plan = self.index.plan(q, postings, size)
                found_names = await name_search_db.candidates(conn, plan) if plan is not None else []
                for cand in rank(plan.parts, found_names, limit=limit, min_score=min_score) if plan is not None else ():
                    candidates.append({"entity_id": cand.entity_id, "credit_code": cand.credit_code, "name": cand.name,
                                       "matched_name": cand.matched_name, "matched_name_kind": cand.matched_name_kind,
                                       "score": cand.score, "explanation": list(cand.explanation)})
            if candidates:
                now = time.monotonic()
                missing = [c["entity_id"] for c in candidates if self._status.get(c["entity_id"], (0.0, ""))[0] < now]
                if missing:
                    found = await read_models.status_by_entity_ids(conn, missing)
                    if len(self._status) > _STATUS_CACHE_MAX:
                        self._status.clear()
                    for entity_id, (rules, has_records, _heavy) in found.items():
                        label = "blacklisted" if rules else "has_records" if has_records else "clear"
                        self._status[entity_id] = (now + SEARCH_STATUS_TTL, label)
        for cand in candidates:
            cand["status"] = self._status.get(cand["entity_id"], (0.0, "clear"))[1]
        return {"query": q, "candidates": candidates, "index_size": size}


#: the role a department's key must hold to see a person unmasked (issue 12 §5)
UNMASK_ROLE = "credit:unmask"


async def unmask(credit: Credit, uow: Any, code: str, *, reason: str, actor: str) -> dict[str, Any]:
    """A natural person's (or a trader's operator's) name and resident id, opened for a department that
    holds `UNMASK_ROLE` and gives a reason; the unmasking is appended to the audit log (who, why, which
    fields — never the values) in the same transaction."""
    import json as _json

    from shared import audit
    from shared.contracts.cases import Sealed
    from shared.pii import PiiError

    key = entity_key(code)
    row = await entities_db.person_of(uow.conn, key)
    if row is None:
        raise NotFound("unknown_entity", f"no credit record for {key}")
    sealed = row["person_sealed"]
    sealed = _json.loads(sealed) if isinstance(sealed, str) else (sealed or {})
    opened: dict[str, str | None] = {}
    for field in ("name", "resident_id"):
        if sealed.get(field):
            try:
                opened[field] = credit.keyring.open(Sealed.model_validate(sealed[field]), field=field)
            except PiiError:
                opened[field] = None
    now = credit.clock.now()
    await audit.append(uow.conn, "credit.person-unmasked", row["entity_id"],
                       {"entity_id": row["entity_id"], "credit_code": row["credit_code"], "reason": reason,
                        "fields": sorted(k for k, v in opened.items() if v)}, actor=actor, at=now)
    return {"entity_id": row["entity_id"], "credit_code": row["credit_code"], "kind": row["kind"],
            "name_masked": row["name"], "name": opened.get("name"), "resident_id": opened.get("resident_id"),
            "reason": reason, "unmasked_at": now}
