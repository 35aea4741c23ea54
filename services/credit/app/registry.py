"""Registrations into the entity registry (登记), by the registration authority: one request in one
transaction — the audit chain's lock, the batch's codes read at once, the changes written in one
statement, one `entity-registered` event per new or changed registration (key: the credit code),
and one audit entry for the request."""
from __future__ import annotations

from typing import Any

from shared import audit
from shared.contracts.credit import EntityRegistered
from shared.reference import city
from shared.runtime import UnitOfWork

from services.credit.adapters.postgres import registry as registry_db
from services.credit.app.context import Credit
from services.credit.app.disclosure import party_rule
from services.credit.app.errors import Invalid, NotAllowed
from services.credit.domain.disclosure import published_name
from services.credit.domain.model import Bureau
from services.credit.domain.registry import Registration, changes, in_division

#: the registration authority's bureau type (《市场主体登记管理条例》第五条)
REGISTRATION_AUTHORITY = "market_regulation"


async def register(credit: Credit, uow: UnitOfWork, bureau: Bureau, asked: list[Registration]) -> dict[str, Any]:
    if bureau.bureau_type != REGISTRATION_AUTHORITY:
        raise NotAllowed("not_registration_authority", f"{bureau.id} is not a registration authority ({REGISTRATION_AUTHORITY})")
    the_city = city()
    codes = (*the_city.city_level_codes, the_city.code)
    for i, r in enumerate(asked):
        if not in_division(r.county, bureau.division, city_codes=codes):
            raise Invalid("outside_division", f"{r.county} is not in {bureau.division}: a county's bureau registers "
                                              "enterprises of its own county", field=f"entries[{i}].county")
    await audit.lock(uow.conn)
    kept = await registry_db.registrations(uow.conn, sorted({r.credit_code for r in asked}))
    changed, same = changes([Registration(r.credit_code, r.kind, r.name, r.county, r.categories, r.status, bureau.id)
                             for r in asked], kept)
    now = credit.clock.now()
    await registry_db.save(uow.conn, changed, now)
    rule = party_rule(credit)
    for r in changed:
        uow.emit(credit.topics.credit, EntityRegistered(
            credit_code=r.credit_code, name=published_name(r.kind, r.name, rule), kind=r.kind, county=r.county,  # type: ignore[arg-type]
            categories=list(r.categories), status=r.status, version=r.version, registered_by=bureau.id,  # type: ignore[arg-type]
            changed_at=now), key=r.credit_code)
    new = sum(1 for r in changed if r.version == 1)
    await audit.append(uow.conn, "credit.entities-registered", bureau.id,
                       {"new": new, "changed": len(changed) - new, "unchanged": same,
                        "codes": [r.credit_code for r in changed]}, actor=uow.actor, at=now)
    return {"registered": new, "changed": len(changed) - new, "unchanged": same}
