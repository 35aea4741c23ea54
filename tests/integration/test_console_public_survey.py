"""The public survey page (issue 15 §4, issue 16): `/public/survey/{tracking_no}`, the page notify's
closing SMS links to, on the real stack — intake, routing and the console on sockets, one identity
store. The console posts the answer to intake's ``POST /v1/complaints/{tracking_no}/survey`` with its
own survey principal; intake's refusals are shown as they are: the case still open (409
``case_open``), wrong digits (the same 404 as an unknown number), answered already (409); a form
without the CSRF cookie's token is a 403 before intake is asked."""
from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support import stack
from tests.support.console import console_stack, csrf_of

pytestmark = pytest.mark.stack
PHONE = "13912345678"


async def test_a_complainant_answers_the_survey_once_after_the_case_closed_and_is_told_each_refusal() -> None:
    unique = uuid.uuid4().hex[:10]
    async with console_stack(unique, intake=True, lookup_rate_per_second=100.0, lookup_rate_burst=1000) as cs:
        await cs.create_account("alice", "bureau@market_regulation@610402")  # registers the console's principals
        intake, world = cs.beside["intake"], cs.beside["intake_world"]
        hotline = await world.add_client("hot", "hotline", ["complaints:write"], topic=False)
        filed = await intake.http.post("/v1/complaints", headers={"Authorization": f"Bearer {hotline}"}, json={
            "category": "trademarks", "county": "610402", "description": "在秦都区某店买到假冒名牌运动鞋",
            "suspect": {"name": f"咸阳某某鞋店{unique}"}, "complainant": {"name": "李四", "phone": PHONE}})
        assert filed.status_code == 201, filed.text
        tracking, case_id = filed.json()["tracking_no"], filed.json()["case_id"]
        row = await stack.eventually(lambda: cs.world.case_row(case_id), until=lambda r: r is not None, what="assigned")
        bureau = {"Authorization": f"Bearer {await cs.world.api_key(row['assignee'])}"}
        answer = {"last4": PHONE[-4:], "score": "1", "resolved": "no", "reopen": "yes", "comment": "店铺还在卖假货"}

        async with httpx.AsyncClient(base_url=cs.url) as citizen:
            lookup = await citizen.get(f"/lookup?tracking_no={tracking.lower()}")  # the progress SMS's link
            assert f'value="{tracking}"' in lookup.text
            form = await citizen.get(f"/public/survey/{tracking.lower()}")
            assert form.status_code == 200 and tracking in form.text
            for control in ("last4", "score", "resolved-yes", "resolved-no", "reopen", "comment"):
                assert f'<label for="{control}">' in form.text, control
            csrf = csrf_of(form)
            survey = f"/public/survey/{tracking}"

            forged = await citizen.post(survey, data={**answer, "csrf": "forged"})
            assert forged.status_code == 403
            early = await citizen.post(survey, data={**answer, "csrf": csrf})
            assert early.status_code == 409 and 'data-reason="survey_case_open"' in early.text, early.text
            wrong = await citizen.post(survey, data={**answer, "last4": "0000", "csrf": csrf})
            unknown = await citizen.post(f"/public/survey/{tracking[:-1]}{'A' if tracking[-1] != 'A' else 'B'}",
                                         data={**answer, "csrf": csrf})
            assert wrong.status_code == unknown.status_code == 404
            assert 'data-reason="survey_not_found"' in wrong.text and 'data-reason="survey_not_found"' in unknown.text
            bad = await citizen.post(survey, data={**answer, "score": "9", "csrf": csrf})
            assert bad.status_code == 422 and 'data-reason="survey_invalid"' in bad.text

            ack = await cs.routing.http.post(f"/v1/cases/{case_id}/acknowledge", headers=bureau, json={"decision": "accept"})
            assert ack.status_code == 200, ack.text
            done = await cs.routing.http.post(f"/v1/cases/{case_id}/outcome", headers=bureau,
                                              json={"outcome": "no_violation", "detail": "现场未发现假冒商品"})
            assert done.status_code == 200, done.text

            async def sent() -> httpx.Response:
                return await citizen.post(survey, data={**answer, "csrf": csrf})

            first = await stack.eventually(sent, until=lambda r: 'data-reason="survey_case_open"' not in r.text,
                                           what="intake sees the closing")
            assert first.status_code == 201 and 'data-testid="answered"' in first.text, first.text
            again = await citizen.post(survey, data={**answer, "score": "5", "csrf": csrf})
            assert again.status_code == 409 and 'data-reason="survey_already_answered"' in again.text

        answers = await world.fetch("SELECT score, reopen_requested, answered_by FROM surveys")
        assert [(a["score"], a["reopen_requested"], a["answered_by"]) for a in answers] == [(1, True, "console.survey")]
