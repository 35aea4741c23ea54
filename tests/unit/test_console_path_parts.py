"""The console's API clients put an id into a path only as one percent-encoded segment: an id
carrying ``/``, ``?``, ``#``, ``..`` or NUL reaches the service as that one segment, never as
another path, a query or a fragment (the wire path is read from the request the client sends)."""
from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from services.console.adapters.api import path_part
from services.console.adapters.notify import NotifyClient
from services.console.adapters.routing import RoutingClient

HOSTILE = ["C-1/../../v1/overview", "C-1?limit=1000", "C-1#x", "..", ".", "C 1\x00", "%2F", "案件"]


def recording() -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"detail": "no such case"})

    return seen, httpx.MockTransport(answer)


@pytest.mark.parametrize("value", HOSTILE)
def test_a_path_part_keeps_no_character_that_ends_or_steps_out_of_a_segment(value: str) -> None:
    part = path_part(value)
    assert not any(ch in part for ch in "/?#\x00 ") and part not in (".", "..")
    url = httpx.URL(f"http://s/v1/cases/{part}/joint-meeting")
    assert url.raw_path.split(b"/") == [b"", b"v1", b"cases", part.encode("ascii"), b"joint-meeting"]
    assert url.query == b"" and url.fragment == ""


@pytest.mark.parametrize("value", HOSTILE)
async def test_routing_hears_a_hostile_case_id_as_one_segment_of_the_case_path(value: str) -> None:
    seen, transport = recording()
    client = RoutingClient("http://routing", transport=transport)
    calls: list[Any] = [client.read_case("k", value), client.sealed_complainant("k", value),
                        client.acknowledge("k", value, decision="accept", reason=None),
                        client.command("k", value, "transfer", {}),
                        client.decide_joint_meeting("k", value, decision="dismiss", reason="r", idempotency_key=None)]
    for call in calls:
        assert (await call).status == 404
    await client.close()
    for request in seen:
        raw = request.url.raw_path.decode("ascii")
        assert raw.startswith(f"/v1/cases/{path_part(value)}") and "?" not in raw
        assert raw.split("/")[3] == path_part(value), raw
        assert request.url.query == b""


@pytest.mark.parametrize("value", HOSTILE)
async def test_notify_hears_a_hostile_delivery_or_endpoint_reference_as_one_segment(value: str) -> None:
    seen, transport = recording()
    client = NotifyClient("http://notify", transport=transport)
    await client.delivery("k", value)
    await client.resend("k", value, idempotency_key=None)
    await client.recover("k", value, dt.datetime(2026, 12, 7, tzinfo=dt.timezone.utc), idempotency_key=None)
    await client.close()
    paths = [r.url.raw_path.decode("ascii") for r in seen]
    part = path_part(value)
    assert paths == [f"/v1/deliveries/{part}", f"/v1/deliveries/{part}:resend", f"/v1/endpoints/{part}:recover"]
