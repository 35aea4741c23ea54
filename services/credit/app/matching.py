"""Entity matching: which registry entry a decision's party is (by credit code, by the person's
keyed hash, by exact normalised name among entities without a code), within a decision batch.
An entity first seen without a code takes the code when a decision names both; a rename keeps
the old name as a former name. One person may be several entities (their own, and each
个体工商户 they run under its own code). No SQL: the batch read the candidates and writes the rows."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from shared.contracts.credit import EntityIdentified

from services.credit.adapters.postgres import entities as entities_db
from services.credit.adapters.postgres import new_id
from services.credit.app.context import EntityState, local_day
from services.credit.domain.disclosure import public_party

if TYPE_CHECKING:
    from services.credit.app.decisions import DecisionBatch
    from services.credit.app.context import Item, PartyKeys


def change(b: "DecisionBatch", e: EntityState, now: dt.datetime) -> entities_db.EntityChange:
    ch = b.changes.setdefault(e.entity_id, entities_db.EntityChange(e.entity_id))
    ch.updated_at = now
    ch.bumps += 1
    return ch


def resolve(b: "DecisionBatch", item: Item, p: PartyKeys, now: dt.datetime, source: str) -> EntityState:
    """The registry entry of the party: by credit code, else by the person's hash, else by exact
    (normalised) name among entities without a code. An entity first seen without a code takes
    the code when a decision names both (``credit.entity-identified``). One person may be
    several entities (their own, and each 个体工商户 they run under its own code)."""
    party = p.party
    if party.credit_code:
        entity = b.by_code.get(party.credit_code)
        if entity is not None:
            if party.kind != "natural_person" and b.c.normalise(entity.name) != b.c.normalise(party.name):
                rename(b, entity, party.name, p.name_key, now, source)
            return entity
        found = codeless_by_name(b, p.name_key, party.kind)
        if found is None and p.person_hash:
            found = next((e for e in b.by_person.get(p.person_hash, ()) if e.credit_code is None), None)
        if found is not None:
            take_code(b, found, party.credit_code, now)
            key = party.credit_code
            b.emit(item, b.c.topics.credit, EntityIdentified(
                entity_id=found.entity_id, credit_code=key, name=found.name,
                matched_on=p.name_key if not p.name_key.startswith("person:") else "resident ID", identified_at=now,
            ), key=key)
            b.audit(item, "credit.entity-identified", key, {"entity_id": found.entity_id, "credit_code": key,
                                                                "matched_on": "name" if found.name else "person"}, now)
            return found
        return create(b, p, party.credit_code, now, source)
    if p.person_hash:
        # the person's own codeless entry (same kind first); never one of the coded entities (traders)
        # they run: which of several would be a guess
        codeless = [e for e in b.by_person.get(p.person_hash, ()) if e.credit_code is None]
        entity = next((e for e in codeless if e.kind == party.kind), codeless[0] if codeless else None)
        return entity if entity is not None else create(b, p, None, now, source)
    entity = codeless_by_name(b, p.name_key, party.kind)
    return entity if entity is not None else create(b, p, None, now, source)


def codeless_by_name(b: "DecisionBatch", name_key: str, kind: str) -> EntityState | None:
    return next((e for e in b.codeless.get((name_key, kind), ()) if e.credit_code is None), None)


def create(b: "DecisionBatch", p: PartyKeys, code: str | None, now: dt.datetime, source: str) -> EntityState:
    party = p.party
    rule = b.c.book.party_names.at(local_day(now))  # what may be shown of a person (rules/party_names.yaml)
    display = public_party(kind=party.kind, credit_code=party.credit_code, name=party.name, legal_representative=None,
                           resident_id=None, rule=rule)["name"]
    sealed = None
    if party.resident_id:
        sealed = {"resident_id": b.c.keyring.seal(party.resident_id, field="resident_id").model_dump(mode="json")}
    if display != party.name:  # a person's own name (a natural person's, a trader's known by it): only sealed
        sealed = (sealed or {}) | {"name": b.c.keyring.seal(party.name, field="name").model_dump(mode="json")}
    masked = public_party(kind=party.kind, credit_code=None, name=party.name, legal_representative=None,
                          resident_id=party.resident_id, rule=rule)["resident_id_masked"]
    e = EntityState(new_id("ent"), code, party.kind, display, p.name_key, p.person_hash, now)
    b.new_entities.append({
        "entity_id": e.entity_id, "credit_code": code, "kind": party.kind, "name": display, "name_key": p.name_key,
        "person_hash": p.person_hash, "person_sealed": sealed, "person_masked": masked, "first_seen_at": now,
        "updated_at": now,
    })
    b.registered_row[e.entity_id] = len(b.names)
    b.names.append([e.entity_id, display, "registered", now, None, source])
    b.index(e)
    return e


def take_code(b: "DecisionBatch", e: EntityState, code: str, now: dt.datetime) -> None:
    e.credit_code = code
    b.by_code[code] = e
    change(b, e, now).credit_code = code


def rename(b: "DecisionBatch", e: EntityState, new_name: str, name_key: str, now: dt.datetime, source: str) -> None:
    """The registered name changed: the old one becomes a former name (name history)."""
    at = b.registered_row.get(e.entity_id)
    if at is None:
        b.retired.append((e.entity_id, now))
    else:
        b.names[at][2], b.names[at][4] = "former", now
    b.registered_row[e.entity_id] = len(b.names)
    b.names.append([e.entity_id, new_name, "registered", now, None, source])
    e.name, e.name_key = new_name, name_key
    ch = change(b, e, now)
    ch.name, ch.name_key = new_name, name_key
