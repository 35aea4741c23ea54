"""Bureau commands and reads on the real stack: only the assignee acts, the actor is the
authenticated channel, each bureau sees its own cases, and a transfer moves the stream."""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from shared.contracts.bureau_actions import AcknowledgeCase, RequestTransfer
from shared.contracts.routing import CaseCommandRefused
from tests.support.routing import RoutingWorld, case_opened
from tests.support import stack

pytestmark = pytest.mark.stack

ASSIGNEE = "market_regulation@610402"
OTHER = "culture@610402"


def world() -> RoutingWorld:
    return RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())


async def of_case(topic: str, case_id: str, until: Any, what: str) -> list[Any]:
    records = await stack.eventually(
        lambda: stack.read_all(topic), until=lambda rs: until([r for r in rs if r.key == case_id.encode()]),
        what=what, timeout=30,
    )
    return [r for r in records if r.key == case_id.encode()]


def etype(record: Any) -> str:
    return stack.header(record, "ce_type") or ""


async def assigned(w: RoutingWorld, case_id: str) -> None:
    await stack.eventually(lambda: w.case_row(case_id), until=lambda row: row is not None, what=f"{case_id} assigned")


async def test_a_transfer_requested_by_a_bureau_that_is_not_the_assignee_is_refused_even_when_it_claims_to_be_it() -> None:
    w = world()
    await w.create_topics(bureaus=[ASSIGNEE, OTHER])
    case_id = f"C-{w.unique}"
    async with w.running():
        await w.open_cases(case_opened(case_id, category="false_advertising"))
        await assigned(w, case_id)
        # culture's system publishes on its own ingress topic but forges the actor header
        command_id = await w.command_via_kafka(
            OTHER, RequestTransfer(case_id=case_id, to_bureau=OTHER, reason="we want it"), claimed_actor=ASSIGNEE)
        routing = await of_case(w.routing_topic, case_id, lambda rs: any("command-refused" in etype(r) for r in rs),
                                "the refusal")
        to_actor = await of_case(w.egress_topic(OTHER), case_id, lambda rs: len(rs) >= 1, "the refusal to the sender")
    refusal = CaseCommandRefused.model_validate_json(next(r for r in routing if "command-refused" in etype(r)).value)
    assert (refusal.actor, refusal.reason, refusal.command_id) == (OTHER, "not_assignee", command_id)
    assert refusal.command == RequestTransfer.EVENT_TYPE
    assert [etype(r) for r in to_actor] == [CaseCommandRefused.EVENT_TYPE]
    row = await w.case_row(case_id)
    assert (row["assignee"], row["transfers"]) == (ASSIGNEE, 0)


async def test_a_bureau_cannot_read_or_list_another_bureaus_case_and_the_office_reads_all() -> None:
    w = world()
    await w.create_topics()
    mine, theirs = f"A-{w.unique}", f"B-{w.unique}"
    async with w.running() as svc:
        await w.open_cases(case_opened(mine, category="false_advertising", county="610402"),
                           case_opened(theirs, category="online_piracy", county="610404"))
        await assigned(w, mine)
        await assigned(w, theirs)
        me = {"Authorization": f"Bearer {await w.api_key(ASSIGNEE)}"}
        office = {"Authorization": f"Bearer {await w.api_key('office@610400')}"}

        own = await svc.http.get(f"/v1/cases/{mine}", headers=me)
        other = await svc.http.get(f"/v1/cases/{theirs}", headers=me)
        missing = await svc.http.get(f"/v1/cases/nope-{w.unique}", headers=me)
        listed = (await svc.http.get("/v1/cases", headers=me)).json()["items"]
        office_read = await svc.http.get(f"/v1/cases/{theirs}", headers=office)
        office_list = (await svc.http.get("/v1/cases?limit=500", headers=office)).json()["items"]
        anonymous = await svc.http.get(f"/v1/cases/{mine}")
        forged = await svc.http.get(f"/v1/cases/{mine}", headers={"Authorization": "Bearer sdk_0000000000000000_" + "x" * 43})

    assert own.status_code == 200 and own.json()["bureau"] == ASSIGNEE
    assert other.status_code == 404 and missing.status_code == 404
    assert other.json()["detail"] == missing.json()["detail"].replace(f"nope-{w.unique}", theirs), \
        "a case of another bureau looks exactly like a case that does not exist"
    assert [c["case_id"] for c in listed] == [mine]
    assert office_read.status_code == 200 and office_read.json()["bureau"] == "culture@610404"
    assert {mine, theirs} <= {c["case_id"] for c in office_list}
    assert anonymous.status_code == 401 and forged.status_code == 401


async def test_a_transfer_moves_the_cases_events_to_the_new_bureaus_egress_topic() -> None:
    w = world()
    await w.create_topics(bureaus=[ASSIGNEE, OTHER])
    case_id = f"C-{w.unique}"
    async with w.running() as svc:
        await w.open_cases(case_opened(case_id, category="false_advertising"))
        await assigned(w, case_id)
        old = {"Authorization": f"Bearer {await w.api_key(ASSIGNEE)}"}
        new = {"Authorization": f"Bearer {await w.api_key(OTHER)}"}
        r = await svc.http.post(f"/v1/cases/{case_id}/transfer", headers=old,
                                json={"to_bureau": OTHER, "reason": "this is piracy"})
        assert r.status_code == 200, r.text
        assert (await svc.http.get(f"/v1/cases/{case_id}", headers=old)).status_code == 404
        await w.command_via_kafka(OTHER, AcknowledgeCase(case_id=case_id, decision="accept"))
        new_stream = await of_case(w.egress_topic(OTHER), case_id, lambda rs: len(rs) >= 3, "the new bureau's stream")
        old_stream = await of_case(w.egress_topic(ASSIGNEE), case_id, lambda rs: len(rs) >= 2, "the old bureau's stream")
        read = (await svc.http.get(f"/v1/cases/{case_id}", headers=new)).json()

    assert [etype(r).split(".")[-2] for r in old_stream] == ["assigned", "transferred"]
    assert [etype(r).split(".")[-2] for r in new_stream] == ["transferred", "assigned", "acknowledged"]
    assert read["bureau"] == OTHER and read["state"] == "accepted" and read["transfers"] == 1
    acks = [d for d in read["deadlines"] if d["kind"] == "acknowledgement"]
    assert [(d["bureau"], d["state"]) for d in acks] == [(ASSIGNEE, "cancelled"), (OTHER, "met")]


async def test_a_retried_command_with_the_same_idempotency_key_is_applied_once() -> None:
    w = world()
    await w.create_topics()
    case_id = f"C-{w.unique}"
    async with w.running() as svc:
        await w.open_cases(case_opened(case_id, category="false_advertising"))
        await assigned(w, case_id)
        headers = {"Authorization": f"Bearer {await w.api_key(ASSIGNEE)}", "Idempotency-Key": "ack-1"}
        first = await svc.http.post(f"/v1/cases/{case_id}/acknowledge", headers=headers, json={"decision": "accept"})
        again = await svc.http.post(f"/v1/cases/{case_id}/acknowledge", headers=headers, json={"decision": "accept"})
        stream = await of_case(w.routing_topic, case_id, lambda rs: len(rs) >= 2, "the acknowledgement")
    assert first.status_code == again.status_code == 200 and first.json()["status"] == "done"
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true", "the first answer, replayed"
    assert "idempotent-replayed" not in first.headers
    assert [etype(r).split(".")[-2] for r in stream] == ["assigned", "acknowledged"]


async def test_an_idempotency_key_used_on_a_refused_command_is_a_409_on_another_cases_acknowledgement_not_a_silent_duplicate() -> None:
    w = world()
    await w.create_topics()
    case_id = f"C-{w.unique}"
    async with w.running() as svc:
        await w.open_cases(case_opened(case_id, category="false_advertising"))
        await assigned(w, case_id)
        headers = {"Authorization": f"Bearer {await w.api_key(ASSIGNEE)}", "Idempotency-Key": "reused-1"}
        refused = await svc.http.post(f"/v1/cases/nope-{w.unique}/acknowledge", headers=headers, json={"decision": "accept"})
        reused = await svc.http.post(f"/v1/cases/{case_id}/acknowledge", headers=headers, json={"decision": "accept"})
        refused_again = await svc.http.post(f"/v1/cases/nope-{w.unique}/acknowledge", headers=headers,
                                            json={"decision": "accept"})
        fresh = await svc.http.post(f"/v1/cases/{case_id}/acknowledge", json={"decision": "accept"},
                                    headers={**headers, "Idempotency-Key": "fresh-1"})
        stream = await of_case(w.routing_topic, case_id, lambda rs: len(rs) >= 2, "the acknowledgement")
    assert refused.status_code == 404 and refused.json()["reason"] == "unknown_case"
    assert reused.status_code == 409 and reused.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key" in reused.json()["title"]
    assert refused_again.status_code == 404 and refused_again.headers["idempotent-replayed"] == "true"
    assert refused_again.content == refused.content
    assert fresh.status_code == 200 and fresh.json()["state"] == "accepted"
    assert [etype(r).split(".")[-2] for r in stream] == ["assigned", "acknowledged"]
    assert (await w.case_row(case_id))["state"] == "accepted"


async def test_a_key_issued_by_routings_former_store_authenticates_its_bureau_after_the_legacy_import() -> None:
    w = world()
    await w.create_topics()
    case_id = f"C-{w.unique}"
    async with w.running() as svc:
        legacy = await w.legacy_key(ASSIGNEE)
        assert legacy.startswith("sdk_") and len(legacy.split("_")[1]) == 16
        before = await svc.http.get("/v1/me", headers={"Authorization": f"Bearer {legacy}"})
        assert await w.import_legacy_keys() == {"routing": 1}
        await w.open_cases(case_opened(case_id, category="false_advertising"))
        await assigned(w, case_id)
        me = await stack.eventually(lambda: svc.http.get("/v1/me", headers={"X-API-Key": legacy}),
                                    until=lambda r: r.status_code == 200, what="the imported key accepted", timeout=15)
        read = await svc.http.get(f"/v1/cases/{case_id}", headers={"Authorization": f"Bearer {legacy}"})
        acted = await svc.http.post(f"/v1/cases/{case_id}/acknowledge", headers={"Authorization": f"Bearer {legacy}"},
                                    json={"decision": "accept"})
    assert before.status_code == 401, "not a key of the identity store until the import"
    assert me.json()["bureau"] == ASSIGNEE and me.json()["kind"] == "bureau"
    assert read.status_code == 200 and read.json()["bureau"] == ASSIGNEE
    assert acted.status_code == 200 and acted.json()["state"] == "accepted"


async def test_a_command_naming_its_actor_in_the_payload_is_dead_lettered_not_applied() -> None:
    w = world()
    await w.create_topics(bureaus=[OTHER])
    case_id = f"C-{w.unique}"
    async with w.running():
        await w.open_cases(case_opened(case_id, category="online_piracy"))
        await assigned(w, case_id)
        body = {"case_id": case_id, "decision": "accept", "actor": OTHER}
        from shared.envelope import new_envelope

        env = new_envelope(type=AcknowledgeCase.EVENT_TYPE, source="/tests", subject=case_id)
        await stack.produce(w.ingress_topic(OTHER), [(case_id, env.to_headers(), json.dumps(body).encode())])
        dead = await stack.eventually(lambda: stack.read_all(w.ingress_topic(OTHER) + ".dlq"), until=lambda rs: len(rs) >= 1,
                                      what="the dead letter")
    assert stack.header(dead[0], "dlq-reason") == "validation_failed"
    assert stack.header(dead[0], "dlq-field") == "actor"
    assert (await w.case_row(case_id))["state"] == "assigned"


async def test_commands_published_together_are_applied_in_order_each_seeing_the_case_the_one_before_left() -> None:
    # one produce call: routing takes them in one batch (one lock, one write), yet in order —
    # the second transfer of the same case sees the first and is refused; the other case is acknowledged
    w = world()
    await w.create_topics(bureaus=[ASSIGNEE, OTHER])
    moved, kept = f"C-{w.unique}-moved", f"C-{w.unique}-kept"
    async with w.running():
        await w.open_cases(case_opened(moved, category="false_advertising"), case_opened(kept, category="false_advertising"))
        await assigned(w, moved)
        await assigned(w, kept)
        await w.publish(w.ingress_topic(ASSIGNEE),
                        RequestTransfer(case_id=moved, to_bureau=OTHER, reason="this is piracy"),
                        AcknowledgeCase(case_id=kept, decision="accept"),
                        RequestTransfer(case_id=moved, to_bureau=OTHER, reason="again"))
        stream = await of_case(w.routing_topic, moved, lambda rs: any("command-refused" in etype(r) for r in rs),
                               "the second transfer's refusal")
        await stack.eventually(lambda: w.case_row(kept), until=lambda row: row["state"] == "accepted",
                               what="the other case acknowledged")
        deadlines = await w.fetch("SELECT case_id, bureau, kind, state FROM deadlines WHERE case_id = ANY($1::text[])"
                                  " ORDER BY case_id, created_at, deadline_id", [moved, kept])
    refusal = CaseCommandRefused.model_validate_json(next(r for r in stream if "command-refused" in etype(r)).value)
    assert refusal.reason == "not_assignee"
    assert [etype(r).split(".")[-2] for r in stream][:3] == ["assigned", "transferred", "assigned"]
    row = await w.case_row(moved)
    assert (row["assignee"], row["transfers"]) == (OTHER, 1)
    assert [(d["case_id"], d["bureau"], d["state"]) for d in deadlines if d["kind"] == "acknowledgement"] == [
        (kept, ASSIGNEE, "met"), (moved, ASSIGNEE, "cancelled"), (moved, OTHER, "open")]
