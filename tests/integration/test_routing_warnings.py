"""The faust early-warning worker (``python -m services.routing.warnings``) on the real
broker: a surge of reports for one (county, category) and one suspect raises one
hotspot alert each; quiet keys raise none; unreadable records do not stop it."""
from __future__ import annotations

import asyncio
import socket
import uuid
from collections import Counter
from pathlib import Path

import pytest

from shared.contracts.alerts import HotspotDetected
from shared.contracts.cases import Suspect
from services.routing.adapters.rules_file import load_rules
from services.routing.settings import RULES_FILE
from tests.support.routing import RoutingWorld, case_opened
from tests.support import stack

pytestmark = pytest.mark.stack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_surge_per_county_and_category_and_per_suspect_raises_one_alert_each_for_the_office(tmp_path: Path) -> None:
    w = RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await w.create_topics()
    surges = load_rules(RULES_FILE).surges
    surging = [case_opened(f"S{i:02d}-{w.unique}", county="610404", category="food",
                           suspect=Suspect(name=f"stall {i}")) for i in range(surges.county_category.threshold + 3)]
    repeat = [case_opened(f"R{i:02d}-{w.unique}", county="610481", category="cosmetics",
                          suspect=Suspect(credit_code="91350100M000100Y43")) for i in range(surges.suspect.threshold)]
    quiet = [case_opened(f"Q{i:02d}-{w.unique}", county="610422", category="trademarks") for i in range(3)]
    await stack.produce(w.intake_topic, [(None, [], b"not an event")])  # a record faust must survive
    await w.open_cases(*surging, *repeat, *quiet)

    worker = stack.spawn("services.routing.warnings", w.env(
        SHUANGDA_ROUTING_WARNINGS_HTTP_PORT=str(free_port()), SHUANGDA_STATE_DIR=str(tmp_path / "state")),
        tmp_path / "warnings.log")
    try:
        alerts = await stack.eventually(lambda: stack.read_all(w.alert_topic), until=lambda rs: len(rs) >= 2,
                                        timeout=90, what="two hotspot alerts")
        await asyncio.sleep(3)  # room for a wrong third alert to show up
        alerts = await stack.read_all(w.alert_topic)
        assert worker.poll() is None, "the worker survived the unreadable record"
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 30)

    by_kind = {a.kind: a for a in (HotspotDetected.model_validate_json(r.value) for r in alerts)}
    assert Counter(HotspotDetected.model_validate_json(r.value).kind for r in alerts) == {"county_category": 1, "suspect": 1}
    county = by_kind["county_category"]
    assert (county.county, county.category, county.key) == ("610404", "food", "610404|food")
    assert county.count == surges.county_category.threshold and county.office == "office@610400"
    assert set(county.case_ids) <= {c.case_id for c in surging}
    assert by_kind["suspect"].suspect_key == "uscc:91350100M000100Y43"
    for record in alerts:
        assert stack.header(record, "ce_id") == HotspotDetected.model_validate_json(record.value).alert_id
        assert stack.header(record, "ce_type") == HotspotDetected.EVENT_TYPE
    assert "without a valid envelope" in (tmp_path / "warnings.log").read_text(), "the unreadable record was logged"
