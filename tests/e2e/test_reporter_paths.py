"""The reporter's path through the four services as processes (issue 15): a complaint with a
photo → the bureau accepts and closes it → the complainant's low score → routing reopens the case
back to its bureau, the photo visible to that bureau throughout — every step through the real
channels (intake's API, Kafka, routing's bureau API, notify's SMS)."""
from __future__ import annotations

from typing import Any

import pytest

from sim.api import call
from tests.e2e.conftest import E2E
from tests.support import stack
from tests.support.evidence import jpeg_with_exif

pytestmark = pytest.mark.stack
BUREAU = "market_regulation@610402"


async def test_a_complaint_with_a_photo_is_closed_scored_low_and_reopened_to_its_bureau(e2e: E2E) -> None:
    code = e2e.new_code()
    phone = "13912345678"
    body = {"source_id": e2e.source_id("photo"), "kind": "complaint", "channel": "hotline", "category": "trademarks",
            "county": "610402", "description": "网店卖的运动鞋是假货，附照片",
            "suspect": {"credit_code": code, "name": f"咸阳{code[-6:]}商贸有限公司"},
            "complainant": {"name": "李四", "phone": phone}, "figures": {"sales": "399.00", "pieces": 1}}
    intake, token = e2e.iso.url("intake"), e2e.keys.intake[e2e.hotline]
    filed = await call(e2e.http, "POST", f"{intake}/v1/complaints", token=token, json=body,
                       idempotency_key=body["source_id"])
    assert filed.status == 201, filed.body
    tracking_no, case_id = filed.body["tracking_no"], filed.body["case_id"]

    photo = await e2e.http.post(f"{intake}/v1/complaints/{tracking_no}/attachments", content=jpeg_with_exif(),
                                headers={"authorization": f"Bearer {token}", "content-type": "image/jpeg"})
    assert photo.status_code == 201, photo.text
    await e2e.webhook("shuangda.case.assigned.v1", case_id=case_id, recipient=BUREAU)

    async def files() -> Any:
        return await e2e.http.get(f"{intake}/v1/cases/{case_id}/attachments",
                                  headers={"authorization": f"Bearer {e2e.keys.routing[BUREAU]}"})

    seen = await stack.eventually(files, until=lambda r: r.status_code == 200, timeout=60,
                                  what="the photo visible to the assigned bureau")
    assert [f["content_type"] for f in seen.json()] == ["image/jpeg"]

    assert (await e2e.act(BUREAU, case_id, "acknowledge", {"decision": "accept"})).status == 200
    closed = await e2e.act(BUREAU, case_id, "outcome", {"outcome": "mediated"})
    assert closed.status == 200 and closed.body["state"] == "closed", closed.body

    answer = {"last4": phone[-4:], "score": 1, "resolved": False, "reopen": True, "comment": "还在卖假货"}

    async def survey() -> Any:
        return await call(e2e.http, "POST", f"{intake}/v1/complaints/{tracking_no}/survey", token=token, json=answer)

    scored = await stack.eventually(survey, until=lambda a: a.status != 409 or "case_open" not in str(a.body),
                                    timeout=60, what="intake learning that the case closed")
    assert scored.status == 201 and scored.body["reopen"] is True, scored.body

    reopened = await e2e.webhook("shuangda.case.reopened.v1", case_id=case_id, recipient=BUREAU)
    assert reopened.body["data"]["event"]["case_id"] == case_id
    case = await e2e.read_case(BUREAU, case_id)
    assert case.status == 200 and case.body["state"] == "accepted", case.body
    again = await survey()
    assert again.status == 409 and "already_answered" in str(again.body), "once per complaint"
    assert (await files()).status_code == 200, "the photo stays with the bureau the case went back to"
