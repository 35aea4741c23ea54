"""Custody's deadlines on the real database and broker (issue 15 §1): the police opening a case
(routing's `referral.lifecycle`) starts the goods' hand-over deadline (Order 310 第十二条, 3 days);
perishable goods have a local-policy disposal period; each raises approaching, then breached,
once — unless the act it requires happened."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from shared.clock import ManualClock
from shared.contracts.cases import Suspect
from shared.contracts.referral import ReferralAccepted
from tests.support import stack
from tests.support.custody import CustodyWorld

pytestmark = pytest.mark.stack

ITEMS = [{"description": "假冒运动鞋", "quantity": "120", "unit": "双", "declared_value": "36000.00"}]
START = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc)


async def register(world: CustodyWorld, http: Any, bureau: dict[str, str], case: str, hazard: str = "ordinary") -> str:
    await world.open_case(case)  # routing assigned the case to the world's bureau
    r = await http.post("/v1/lots", json={"case_id": case, "hazard": hazard, "location": "市公物仓 B-01", "items": ITEMS},
                        headers=bureau)
    assert r.status_code == 201, r.text
    return r.json()["lot_id"]


async def deadlines(http: Any, lot_id: str, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in (await http.get(f"/v1/lots/{lot_id}", headers=headers)).json()["deadlines"]}


async def test_goods_not_handed_to_the_police_in_three_days_and_stale_perishables_are_reported_once(unique: str) -> None:
    world = CustodyWorld(unique)
    await world.create()
    bureau = await world.key("bureau", "market_regulation")
    police_id = world.bureau("public_security")
    police = await world.key("police", "public_security")
    clock = ManualClock(START)
    case = f"case-{unique}"
    async with world.running(clock) as (http, _parts):
        kept = await register(world, http, bureau, case)            # stays with the bureau: breached
        handed = await register(world, http, bureau, case)          # the police receive it: met
        fruit = await register(world, http, bureau, f"fruit-{unique}", hazard="perishable")
        assert set(await deadlines(http, fruit, bureau)) == {"perishable_disposal"}
        assert (await deadlines(http, fruit, bureau))["perishable_disposal"]["local_policy"] is True

        accepted = ReferralAccepted(case_id=case, referral_id=f"ref-{unique}", state="accepted", agency=world.bureau(),
                                    police=police_id, at=START, category="trademarks",
                                    suspect=Suspect(name="某某贸易商行"), after="transfer")
        await stack.produce(world.settings.referral_topic,
                            [stack.event_record(accepted, type=accepted.EVENT_TYPE, key=case)])
        found = await stack.eventually(lambda: deadlines(http, kept, bureau), until=lambda d: "police_handover" in d,
                                       what="the hand-over deadline from the police's opening")
        assert found["police_handover"]["rule_id"] == "transfer_handover"
        assert found["police_handover"]["due_at"] == "2026-12-10T15:59:59.999999+00:00"
        late = await register(world, http, bureau, case)            # registered after the opening: counted from it
        assert (await deadlines(http, late, bureau))["police_handover"]["due_at"] == found["police_handover"]["due_at"]

        assert (await http.post(f"/v1/lots/{handed}/handovers", json={"to": police_id, "purpose": "police"},
                                headers=bureau)).status_code == 200
        assert (await http.post(f"/v1/lots/{handed}:receive", headers=police)).status_code == 200
        assert (await deadlines(http, handed, bureau))["police_handover"]["state"] == "met"

        clock.advance(dt.timedelta(days=3, hours=12))        # within the last day: approaching
        await stack.eventually(lambda: deadlines(http, kept, bureau),
                               until=lambda d: d["police_handover"]["approaching_sent"], what="approaching")
        clock.advance(dt.timedelta(days=6))                   # past both periods
        await stack.eventually(lambda: deadlines(http, fruit, bureau),
                               until=lambda d: d["perishable_disposal"]["breached_sent"], what="perishable breached")
        await stack.eventually(lambda: deadlines(http, late, bureau),
                               until=lambda d: d["police_handover"]["breached_sent"], what="police breached")

        def kinds(records: list[Any]) -> list[tuple[str, str]]:
            return sorted((stack.header(r, "ce_type") or "", json.loads(r.value)["lot_id"]) for r in records
                          if "deadline" in (stack.header(r, "ce_type") or ""))

        records = await stack.eventually(lambda: stack.read_all(world.settings.custody_topic),
                                         until=lambda rs: len(kinds(rs)) >= 5, what="the deadline events")
        assert kinds(records) == sorted([
            ("shuangda.custody.deadline-approaching.v1", kept), ("shuangda.custody.deadline-breached.v1", kept),
            ("shuangda.custody.deadline-approaching.v1", late), ("shuangda.custody.deadline-breached.v1", late),
            ("shuangda.custody.deadline-breached.v1", fruit)]), "once each, none for the goods the police received"
        breached = next(json.loads(r.value) for r in records if stack.header(r, "ce_type") == "shuangda.custody.deadline-breached.v1"
                        and json.loads(r.value)["lot_id"] == fruit)
        assert breached["deadline"]["local_policy"] is True and breached["deadline"]["kind"] == "perishable_disposal"


async def test_two_watches_at_once_raise_each_breach_exactly_once(unique: str) -> None:
    import asyncio

    from services.custody.app.deadlines import deadline_event
    from shared.db import connect
    from shared.deadline_watch import DeadlineWatch

    world = CustodyWorld(unique)
    await world.create()
    bureau = await world.key("bureau", "market_regulation")
    clock = ManualClock(START)
    async with world.running(clock) as (http, _parts):
        lots = [await register(world, http, bureau, f"fruit-{unique}-{n}", hazard="perishable") for n in range(5)]
    s = world.settings
    watches = [DeadlineWatch(service="custody", schema=s.schema, dsn=s.dsn, clock=clock, topic=s.custody_topic,
                             event=deadline_event) for _ in range(2)]
    conns = [await connect(s.dsn, s.schema) for _ in range(2)]
    try:
        clock.advance(dt.timedelta(days=30))
        first = await asyncio.gather(*(w.tick(c) for w, c in zip(watches, conns)))
        again = await asyncio.gather(*(w.tick(c) for w, c in zip(watches, conns)))
        rows = await conns[0].fetch("SELECT count(*) AS n FROM outbox WHERE event_type = $1",
                                    "shuangda.custody.deadline-breached.v1")
    finally:
        for c in conns:
            await c.close()
    assert sum(first) == len(lots) and sum(again) == 0
    assert rows[0]["n"] == len(lots)


async def test_hand_overs_of_several_cases_in_one_batch_close_each_deadline_at_its_own_time(unique: str) -> None:
    from services.custody.app.deadlines import CustodyDeadlines
    from shared.contracts.referral import ReferralHandedOver
    from shared.db import connect
    from shared.runtime.uow import Message, UnitOfWork
    from shared.workdays import default_calendar

    world = CustodyWorld(unique)
    await world.create()
    bureau = await world.key("bureau", "market_regulation")
    police_id = world.bureau("public_security")
    cases = [f"case-{unique}-a", f"case-{unique}-b"]
    handed_at = [START + dt.timedelta(hours=5), START + dt.timedelta(days=1, hours=3)]
    async with world.running(ManualClock(START)) as (http, _parts):
        lots = [await register(world, http, bureau, case) for case in cases]

    def message(event: Any) -> Message[Any]:
        return Message(envelope=None, data=event, topic=world.settings.referral_topic, key=event.case_id)  # type: ignore[arg-type]

    common = {"state": "accepted", "agency": world.bureau(), "police": police_id}
    accepted = [message(ReferralAccepted(case_id=c, referral_id=f"ref-{c}", at=START, category="trademarks",
                                         suspect=Suspect(name="某某贸易商行"), after="transfer", **common)) for c in cases]
    handed = [message(ReferralHandedOver(case_id=c, referral_id=f"ref-{c}", at=at, **common | {"state": "handed_over"}))
              for c, at in zip(cases, handed_at)]
    deadlines_ = CustodyDeadlines(calendar=default_calendar())
    conn = await connect(world.settings.dsn, world.settings.schema)
    try:
        for batch in (accepted, handed):   # each batch as the consumer hands it over: several cases at once
            async with conn.transaction():
                uow = UnitOfWork(conn, source="/custody")
                assert await deadlines_.on_referrals(batch, uow) == {}
                await uow.flush()
        rows = await conn.fetch("SELECT subject, state, closed_at FROM deadlines WHERE kind = 'police_handover'")
    finally:
        await conn.close()
    assert {r["subject"]: (r["state"], r["closed_at"]) for r in rows} == {
        lots[0]: ("met", handed_at[0]), lots[1]: ("met", handed_at[1])}
