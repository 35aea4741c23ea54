"""Registering the simulated outside world with the services, through the
services' own registration code (what ``shuangda clients create``,
``shuangda bureaus keys create`` and ``shuangda credit client create`` call):

* intake: one API client per hotline centre, web form, platform and monitor
  (a client that exists already gets a new key, as ``clients rotate`` does),
  and the ingress topic of the monitor, which publishes on Kafka;
* routing: an API key per bureau (bureau API: acknowledge, transfer, refer …);
* credit: the bureau principals of the identity store (one token per bureau, shared with routing).

Keys are kept in memory only: only their hashes are stored.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from shared.db import connect
from shared.reference import categories, city, counties, directory
from shared.topics import ensure_topics, ingress


@dataclass
class Keys:
    intake: dict[str, str] = field(default_factory=dict)   # client id → API key
    routing: dict[str, str] = field(default_factory=dict)  # bureau → API key
    credit: dict[str, str] = field(default_factory=dict)   # bureau → API key (the identity store's)


#: intake client kind → scopes (as `shuangda clients create --kind …` gives them)
SCOPES = {"hotline": ["complaints:write", "complaints:read"], "platform": ["leads:write"]}


def all_bureaus(day: dt.date) -> list[str]:
    """Every bureau that may be handed work on `day`: each active bureau type at the city and in each county."""
    view = directory(at=day)
    types = sorted(view.active_bureaus())
    places = [city().code] + [c.code for c in counties()]
    return [f"{t}@{p}" for t in types for p in places]


def likely_bureaus(day: dt.date) -> list[str]:
    """The bureaus cases can reach on `day`: every category's lead and co-operating bureau
    type, the police, the procuratorate and the office, at the city and in each county."""
    view = directory(at=day)
    types = {"public_security", "procuratorate", "office"}
    for c in categories():
        bureaus = view.bureaus_for(c)
        types.add(bureaus.lead)
        types.update(bureaus.cooperating)
    types = {view.resolve(t) for t in types}
    places = [city().code] + [c.code for c in counties()]
    return [f"{t}@{p}" for t in sorted(types) for p in places]


async def create_egress_topics(bootstrap: str, bureaus: list[str], *, prefix: str = "",
                               partitions: int | None = None) -> list[str]:
    """Create the bureaus' ``egress.<bureau>`` topics up front, in one request (routing creates a
    missing one inline, one broker round trip per bureau, while it holds up its consumer)."""
    from dataclasses import replace

    from shared.topics import egress

    specs = []
    for bureau in bureaus:
        spec = egress(bureau)
        spec = replace(spec, name=prefix + spec.name)
        if partitions is not None:
            spec = spec.with_partitions(partitions)
        specs.append(spec)
    return await ensure_topics(bootstrap, specs)


_ISSUED: dict[tuple[str, str, str], str] = {}


async def principal_tokens(dsn: str, identity_schema: str, wanted: dict[str, tuple[str, str | None]],
                           label: str = "sim") -> dict[str, str]:
    """One key per principal in the one identity store (shared.identity), as ``shuangda keys create``
    gives them: `wanted` maps principal id → (kind, bureau or None); returns id → token.

    Every service authenticates the same token, so a bureau registered for routing and for credit is
    registered once: a principal already issued in this process returns the same token, and one that
    exists from an earlier run gets a new key (as ``keys rotate`` does)."""
    from shared.db import migrate
    from shared.identity import store

    await migrate(dsn, identity_schema, store.MIGRATIONS, runtime=False)
    out: dict[str, str] = {}
    conn = await connect(dsn, identity_schema)
    try:
        for principal_id, (kind, bureau) in wanted.items():
            memo = (dsn, identity_schema, principal_id)
            if memo not in _ISSUED:
                try:
                    issued = await store.create_principal(conn, principal_id, kind, bureau=bureau, label=label)
                except store.PrincipalExists:
                    rotated = await store.rotate_key(conn, principal_id, label)
                    if rotated is None:
                        raise RuntimeError(f"principal {principal_id} exists but is revoked; choose another namespace")
                    issued = rotated
                _ISSUED[memo] = issued.token
            out[principal_id] = _ISSUED[memo]
    finally:
        await conn.close()
    return out


async def register_intake_clients(dsn: str, schema: str, bootstrap: str, clients: dict[str, str],
                                  kafka_clients: list[str]) -> dict[str, str]:
    """`clients`: id → kind. Returns id → API key."""
    from services.intake.adapters import postgres as intake_db
    from services.intake.wiring import MIGRATIONS
    from shared.db import migrate

    await migrate(dsn, schema, MIGRATIONS)
    if kafka_clients:
        await ensure_topics(bootstrap, [ingress(c) for c in kafka_clients])
    conn = await connect(dsn, schema)
    out: dict[str, str] = {}
    try:
        for client_id, kind in clients.items():
            try:
                out[client_id] = await intake_db.create_client(conn, client_id, kind, SCOPES[kind])
            except intake_db.ClientExists:
                key = await intake_db.rotate_client_key(conn, client_id)
                if key is None:
                    raise RuntimeError(f"intake client {client_id} exists but is revoked; choose another namespace")
                out[client_id] = key
    finally:
        await conn.close()
    return out


async def register_bureau_keys(dsn: str, schema: str, bureaus: list[str], label: str) -> dict[str, str]:
    from services.routing.adapters import keys as routing_keys
    from services.routing.__main__ import MIGRATIONS
    from shared.db import migrate

    await migrate(dsn, schema, MIGRATIONS)
    conn = await connect(dsn, schema)
    try:
        out: dict[str, str] = {}
        async with conn.transaction():
            for bureau in bureaus:
                out[bureau] = (await routing_keys.create_key(conn, bureau, label)).token
        return out
    finally:
        await conn.close()


async def register_credit_bureaus(dsn: str, identity_schema: str, bureaus: list[str]) -> dict[str, str]:
    """A key per bureau for credit, from the identity store: the same principal (``type@division``)
    and so the same token as routing's bureau key."""
    return await principal_tokens(dsn, identity_schema, {b: (_bureau_kind(b), b) for b in bureaus})


def _bureau_kind(bureau: str) -> str:
    btype = bureau.partition("@")[0]
    return {"office": "office", "public_security": "police", "procuratorate": "procuratorate"}.get(btype, "bureau")
