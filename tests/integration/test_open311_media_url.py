"""Open311's media_url becomes an evidence attachment (issue 15): intake fetches it server-side
through the guard (shared/guarded_fetch.py) from a real local HTTP server — allow-listed in the
test's settings, as a private address must be — judges the bytes like an upload and files them with
the request in one transaction; every refusal (scheme, a private address not allow-listed, a host
off the list, too large, too slow, a redirect, not an image) is GeoReport's 400 naming media_url,
counted, and files nothing."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from prometheus_client import REGISTRY

from tests.support.evidence import jpeg_with_exif
from tests.support.intake import IntakeWorld, running_intake
from tests.support.media import MediaServer

pytestmark = pytest.mark.stack
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LIMITS = {"media_url_timeout_seconds": 30.0, "attachment_max_bytes": 4096}  # generous: a loaded machine is slow
LOCAL = {**LIMITS, "media_url_allow_http": True, "media_url_allowed_hosts": "127.0.0.1"}


def fields(key: str, media_url: str) -> bytes:
    return urlencode({"api_key": key, "service_code": "food", "description": "无证小作坊的照片",
                      "attribute[county]": "610404", "attribute[suspect_name]": "某某小吃", "last_name": "王",
                      "phone": "13700001111", "media_url": media_url}).encode()


def refusals(reason: str) -> float:
    return REGISTRY.get_sample_value("shuangda_intake_attachments_total",
                                     {"outcome": "refused", "reason": f"fetch_{reason}"}) or 0.0


def media_error(answer: Any) -> str:
    assert answer.status_code == 400, answer.text
    [error] = answer.json()
    assert error["code"] == 400 and error["description"].startswith("media_url:"), error
    return str(error["description"])


async def test_a_media_url_on_an_allow_listed_local_server_becomes_the_requests_evidence_file(unique: str) -> None:
    world = IntakeWorld(unique, routing_topic=f"test.case.routing.{unique}")
    await world.create()
    key = await world.add_client("civic", "hotline", ["complaints:write"], topic=False)
    async with MediaServer() as media, running_intake(world, **LOCAL) as intake:
        url = media.serve("/photo.jpg", jpeg_with_exif())
        created = await intake.http.post("/open311/v2/requests.json", content=fields(key, url), headers=FORM)
        assert created.status_code == 201, created.text
        tracking_no = created.json()[0]["service_request_id"]
    rows = await world.fetch(
        "SELECT a.content_type, a.removed, a.uploaded_by, r.evidence_urls FROM attachments a"
        " JOIN reports r ON r.report_id = a.report_id WHERE r.tracking_no = $1", tracking_no)
    assert [(r["content_type"], r["uploaded_by"], r["evidence_urls"]) for r in rows] == [
        ("image/jpeg", f"t{unique}-civic", [url])]
    assert "exif" in rows[0]["removed"], "stripped like an upload"
    assert media.requests and media.requests[0][1]["host"] == f"127.0.0.1:{media.port}"


async def test_every_refused_media_url_is_a_georeport_400_naming_it_counted_and_filing_nothing(unique: str) -> None:
    world = IntakeWorld(unique, routing_topic=f"test.case.routing.{unique}")
    await world.create()
    key = await world.add_client("civic", "hotline", ["complaints:write"], topic=False)
    async with MediaServer() as media:
        photo = media.serve("/photo.jpg", jpeg_with_exif())
        cases = [  # (settings, url, reason)
            ({"media_url_allow_http": False, "media_url_allowed_hosts": "127.0.0.1"}, photo, "scheme"),
            ({"media_url_allow_http": True}, photo, "private_address"),           # 127.0.0.1 not allow-listed
            ({"media_url_allow_http": True, "media_url_allowed_hosts": "photos.example.org"}, photo, "host_not_allowed"),
            (LOCAL, media.serve("/big.jpg", jpeg_with_exif() + b"\0" * 5000), "too_large"),
            ({**LOCAL, "media_url_timeout_seconds": 0.5},             # the server never answers in time
             media.serve("/slow.jpg", jpeg_with_exif(), delay=120.0), "timeout"),
            (LOCAL, media.serve("/moved.jpg", status=302, headers={"Location": "http://169.254.169.254/"}), "status"),
        ]
        for settings, url, reason in cases:
            before = refusals(reason)
            async with running_intake(world, **{**LIMITS, **settings}) as intake:
                answer = await intake.http.post("/open311/v2/requests.json", content=fields(key, url), headers=FORM)
            assert answer.status_code == 400, (reason, answer.text)
            assert f"({reason})" in media_error(answer), (reason, answer.text)
            assert refusals(reason) == before + 1, reason
        page = media.serve("/page.jpg", b"<html>not a photo</html>")
        async with running_intake(world, **LOCAL) as intake:
            answer = await intake.http.post("/open311/v2/requests.json", content=fields(key, page), headers=FORM)
        assert "unsupported_type" in media_error(answer), "judged by the bytes, not the name"
    assert await world.fetch("SELECT 1 FROM reports") == [], "a refused media_url files nothing"
    assert "/moved.jpg" in [p for p, _ in media.requests] and all(
        p != "/" for p, _ in media.requests), "the redirect was not followed"
