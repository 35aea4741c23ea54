"""Issue 12's planted-PII search (§3, done-when): personal data planted in every format a person may type
it is nowhere in clear — not in the broker's segment files, not in any service's log, not in Postgres's
data files after a CHECKPOINT — while the same search does find the case id in each of the three places.

Each format gets a mobile number of its own, unique to the run, in the complaint's description and (when
the phone field takes that form) in the complainant's phone; each complainant also has a name (repeated in
the description) and an identity number (valid check character) of their own. The search looks for every number as digits only
and as it was typed, once the case has gone all the way: assigned on routing's lane, copied to the
bureau's egress topic, and notified by notify.
"""
from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Callable

import pytest

from shared.identifiers import IdentifierError, parse_phone, resident_id_check_character
from shared.topics import egress
from sim.api import call
from sim.scenario import stable_random
from tests.e2e.conftest import E2E
from tests.support import stack

pytestmark = pytest.mark.stack

BUREAU = "market_regulation@610402"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

#: every way of typing a mobile number the issue names (the plain ones and the five that once leaked)
PHONE_FORMS: dict[str, Callable[[str], str]] = {
    "plain": lambda p: p,
    "dashed": lambda p: f"{p[:3]}-{p[3:7]}-{p[7:]}",
    "plus86_spaced": lambda p: f"+86 {p[:3]} {p[3:7]} {p[7:]}",
    "full_width": lambda p: p.translate(FULL_WIDTH),
    "0086": lambda p: f"0086{p}",
    "dotted": lambda p: f"{p[:3]}.{p[3:7]}.{p[7:]}",
    "em_dashes": lambda p: f"{p[:3]}\u2014{p[3:7]}\u2014{p[7:]}",
    "digit_by_digit": lambda p: " ".join(p),
}


def _phone(rng: Any) -> str:
    return "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))


def _id_number(rng: Any) -> str:
    first17 = (f"610402{rng.randrange(1950, 2005)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
               f"{rng.randrange(1000):03d}")
    return first17 + resident_id_check_character(first17)


def _name(rng: Any) -> str:
    return "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(3))


def _files_containing(paths: list[Path], needles: list[bytes]) -> list[str]:
    hits = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:  # a segment deleted (rolled, compacted) while we looked
            continue
        hits += [f"{path}: {needle.decode()!r}" for needle in needles if needle in data]
    return hits


def _kafka_segments(data_dir: Path, unique: str) -> list[Path]:
    """The data files (``*.log``; the sparse ``.index`` files hold offsets only) of every partition of
    the stack's own topics: case topics and lanes, egress, ingress, notification status, dead letters."""
    return [Path(d) / f for d, _, files in os.walk(data_dir, onerror=lambda _e: None)
            if unique in Path(d).name for f in files if f.endswith(".log")]


async def _relation_files(e2e: E2E, pg_data: Path) -> list[Path]:
    """Every file of every table, index, TOAST table and TOAST index of the stack's schemas and of the
    key store (``vault``), segments past the first gigabyte included."""
    s = e2e.iso.schemas
    schemas = [s.intake, s.routing, s.notify, s.credit, s.identity, s.custody, s.appraisal, s.inspection, "vault"]
    rows = await e2e.sql(
        """WITH own AS (SELECT c.oid, c.reltoastrelid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = ANY($1::text[])),
                toast AS (SELECT reltoastrelid AS oid FROM own WHERE reltoastrelid <> 0),
                rels AS (SELECT oid FROM own UNION SELECT oid FROM toast
                         UNION SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT oid FROM toast))
           SELECT pg_relation_filepath(oid) AS path FROM rels WHERE pg_relation_filepath(oid) IS NOT NULL""",
        schemas)
    files: list[Path] = []
    for row in rows:
        first = pg_data / row["path"]
        files += [p for p in [first, *first.parent.glob(first.name + ".[0-9]*")] if p.is_file()]
    return files


async def test_personal_data_planted_in_every_format_is_nowhere_in_clear_while_the_case_id_is_found(e2e: E2E) -> None:
    kafka_data, pg_data = stack.local_kafka_data(), stack.local_pg_data()
    if kafka_data is None:
        pytest.skip("the broker is external: its segment files are not on this machine")
    if pg_data is None:
        pytest.skip("Postgres is external: its data files are not on this machine")
    assert kafka_data.is_dir() and (pg_data / "base").is_dir(), "the launcher's own broker and Postgres keep their data here"

    rng = stable_random("planted-pii", e2e.iso.unique)
    planted: list[tuple[str, dict[str, Any]]] = []  # (what, complaint body)
    needles: list[bytes] = []
    described_phones: list[str] = []  # the phones written into a description
    for form, typed in [*PHONE_FORMS.items(), ("id_glued_to_letters", None)]:
        phone, name, id_number = _phone(rng), _name(rng), _id_number(rng)
        if typed is None:  # an identity number glued to letters, in the description
            glued = _id_number(rng)
            written = f"ID{glued}"
            needles += [glued.encode(), written.encode()]
        else:
            written = typed(phone)
            described_phones.append(phone)
        try:
            given_phone = written if typed is not None and parse_phone(written) == phone else phone
        except IdentifierError:  # a form the phone field refuses (dots): the description alone carries it
            given_phone = phone
        needles += [phone.encode(), written.encode(), given_phone.encode(), name.encode(), id_number.encode()]
        planted.append((form, {
            "source_id": e2e.source_id("pii"), "kind": "complaint", "channel": "hotline", "category": "trademarks",
            "county": "610402", "description": f"买到假冒的运动鞋，请打{written}找{name}",
            "suspect": {"credit_code": (code := e2e.new_code()), "name": f"咸阳{code[-6:]}商贸有限公司"},
            "complainant": {"name": name, "phone": given_phone, "id_number": id_number},
            "figures": {"sales": "899.00", "pieces": 1},
        }))
    needles = sorted(set(needles))
    # what the masking leaves readable of each phone in a description (its last 4 digits): found, it shows
    # the search reads the descriptions' text where it lies (not compressed, not only sealed)
    masked = [("*" * 7 + phone[-4:]).encode() for phone in described_phones]

    async def file(form: str, body: dict[str, Any]) -> str:
        answer = await call(e2e.http, "POST", f"{e2e.iso.url('intake')}/v1/complaints",
                            token=e2e.keys.intake[e2e.hotline], json=body, idempotency_key=body["source_id"])
        assert answer.status == 201, (form, answer.body)
        return str(answer.body["case_id"])

    case_ids = await asyncio.gather(*(file(form, body) for form, body in planted))
    assert len(set(case_ids)) == len(planted), "one case per planted form"
    keys = {c.encode() for c in case_ids}

    # all the way through: assigned on routing's lane, copied to the bureau's egress topic, notified
    def assigned(records: list[Any]) -> bool:
        return keys <= {r.key for r in records if b"case.assigned" in (stack.header(r, "ce_type") or "").encode()}

    await stack.eventually(lambda: stack.read_lanes(e2e.topic("case.routing")), until=assigned, timeout=60,
                           interval=0.5, what="case.assigned of every planted case on routing's topic")
    egress_topic = f"t{e2e.iso.unique}.{egress(BUREAU).name}"
    await stack.eventually(lambda: stack.read_all(egress_topic), until=lambda rs: keys <= {r.key for r in rs},
                           timeout=60, interval=0.5, what="every planted case on the bureau's egress topic")

    async def notices() -> list[Any]:
        return await e2e.sql(f'SELECT case_id FROM "{e2e.iso.schemas.notify}".deliveries WHERE case_id = ANY($1::text[])'
                             " AND event_type = 'shuangda.case.assigned.v1' AND state = 'delivered'", case_ids)

    await stack.eventually(notices, until=lambda rows: {r["case_id"] for r in rows} >= set(case_ids), timeout=60,
                           interval=0.5, what="notify's delivered case.assigned notices of every planted case")

    await e2e.sql("CHECKPOINT")  # the shared buffers written to the data files
    segments = _kafka_segments(kafka_data, e2e.iso.unique)
    logs = [p for p in e2e.log_dir.rglob("*") if p.is_file()]
    relations = await _relation_files(e2e, pg_data)
    control = [case_ids[0].encode()]
    assert segments and logs and relations
    for place, paths in (("the broker's segments", segments), ("the services' logs", logs),
                         ("Postgres's data files", relations)):
        found = await asyncio.to_thread(_files_containing, paths, needles)
        assert found == [], f"personal data in clear in {place}: {found[:20]}"
        assert await asyncio.to_thread(_files_containing, paths, control), f"the control search finds the case id in {place}"
        if place != "the services' logs":  # the masked copy is what travels and is stored
            seen = await asyncio.to_thread(_files_containing, paths, masked)
            assert {hit.rsplit(": ", 1)[1] for hit in seen} == {repr(m.decode()) for m in masked}, place
