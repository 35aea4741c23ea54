"""Registering the simulated outside world with the services, through the
services' own registration code (what ``shuangda keys create`` calls):

* intake: one principal of the identity store per hotline centre, web form, platform and monitor
  (one that exists already gets a new key, as ``keys rotate`` does),
  and the ingress topic of the monitor, which publishes on Kafka;
* routing and credit: the bureau principals of the identity store (one token per bureau, shared
  by routing's bureau API and credit's, custody's, appraisal's and inspection's);
* appraisal: the appraisal centre, a principal of kind ``appraisal`` acting for itself;
* inspection's lead topic: its keyless principal (``register_kafka_submitter``).

Keys are kept in memory only: only their hashes are stored.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from shared.db import connect
from shared.reference import categories, city, counties, directory
from shared.topics import ensure_topics, ingress


@dataclass
class Keys:
    intake: dict[str, str] = field(default_factory=dict)   # client id → API key
    routing: dict[str, str] = field(default_factory=dict)  # bureau → API key
    credit: dict[str, str] = field(default_factory=dict)   # bureau → API key (the identity store's)
    appraisal: dict[str, str] = field(default_factory=dict)  # appraisal provider → API key


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


async def create_egress_topics(bootstrap: Any, bureaus: list[str], *, prefix: str = "",
                               partitions: int | None = None, replication_factor: int = 1) -> list[str]:
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
    return await ensure_topics(bootstrap, specs, replication_factor=replication_factor)


_ISSUED: dict[tuple[str, str, str], str] = {}


async def principal_tokens(dsn: str, identity_schema: str, wanted: dict[str, Any],
                           label: str = "sim") -> dict[str, str]:
    """One key per principal in the one identity store (shared.identity), as ``shuangda keys create``
    gives them: `wanted` maps principal id → (kind, bureau or None[, scopes]); returns id → token.

    Every service authenticates the same token, so a bureau registered for routing and for credit is
    registered once: a principal already issued in this process returns the same token, and one that
    exists from an earlier run gets a new key (as ``keys rotate`` does)."""
    from shared.db import migrate
    from shared.identity import store

    await migrate(dsn, identity_schema, store.MIGRATIONS, runtime=False)
    out: dict[str, str] = {}
    conn = await connect(dsn, identity_schema)
    try:
        for principal_id, (kind, bureau, *scopes) in wanted.items():
            memo = (dsn, identity_schema, principal_id)
            if memo not in _ISSUED:
                try:
                    issued = await store.create_principal(conn, principal_id, kind, bureau=bureau, label=label,
                                                          scopes=tuple(scopes[0]) if scopes else None)
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


async def register_intake_clients(dsn: str, identity_schema: str, bootstrap: Any, clients: dict[str, str],
                                  kafka_clients: list[str], *, replication_factor: int = 1) -> dict[str, str]:
    """`clients`: id → kind (hotline or platform), registered as principals of the identity store (with
    their kind's scopes, as ``shuangda keys create`` gives them), and the ingress topics of `kafka_clients`
    (`bootstrap`: a bootstrap string or a shared.kafka.KafkaConnection). Returns id → API key."""
    if kafka_clients:
        await ensure_topics(bootstrap, [ingress(c) for c in kafka_clients], replication_factor=replication_factor)
    return await principal_tokens(dsn, identity_schema, {client_id: (kind, None) for client_id, kind in clients.items()})


async def register_bureau_keys(dsn: str, identity_schema: str, bureaus: list[str], label: str) -> dict[str, str]:
    """A key per bureau for routing's bureau API, from the identity store: one principal per bureau
    (``type@division``; kind office, police or procuratorate by its type, else bureau), so the same
    token as credit's. The office also acts on cases (it directs escalated ones): ``cases:act``."""
    from shared.identity.model import DEFAULT_SCOPES

    wanted: dict[str, tuple[str, str | None] | tuple[str, str | None, tuple[str, ...]]] = {}
    for b in bureaus:
        kind = _bureau_kind(b)
        wanted[b] = (kind, b, (*DEFAULT_SCOPES["office"], "cases:act")) if kind == "office" else (kind, b)
    return await principal_tokens(dsn, identity_schema, wanted, label=label)


async def register_credit_bureaus(dsn: str, identity_schema: str, bureaus: list[str]) -> dict[str, str]:
    """A key per bureau for credit, from the identity store: the same principal (``type@division``)
    and so the same token as routing's bureau key."""
    return await principal_tokens(dsn, identity_schema, {b: (_bureau_kind(b), b) for b in bureaus})


async def register_appraisers(dsn: str, identity_schema: str, providers: list[str]) -> dict[str, str]:
    """A key per appraisal provider (kind ``appraisal``: the appraisal centre acting for itself)."""
    return await principal_tokens(dsn, identity_schema, {p: ("appraisal", None) for p in providers})


async def register_kafka_submitter(dsn: str, identity_schema: str, principal_id: str) -> bool:
    """The keyless principal (kind platform, ``leads:write``) that owns an ``ingress.<principal>`` topic a
    service publishes leads on — inspection's, as ``shuangda migrate`` registers ``inspection``
    (deploy/setup_stack.py); idempotent. True when this call registered it."""
    from shared.db import migrate
    from shared.identity import store

    await migrate(dsn, identity_schema, store.MIGRATIONS, runtime=False)
    conn = await connect(dsn, identity_schema)
    try:
        return await store.ensure_keyless_principal(conn, principal_id, "platform", ("leads:write",),
                                                    display_name=f"{principal_id} (Kafka only)")
    finally:
        await conn.close()


def _bureau_kind(bureau: str) -> str:
    btype = bureau.partition("@")[0]
    return {"office": "office", "public_security": "police", "procuratorate": "procuratorate"}.get(btype, "bureau")
