"""Credit at its edges (issues 12 and 13): keys from the old credit clients store keep working
through the one identity store and a revoked key stops within the bound; an Idempotency-Key
replays only the request it first answered; hostile text, ids, numbers and dates on every route
get a problem document naming the field — never a 5xx, never a record; CSV cells are never
formulas."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from urllib.parse import quote

import pytest

from shared.clock import ManualClock
from shared.db import connect
from shared.identity import store
from tests.support import stack
from tests.support.credit import CODE, CreditWorld, decision, http, types

pytestmark = pytest.mark.stack

UTC = dt.timezone.utc
PROBLEM = "application/problem+json"


def body(d) -> dict:  # noqa: ANN001
    return json.loads(d.model_dump_json())


async def _legacy_client(world: CreditWorld, client_id: str, role: str, secret: str, bureau_type: str | None = None) -> str:
    """A key as the old ``shuangda credit client create`` issued it (sha256 hex of the secret)."""
    conn = await connect(stack.dsn(), world.schema)
    try:
        await conn.execute(
            "INSERT INTO clients (client_id, role, bureau_type, division, name, key_hash) VALUES ($1, $2, $3, $4, $1, $5)",
            client_id, role, bureau_type, world.division if bureau_type else None, hashlib.sha256(secret.encode()).hexdigest())
    finally:
        await conn.close()
    return f"{client_id}.{secret}"


async def test_a_legacy_credit_key_works_after_import_legacy_keys_and_a_revoked_one_is_refused_within_the_bound(unique: str) -> None:
    world = CreditWorld(unique, identity_cache_seconds=1.0)
    await world.create()
    bureau_key = await _legacy_client(world, f"market_regulation-{world.division}", "bureau", "b" * 32, "market_regulation")
    department_key = await _legacy_client(world, f"dept-{unique}", "department", "d" * 32)
    conn = await connect(stack.dsn(), world.identity_schema)
    try:
        imported = await store.import_legacy_keys(conn, {"credit": world.schema})
    finally:
        await conn.close()
    assert imported["credit"] == 2
    async with world.running(ManualClock(dt.datetime(2024, 3, 1, 2, tzinfo=UTC)), scheduler=False) as parts:
        async with http(parts, bureau_key) as client:
            created = await client.post("/v1/penalties", json=body(decision("咸罚〔2024〕L1号", dt.date(2024, 2, 1))))
        assert created.status_code == 201, created.text
        async with http(parts, department_key) as client:
            assert (await client.get(f"/v1/entities/{CODE}")).json()["status"] == "has_records"
            assert (await client.post("/v1/penalties", json=body(decision("咸罚〔2024〕L2号", dt.date(2024, 2, 1))))).status_code == 403
        assert await world.revoke(f"credit-dept-{unique}")
        revoked_at = time.monotonic()

        async def status() -> int:
            async with http(parts, department_key) as client:
                return (await client.get(f"/v1/entities/{CODE}")).status_code

        assert await stack.eventually(status, until=lambda s: s == 401, timeout=10, what="the revoked key refused") == 401
        assert time.monotonic() - revoked_at <= world.settings.identity_cache_seconds + 1.0


async def test_an_idempotency_key_replays_the_first_answer_and_is_refused_with_another_request(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    first = body(decision("咸罚〔2024〕I1号", dt.date(2024, 2, 1)))
    other = body(decision("咸罚〔2024〕I2号", dt.date(2024, 2, 1)))
    async with world.running(ManualClock(dt.datetime(2024, 3, 1, 2, tzinfo=UTC)), scheduler=False) as parts:
        async with http(parts, market, **{"Idempotency-Key": f"k-{unique}"}) as client:
            created = await client.post("/v1/penalties", json=first)
            again = await client.post("/v1/penalties", json=first)
            reused = await client.post("/v1/penalties", json=other)
        async with http(parts, market, **{"Idempotency-Key": "bad key with spaces"}) as client:
            malformed = await client.post("/v1/penalties", json=other)
    assert created.status_code == 201 and again.status_code == 201
    assert again.content == created.content and again.headers["idempotent-replayed"] == "true"
    assert reused.status_code == 409 and reused.headers["content-type"] == PROBLEM
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len(await world.fetch("SELECT 1 FROM records")) == 1


#: hostile text, each refused wherever a text field, path id or query parameter takes it
HOSTILE_TEXT = {
    "nul": "a\u0000b", "esc": "\u001b[31mred", "del": "x\u007f", "c1": "x\u0085y", "crlf": "a\r\nb",
    "rtl_override": "abc\u202edcba", "zero_width": "a\u200bb", "noncharacter": "a\ufdd0", "nonchar_ffff": "a\uffff",
    "lone_surrogate": "a\ud800b", "nfkc_grows": "\u337f" * 1001,  # ㍿ → 株式会社: 1,001 characters, 4,004 after NFKC
}
PATH_IDS = ["%00", "%20", "%0A", "rec-%00", "x" * 5000, "ent-%00"]
TEXT_FIELDS = [("decision_no",), ("party", "name"), ("party", "legal_representative"), ("violation",), ("content",),
               ("case_id",)]


def _with(b: dict, path: tuple[str, ...], value: object) -> dict:
    out = json.loads(json.dumps(b))
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


def _q(text: str) -> str:
    """Percent-encoded as UTF-8 bytes (a lone surrogate as the bytes Python would write for it)."""
    return quote(text, safe="", errors="surrogatepass")


def _raw(b: dict) -> bytes:
    return json.dumps(b, ensure_ascii=True).encode()  # lone surrogates travel as \ud800 escapes


async def test_hostile_values_on_every_credit_route_get_problem_documents_and_never_a_server_error(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    portal = await world.add_client(f"portal-{unique}", "portal")
    platform = await world.add_client(f"platform-{unique}", "platform")
    good = body(decision("咸罚〔2024〕H1号", dt.date(2024, 2, 1)))
    answers: list[tuple[str, object]] = []
    async with world.running(ManualClock(dt.datetime(2024, 3, 1, 2, tzinfo=UTC)), scheduler=False) as parts:
        async with http(parts, market, **{"content-type": "application/json"}) as client:
            for name, value in HOSTILE_TEXT.items():
                for path in TEXT_FIELDS:
                    answers.append((f"{'.'.join(path)}={name}", await client.post("/v1/penalties", content=_raw(_with(good, path, value)))))
                answers.append((f"legal_basis[0]={name}", await client.post(
                    "/v1/penalties", content=_raw(_with(good, ("legal_basis",), [value])))))
                answers.append((f"revoke.reason={name}", await client.post("/v1/penalties:revoke", content=_raw(
                    {"decision_no": "咸罚〔2024〕H1号", "revoked_on": "2024-03-01", "reason": value}))))
                answers.append((f"decide.reason={name}", await client.post(
                    "/v1/applications/app-00000000000000000000:decide", content=_raw({"approve": True, "reason": value}))))
                answers.append((f"check.codes={name}", await client.post("/v1/entities:check", content=_raw({"codes": [value]}))))
                answers.append((f"search.q={name}", await client.get(f"/v1/entities:search?q={_q(value[:200])}")))
                answers.append((f"entity={name}", await client.get(f"/v1/entities/{_q(value[:60])}")))
                answers.append((f"after={name}", await client.get(f"/v1/disclosures?after={_q(value[:200])}")))
            answers.append(("legal_basis 100k", await client.post("/v1/penalties", content=_raw(
                _with(good, ("legal_basis",), ["x" * 100_000])))))
            answers.append(("decided_on 9999", await client.post("/v1/penalties", content=_raw(
                _with(good, ("decided_on",), "9999-12-31")))))
            answers.append(("revoked_on 9999", await client.post("/v1/penalties:revoke", content=_raw(
                {"decision_no": "咸罚〔2024〕H1号", "revoked_on": "9999-12-31", "reason": "撤销"}))))
            for pid in PATH_IDS:
                answers.append((f"GET records/{pid[:10]}", await client.get(f"/v1/records/{pid}")))
                answers.append((f"POST records/{pid[:10]}:disclose", await client.post(f"/v1/records/{pid}:disclose")))
                answers.append((f"GET applications/{pid[:10]}", await client.get(f"/v1/applications/{pid}")))
                answers.append((f"POST applications/{pid[:10]}:decide", await client.post(
                    f"/v1/applications/{pid}:decide", json={"approve": True})))
                answers.append((f"GET entities/{pid[:10]}", await client.get(f"/v1/entities/{pid}")))
            answers.append(("limit huge", await client.get("/v1/disclosures", params={"limit": "9223372036854775808"})))
            answers.append(("search limit huge", await client.get("/v1/entities:search", params={"q": "华泰", "limit": "9223372036854775808"})))
        async with http(parts, portal, **{"content-type": "application/json"}) as client:
            for name, value in HOSTILE_TEXT.items():
                answers.append((f"applicant.name={name}", await client.post("/v1/applications", content=_raw(
                    {"kind": "repair", "target_id": "rec-00000000000000000000", "obligations_met": True,
                     "commitment_signed": True, "applicant": {"name": value}}))))
            answers.append(("target_id %00", await client.post("/v1/applications", content=_raw(
                {"kind": "repair", "target_id": "rec-\u0000", "obligations_met": True, "commitment_signed": True,
                 "applicant": {"name": "x"}}))))
        async with http(parts, platform) as client:
            for since in ("9999-12-31T23:59:59Z", "\u0000", "2024-01-01T00:00:00"):
                answers.append((f"export since={since!r}", await client.get("/v1/exports/platform", params={"since": since})))
        penalty_events = await stack.read_all(world.settings.penalty_topic)
    failures = [(what, r.status_code, r.text[:200]) for what, r in answers  # type: ignore[attr-defined]
                if not (400 <= r.status_code < 500 and r.headers.get("content-type") == PROBLEM)]  # type: ignore[attr-defined]
    assert not failures, failures
    named = [r.json() for what, r in answers if r.status_code == 422 and "=" in what]  # type: ignore[attr-defined]
    assert all(p.get("errors") and all(e.get("field") for e in p["errors"]) for p in named), "every refusal names the field"
    assert not await world.fetch("SELECT 1 FROM records"), "nothing hostile was recorded"
    assert not [e for e in penalty_events if (stack.header(e, "ce_type") or "").endswith("penalty.recorded.v1")]


async def test_the_csv_feed_and_export_never_start_a_cell_with_a_formula(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    platform = await world.add_client(f"platform-{unique}", "platform")
    since = (await world.fetch("SELECT clock_timestamp() AS t"))[0]["t"]
    formula = decision("咸罚〔2024〕F1号", dt.date(2024, 2, 1), violation="=HYPERLINK(\"http://x\")",
                       content="@SUM(A1)", legal_basis=["+1+1", "-2"])
    async with world.running(ManualClock(dt.datetime(2024, 3, 1, 2, tzinfo=UTC))) as parts:
        async with http(parts, market) as client:
            assert (await client.post("/v1/penalties", json=body(formula))).status_code == 201
        await world.events(world.settings.credit_topic, until=lambda e: "credit.record-disclosed" in types(e))
        async with http(parts) as public:
            feed = (await public.get("/v1/disclosures", params={"format": "csv"})).text
            as_json = (await public.get("/v1/disclosures")).json()
        async with http(parts, platform) as client:
            export = (await client.get("/v1/exports/platform", params={"since": since.isoformat(), "format": "csv"})).text
    for text in (feed, export):
        assert "'=HYPERLINK" in text and "'@SUM(A1)" in text and "'+1+1" in text
        cells = [c.strip('"') for line in text.splitlines() for c in line.split(",")]
        assert not any(c.startswith(("=", "+", "@")) for c in cells)
    assert as_json["items"][0]["violation"] == "=HYPERLINK(\"http://x\")", "JSON keeps the text as it is"
