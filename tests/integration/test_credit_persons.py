"""Natural persons in credit's views (issue 12 §5): a 个体工商户 known by its operator's own name
is shown with the surname only, in the public feed (JSON and CSV), the platform export and the
department's entity view; the name itself is kept only sealed."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from shared.clock import ManualClock
from shared.contracts.cases import Sealed
from shared.pii import Keyring
from sim.population import credit_code
from sim.scenario import stable_random
from tests.support.credit import CreditWorld, decision, http, types

pytestmark = pytest.mark.stack

UTC = dt.timezone.utc


def body(d) -> dict:  # noqa: ANN001
    return json.loads(d.model_dump_json())


async def test_a_trader_known_by_its_operator_s_name_is_masked_in_every_view_and_kept_sealed(unique: str) -> None:
    code = credit_code(stable_random("trader", unique), "610402")
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    department = await world.add_client(f"dept-{unique}", "department")
    platform = await world.add_client(f"platform-{unique}", "platform")
    trader = decision("咸罚〔2024〕T1号", dt.date(2024, 2, 1), code=code, category="false_advertising",
                      party={"kind": "individual_trader", "credit_code": code, "name": "欧阳娜娜",
                             "legal_representative": "欧阳娜娜"})
    async with world.running(ManualClock(dt.datetime(2024, 2, 5, 2, tzinfo=UTC))) as parts:
        async with http(parts, market) as client:
            created = await client.post("/v1/penalties", json=body(trader))
            assert created.status_code == 201, created.text
        await world.events(world.settings.credit_topic, until=lambda e: "credit.record-disclosed" in types(e))
        async with http(parts) as public:
            feed = (await public.get("/v1/disclosures")).json()
            csv_text = (await public.get("/v1/disclosures", params={"format": "csv", "labels": "zh"})).text
        async with http(parts, platform) as client:
            export = (await client.get("/v1/exports/platform", params={"since": "2024-01-01T00:00:00Z"})).text
        async with http(parts, department) as client:
            view = (await client.get(f"/v1/entities/{code}")).json()
    [item] = feed["items"]
    assert item["party_name"] == "欧***" and item["legal_representative"] == "欧***"
    for text in (csv_text, export, json.dumps(view, ensure_ascii=False)):
        assert "欧阳娜娜" not in text and "欧***" in text
    assert view["name"] == "欧***"
    [row] = await world.fetch("SELECT person_sealed FROM entities")
    sealed = Sealed.model_validate(row["person_sealed"]["name"])
    assert Keyring.development().open(sealed, field="name") == "欧阳娜娜", "the name is kept, sealed"


async def test_a_department_with_the_unmask_role_and_a_reason_sees_the_person_and_the_audit_log_says_so(
        unique: str) -> None:
    from shared import audit
    from shared.db import connect
    from tests.support import identity, stack

    code = credit_code(stable_random("unmask", unique), "610402")
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    plain = await world.add_client(f"dept-{unique}", "department")
    allowed = await identity.issue_key(world.identity_schema, f"dept-u-{unique}", "platform", scopes=("credit:read",),
                                       roles=("credit:department", "credit:unmask"))
    person = decision("咸罚〔2024〕U1号", dt.date(2024, 2, 1), code=code, category="false_advertising",
                      party={"kind": "individual_trader", "credit_code": code, "name": "欧阳娜娜",
                             "resident_id": "11010519491231002X"})
    async with world.running(ManualClock(dt.datetime(2024, 2, 5, 2, tzinfo=UTC)), scheduler=False) as parts:
        async with http(parts, market) as client:
            assert (await client.post("/v1/penalties", json=body(person))).status_code == 201
        async with http(parts, plain) as client:
            refused = await client.post(f"/v1/entities/{code}:unmask", json={"reason": "联合惩戒核查 2024-17"})
        async with http(parts, allowed) as client:
            no_reason = await client.post(f"/v1/entities/{code}:unmask", json={"reason": ""})
            shown = await client.post(f"/v1/entities/{code}:unmask", json={"reason": "联合惩戒核查 2024-17"})
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    assert no_reason.status_code == 422
    assert shown.status_code == 200, shown.text
    assert shown.json()["name"] == "欧阳娜娜" and shown.json()["resident_id"] == "11010519491231002X"
    assert shown.json()["name_masked"] == "欧***"
    conn = await connect(stack.dsn(), world.schema)
    try:
        entries = await audit.entries(conn, shown.json()["entity_id"])
        [entry] = [e for e in entries if e.kind == "credit.person-unmasked"]
        assert entry.actor == f"dept-u-{unique}" and "联合惩戒核查 2024-17" in entry.body
        assert "欧阳娜娜" not in entry.body and "11010519491231002X" not in entry.body, "the audit names fields, not values"
    finally:
        await conn.close()
