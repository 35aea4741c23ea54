"""A complaint's description as given is kept only sealed; what may be read is the masked summary
(issue 12 §3: "seal the original and keep only the masked copy readable")."""
from __future__ import annotations

import json
import unicodedata

import pytest

from shared.contracts.cases import Sealed
from shared import vault
from shared.db import connect
from shared.pii import Keyring, PiiError, is_data_key_id
from tests.support import stack
from tests.support.intake import IntakeWorld, running_intake

pytestmark = pytest.mark.stack

PHONE = "13987654321"


def complaint(description: str, source_id: str) -> dict:
    return {"source_id": source_id, "category": "cosmetics", "county": "610403", "suspect": {"name": "杨陵某化妆品店"},
            "description": description, "complainant": {"name": "王五", "phone": "13800138000"}}


async def test_a_description_with_a_personal_number_is_stored_masked_to_read_and_sealed_in_full(unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    key = await world.add_client("hotline", "hotline", ["complaints:write", "complaints:read"], topic=False)
    planted = "139.8765.4321"  # a form the masking must recognise
    description = f"买到假冒化妆品，请打 {planted} 找我（王五，住杨陵区康乐路12号）。" + "详细经过：" + "很" * 600
    async with running_intake(world, consume=False) as svc:
        answer = await svc.http.post("/v1/complaints", json=complaint(description, f"sd-{unique}"),
                                     headers={"X-API-Key": key})
        assert answer.status_code == 201, answer.text
        clean = await svc.http.post("/v1/complaints", json=complaint("买到假冒化妆品", f"sd2-{unique}"),
                                    headers={"X-API-Key": key})
        assert clean.status_code == 201, clean.text
    rows = {r["source_id"]: r for r in await world.fetch(
        "SELECT source_id, summary, description_sealed::text AS sealed, row_to_json(reports)::text AS whole FROM reports")}
    row = rows[f"sd-{unique}"]
    assert "8765" not in row["summary"].replace("4321", "") and len(row["summary"]) <= 500
    assert PHONE not in row["whole"] and planted not in row["whole"], "the number is nowhere in the row in clear"
    assert "康乐路" not in row["whole"].replace(row["summary"], ""), "the rest of the original only sealed"
    sealed = Sealed.model_validate(json.loads(row["sealed"]))
    assert is_data_key_id(sealed.kid), "sealed with the complainant's own data key (crypto-shredding)"
    conn = await connect(stack.dsn(), vault.SCHEMA)
    try:
        opener = await vault.opener(conn, Keyring.development(), [sealed])
    finally:
        await conn.close()
    opened = opener.open(sealed, field="description")
    assert opened == unicodedata.normalize("NFKC", description), "the original (as cleaned: NFKC) opens, whole"
    with pytest.raises(PiiError):
        opener.open(sealed, field="summary")  # bound to its field
    assert rows[f"sd2-{unique}"]["sealed"] is None, "a description the summary shows whole is not kept twice"
    outbox = " ".join(bytes(r["payload"]).decode() for r in await world.fetch("SELECT payload FROM outbox"))
    assert "description_sealed" not in outbox and sealed.ciphertext not in outbox, "the original is never published"
    assert PHONE not in outbox and planted not in outbox
