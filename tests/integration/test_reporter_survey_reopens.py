"""The reporter's side across intake and routing on the real broker and database (issue 15 §4):
a complaint with a photo → assigned → the bureau sees the photo → closed → the complainant's low
score reopens the case once, and the assessment counts the answer and the reopening."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from shared.contracts.routing import CaseReopened
from tests.support import stack
from tests.support.evidence import jpeg_with_exif
from tests.support.intake import IntakeWorld, running_intake
from tests.support.routing import RoutingWorld

pytestmark = pytest.mark.stack
OFFICE = "office@610400"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_complaint_with_a_photo_is_closed_rated_low_and_reopened_once_and_the_assessment_counts_it(
        unique: str, tmp_path: Path) -> None:
    routing = RoutingWorld(unique, bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await routing.create_topics()
    intake_world = IntakeWorld(unique, case_topic=routing.intake_topic, routing_topic=routing.routing_topic,
                               attachments_dir=tmp_path)
    await intake_world.create()
    hotline = await intake_world.add_client("hot", "hotline", ["complaints:write", "complaints:read"], topic=False)
    web = await intake_world.add_client("web", "hotline", ["complaints:write"], topic=False)
    async with routing.running() as rsvc, running_intake(intake_world) as intake:
        filed = await intake.http.post("/v1/complaints", headers=bearer(hotline), json={
            "category": "trademarks", "county": "610402", "description": "在秦都区某店买到假冒名牌运动鞋",
            "suspect": {"name": f"咸阳某某鞋店{unique}"}, "complainant": {"name": "李四", "phone": "13912345678"}})
        assert filed.status_code == 201, filed.text
        tracking, case_id = filed.json()["tracking_no"], filed.json()["case_id"]
        photo = await intake.http.post(f"/v1/complaints/{tracking}/attachments", content=jpeg_with_exif(),
                                       headers=bearer(hotline))
        assert photo.status_code == 201, photo.text

        row = await stack.eventually(lambda: routing.case_row(case_id), until=lambda r: r is not None, what="assigned")
        bureau = bearer(await routing.api_key(row["assignee"]))

        async def files() -> int:
            return (await intake.http.get(f"/v1/cases/{case_id}/attachments", headers=bureau)).status_code

        await stack.eventually(files, until=lambda s: s == 200, what="intake learns the assignee from case.assigned")

        survey = f"/v1/complaints/{tracking}/survey"
        low: dict[str, Any] = {"last4": "5678", "score": 1, "resolved": False, "reopen": True,
                               "comment": "店铺还在卖假货，电话13912345678"}
        early = await intake.http.post(survey, headers=bearer(web), json=low)
        assert early.status_code == 409 and early.json()["errors"][0]["reason"] == "case_open"

        ack = await rsvc.http.post(f"/v1/cases/{case_id}/acknowledge", headers=bureau, json={"decision": "accept"})
        assert ack.status_code == 200, ack.text
        done = await rsvc.http.post(f"/v1/cases/{case_id}/outcome", headers=bureau,
                                    json={"outcome": "no_violation", "detail": "现场未发现假冒商品"})
        assert done.status_code == 200, done.text

        async def answered() -> Any:
            return await intake.http.post(survey, headers=bearer(web), json=low)

        first = await stack.eventually(answered, until=lambda r: r.status_code != 409 or
                                       r.json()["errors"][0]["reason"] != "case_open", what="intake sees the closing")
        assert first.status_code == 201, first.text
        assert first.json()["reopen"] is True and first.json()["rule_version"] == "2026-1"
        wrong = await intake.http.post(survey, headers=bearer(web), json={**low, "last4": "0000"})
        assert wrong.status_code == 404
        again = await intake.http.post(survey, headers=bearer(web), json={**low, "score": 5, "reopen": False})
        assert again.status_code == 409 and again.json()["errors"][0]["reason"] == "already_answered"

        reopened = await stack.eventually(lambda: routing.case_row(case_id), until=lambda r: r["state"] == "accepted",
                                          what="routing reopens the case")
        assert reopened["closed_at"] is None and reopened["outcome"] is None
        events = await stack.eventually(lambda: stack.read_lanes(routing.routing_topic),
                                        until=lambda rs: any(stack.header(r, "ce_type") == CaseReopened.EVENT_TYPE
                                                             for r in rs), what="case.reopened")
        reopen_events = [CaseReopened.model_validate_json(r.value) for r in events
                         if stack.header(r, "ce_type") == CaseReopened.EVENT_TYPE]
        assert len(reopen_events) == 1, "reopened once"
        e = reopen_events[0]
        assert e.previous_outcome == "no_violation" and e.score == 1 and not e.resolved
        assert "13912345678" not in e.comment and "5678" in e.comment, "the comment's phone is masked"

        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
        office = bearer(await routing.api_key(OFFICE))
        a = (await rsvc.http.get("/v1/overview/assessment", headers=office,
                                 params={"start": str(today - dt.timedelta(days=1)),
                                         "end": str(today + dt.timedelta(days=1))})).json()
        mine = {r["key"]: r for r in a["by_bureau"]}[row["assignee"]]
        assert (mine["surveys"], mine["mean_score"], mine["reopened"]) == (1, 1.0, 1)
        stored = await intake_world.fetch("SELECT comment_sealed::text AS c FROM surveys")
        assert len(stored) == 1 and "13912345678" not in stored[0]["c"], "the comment is kept sealed"
