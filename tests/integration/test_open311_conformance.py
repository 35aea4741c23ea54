"""Open311 GeoReport v2 conformance (issue 15 §5): every endpoint driven with a plain HTTP client
exactly as the spec's examples do — form-encoded posts with the api_key as a body field, the
standard optional fields, attribute[…], .json and .xml, GET requests by id and by dates, and
GeoReport's [{code, description}] errors."""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest

from shared.contracts.routing import CaseAssigned, CaseOutcomeRecorded
from shared.contracts.cases import CaseOpened, Suspect
from tests.support import stack
from tests.support.intake import IntakeWorld, running_intake

pytestmark = pytest.mark.stack
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def form(**fields: str) -> bytes:
    return urlencode(fields).encode()


def example(key: str, **changes: str) -> dict[str, str]:
    fields = {"api_key": key, "jurisdiction_id": "610400", "service_code": "food", "lat": "34.329600",
              "long": "108.709300", "address_string": "渭城区某路1号", "email": "wang@example.com",
              "device_id": "tt222111", "account_id": "123456", "first_name": "五", "last_name": "王",
              "phone": "13700001111", "description": "外卖平台上的无证小作坊", "media_url": "https://photos.example.com/a.jpg",
              "attribute[county]": "610404", "attribute[suspect_name]": "某某小吃"}
    fields.update(changes)
    return fields


def geo_errors(response: Any) -> list[dict[str, Any]]:
    body = response.json()
    assert isinstance(body, list) and body and all(set(e) == {"code", "description"} for e in body), body
    return body  # type: ignore[no-any-return]


async def test_a_stock_georeport_v2_client_lists_files_by_form_and_reads_back_in_json_and_xml(unique: str) -> None:
    routing_topic = f"test.case.routing.{unique}"
    world = IntakeWorld(unique, routing_topic=routing_topic)
    await world.create()
    key = await world.add_client("civic", "hotline", ["complaints:write", "complaints:read"], topic=False)
    other = await world.add_client("other", "hotline", ["complaints:write", "complaints:read"], topic=False)
    async with running_intake(world, media_url_fetch=False) as intake:  # fetching: test_open311_media_url.py
        http = intake.http
        # GET services.json / services.xml
        services = await http.get("/open311/v2/services.json", params={"jurisdiction_id": "610400"})
        assert services.status_code == 200 and services.headers["content-type"].startswith("application/json")
        food = {s["service_code"]: s for s in services.json()}["food"]
        assert set(food) >= {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
        assert food["metadata"] is True and food["type"] == "realtime"
        xml = await http.get("/open311/v2/services.xml")
        assert xml.status_code == 200 and xml.headers["content-type"].startswith("text/xml")
        assert xml.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
        root = ET.fromstring(xml.content)
        assert root.tag == "services" and "food" in {s.findtext("service_code") for s in root.findall("service")}

        # GET services/{code}.json: the attributes, county a value list
        definition = (await http.get("/open311/v2/services/food.json")).json()
        attrs = {a["code"]: a for a in definition["attributes"]}
        assert definition["service_code"] == "food" and attrs["county"]["required"] is False
        assert attrs["county"]["datatype"] == "singlevaluelist" and {"key": "610404", "name": "渭城区"} in attrs["county"]["values"]
        d_xml = ET.fromstring((await http.get("/open311/v2/services/food.xml")).content)
        assert d_xml.tag == "service_definition" and d_xml.findtext("service_code") == "food"
        assert geo_errors(await http.get("/open311/v2/services/parking.json"))[0]["code"] == 404

        # POST requests.json, form-encoded, api_key in the body, every standard field
        created = await http.post("/open311/v2/requests.json", content=form(**example(key)), headers=FORM)
        assert created.status_code == 201, created.text
        [receipt] = created.json()
        request_id = receipt["service_request_id"]
        assert receipt["account_id"] == "123456" and receipt["service_notice"]
        [record] = await stack.eventually(lambda: stack.read_lanes(world.case_topic), until=lambda r: len(r) >= 1,
                                          what="case.opened")
        opened = CaseOpened.model_validate_json(record.value)
        # attribute[county] wins over the county lat/long lie in (秦都区's approximate area, nearer its seat)
        assert opened.channel == "open311" and opened.county == "610404" and opened.suspect.name == "某某小吃"
        stored = await world.fetch("SELECT suspect, evidence_urls FROM reports WHERE tracking_no = $1", request_id)
        assert "渭城区某路1号" in stored[0]["suspect"] and "lat=34.329600" in stored[0]["suspect"]
        assert stored[0]["evidence_urls"] == ["https://photos.example.com/a.jpg"], "media_url is the evidence link"

        # POST requests.xml
        made_xml = await http.post("/open311/v2/requests.xml", content=form(**example(
            key, **{"attribute[suspect_name]": "另一家小吃店"})), headers=FORM)
        assert made_xml.status_code == 201 and ET.fromstring(made_xml.content).tag == "service_requests"
        xml_id = ET.fromstring(made_xml.content).findtext("request/service_request_id")

        # GET requests/{id}.json and .xml; status follows routing's events
        one = (await http.get(f"/open311/v2/requests/{request_id}.json", headers={"X-API-Key": key})).json()
        assert one[0]["status"] == "open" and one[0]["service_code"] == "food"
        for field in ("status_notes", "service_name", "agency_responsible", "requested_datetime", "updated_datetime",
                      "address", "lat", "long", "media_url"):
            assert field in one[0], field
        now = dt.datetime.now(dt.timezone.utc)
        await stack.produce(routing_topic, [
            stack.event_record(CaseAssigned(
                case_id=opened.case_id, assignment_no=1, assigned_at=now, bureau="market_regulation@610404",
                bureau_type="market_regulation", jurisdiction="610404", level="county", category="food",
                county="610404", counties=["610404"], origin="complaint", suspect=Suspect(name="某某小吃"),
                directory_version="t", rules_version="t"), type=CaseAssigned.EVENT_TYPE, key=opened.case_id),
            stack.event_record(CaseOutcomeRecorded(
                case_id=opened.case_id, bureau="market_regulation@610404", outcome="penalty_decided", decision_no="X-1",
                category="food", suspect=Suspect(name="某某小吃"), recorded_at=now + dt.timedelta(seconds=1)),
                type=CaseOutcomeRecorded.EVENT_TYPE, key=opened.case_id)])

        async def status() -> Any:
            return (await http.get(f"/open311/v2/requests/{request_id}.json", headers={"X-API-Key": key})).json()[0]

        closed = await stack.eventually(status, until=lambda r: r["status"] == "closed", what="closed")
        assert closed["agency_responsible"] == "market_regulation@610404"
        x_one = ET.fromstring((await http.get(f"/open311/v2/requests/{xml_id}.xml",
                                               headers={"X-API-Key": key})).content)
        assert x_one.findtext("request/status") == "open"

        # GET requests.json by ids and by dates and status; only the caller's own
        both = (await http.get("/open311/v2/requests.json", headers={"X-API-Key": key},
                               params={"service_request_id": f"{request_id},{xml_id}"})).json()
        assert {r["service_request_id"] for r in both} == {request_id, xml_id}
        recent = (await http.get("/open311/v2/requests.json", headers={"X-API-Key": key}, params={
            "start_date": (now - dt.timedelta(hours=1)).isoformat(), "end_date": (now + dt.timedelta(hours=1)).isoformat(),
            "status": "closed"})).json()
        assert [r["service_request_id"] for r in recent] == [request_id]
        assert (await http.get("/open311/v2/requests.json", headers={"X-API-Key": other})).json() == []
        assert geo_errors(await http.get(f"/open311/v2/requests/{request_id}.json",
                                         headers={"X-API-Key": other}))[0]["code"] == 404

        # errors: GeoReport's list, in JSON and XML
        no_key = await http.post("/open311/v2/requests.json", content=form(**example("")), headers=FORM)
        assert no_key.status_code == 403 and geo_errors(no_key)[0]["code"] == 403
        in_url = await http.post(f"/open311/v2/requests.json?api_key={key}", content=form(**example(key)), headers=FORM)
        assert in_url.status_code == 400 and "api_key" in geo_errors(in_url)[0]["description"]
        missing = await http.post("/open311/v2/requests.json", headers=FORM,
                                  content=form(**{k: v for k, v in example(key).items()
                                                  if k not in ("attribute[county]", "lat", "long")}))
        assert missing.status_code == 400
        assert [e["description"].split(":")[0] for e in geo_errors(missing)] == ["attribute[county]"]
        beijing = {**{k: v for k, v in example(key).items() if k != "attribute[county]"}, "lat": "39.9", "long": "116.4"}
        outside = await http.post("/open311/v2/requests.json", headers=FORM, content=form(**beijing))
        assert outside.status_code == 400, "a point in no county derives none: the county is required again"
        assert [e["description"].split(":")[0] for e in geo_errors(outside)] == ["attribute[county]"]
        unknown = await http.post("/open311/v2/requests.json", content=form(**example(key, colour="red")), headers=FORM)
        assert unknown.status_code == 400 and geo_errors(unknown)[0]["description"].startswith("colour:")
        elsewhere = await http.post("/open311/v2/requests.json", content=form(**example(key, jurisdiction_id="110000")),
                                    headers=FORM)
        assert elsewhere.status_code == 400 and "jurisdiction_id" in geo_errors(elsewhere)[0]["description"]
        x_err = await http.post("/open311/v2/requests.xml", content=form(**example(key, lat="north")), headers=FORM)
        err_root = ET.fromstring(x_err.content)
        assert x_err.status_code == 400 and err_root.tag == "errors"
        assert err_root.findtext("error/code") == "400" and err_root.findtext("error/description").startswith("lat:")


async def test_a_listing_filter_with_a_nul_service_code_or_a_year_out_of_range_is_a_georeport_400(unique: str) -> None:
    world = IntakeWorld(unique, routing_topic=f"test.case.routing.{unique}")
    await world.create()
    key = await world.add_client("civic", "hotline", ["complaints:write", "complaints:read"], topic=False)
    async with running_intake(world, media_url_fetch=False) as intake:  # fetching: test_open311_media_url.py
        http = intake.http
        for params, field in (({"service_code": "food\x00"}, "service_code"),
                              ({"end_date": "0001-01-01T00:00:00Z"}, "end_date"),
                              ({"start_date": "9999-12-31T00:00:00Z"}, "start_date")):
            answer = await http.get("/open311/v2/requests.json", params=params, headers={"X-API-Key": key})
            assert answer.status_code == 400, (params, answer.status_code, answer.text)
            [error] = geo_errors(answer)
            assert error["code"] == 400 and error["description"].startswith(f"{field}:"), error
        known = await http.get("/open311/v2/requests.json", params={"service_code": "food"}, headers={"X-API-Key": key})
        assert known.status_code == 200 and known.json() == []


async def test_a_request_without_a_county_gets_the_county_its_lat_and_long_lie_in(unique: str) -> None:
    world = IntakeWorld(unique, routing_topic=f"test.case.routing.{unique}")
    await world.create()
    key = await world.add_client("civic", "hotline", ["complaints:write"], topic=False)
    async with running_intake(world, media_url_fetch=False) as intake:  # fetching: test_open311_media_url.py
        fields = {k: v for k, v in example(key, lat="34.480", long="108.430").items() if k != "attribute[county]"}
        created = await intake.http.post("/open311/v2/requests.json", content=form(**fields), headers=FORM)
        assert created.status_code == 201, created.text
        [record] = await stack.eventually(lambda: stack.read_lanes(world.case_topic), until=lambda r: len(r) >= 1,
                                          what="case.opened")
    assert CaseOpened.model_validate_json(record.value).county == "610425"  # 礼泉县's seat
