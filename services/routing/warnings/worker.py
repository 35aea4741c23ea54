"""The faust app of the early warning, and how it runs inside an asyncio process.

Topology (every agent has ``concurrency=1``; no agent body lets an exception
through — faust would ack the message of an agent that raised — so each event
is handled inside ``try``: a record that cannot be read is logged and counted
in ``shuangda_warning_errors_total``, never silently skipped)::

    case.intake (+ .priority) ──(split)──▶ <app>-by-county-category ──▶ counts (hopping window) ──▶ alert.hotspot
                                      └──▶ <app>-by-suspect         ──▶ counts (hopping window) ──▶ alert.hotspot

The split re-keys each report by what is counted, so a table key always lives
in one partition (co-partitioned tables), whatever the number of workers.
Delivery is at least once: a re-sent alert keeps its deterministic id.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import faust
from prometheus_client import Counter

from shared.clock import Clock
from shared.contracts.alerts import HotspotDetected
from shared.contracts.cases import CaseMerged, CaseOpened
from shared.envelope import Envelope, EnvelopeError, new_envelope
from shared.reference import UnknownCode, load_counties
from shared.topics import both_lanes
from services.routing.adapters.rules_file import load_rules
from services.routing.domain import surge
from services.routing.domain.bureaus import Bureau
from services.routing.domain.case import suspect_key
from services.routing.domain.rules import SurgeRule
from services.routing.settings import RoutingSettings

log = logging.getLogger(__name__)

HOTSPOTS = Counter("shuangda_hotspots_detected_total", "Hotspot alerts raised", ["kind"])
REPORTS_COUNTED = Counter("shuangda_warning_reports_counted_total", "Reports counted by the early warning", ["kind"])
WARNING_ERRORS = Counter("shuangda_warning_errors_total", "Records the early warning could not use", ["stage", "reason"])

_TYPES = {CaseOpened.EVENT_TYPE: CaseOpened, CaseMerged.EVENT_TYPE: CaseMerged}
_RECENT = 20
SOURCE = "/shuangda/routing/warnings"


@dataclass
class Warnings:
    app: faust.App

    def ok(self) -> bool:
        return bool(self.app.started) and not self.app.crashed


def build_app(settings: RoutingSettings, *, loop: asyncio.AbstractEventLoop | None = None,
              clock: Clock | None = None) -> Warnings:
    """The faust app (nothing connects until it starts); its brokers and credentials come from
    ``settings.kafka``, the alerts' detection time from the one clock."""
    clock = clock or settings.make_clock()
    rules = load_rules(settings.rules_path)
    county_table = load_counties()
    office = str(Bureau(rules.office_bureau_type, county_table.city.code))

    def current_county(code: str) -> str:
        try:
            return county_table.resolve(code).code
        except UnknownCode:
            return code
    datadir = settings.state_dir / "faust" / settings.warnings_app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.warnings_app_id,
        **settings.kafka.faust_options(),
        store="memory://",
        datadir=str(datadir),
        topic_partitions=settings.warnings_partitions,
        topic_replication_factor=settings.kafka_replication_factor,
        consumer_auto_offset_reset=settings.warnings_offset_reset,
        web_enabled=False,
        producer_acks=-1,
        # flow control, not semantics: faust's defaults (4,096 events buffered per stream, 4 MiB fetched
        # per partition) held ~60 MB of a burst in routing's process, which embeds this worker; with
        # these the routing bench with the worker embedded peaks at 146 MB instead of 166 MB at the
        # same rate (docs/scaling.md "Profiles")
        stream_buffer_maxsize=256,
        broker_max_poll_records=500,
        consumer_max_fetch_size=256 * 1024,
        loop=loop,
    )
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    # the case topic and its priority lane: a hotspot counts every report, whichever lane its case is on
    intake = app.topic(*both_lanes(settings.intake_topic), **raw)
    alerts = app.topic(settings.alert_topic, **raw)
    by_cc = app.topic(f"{settings.warnings_app_id}-by-county-category", internal=True,
                      partitions=settings.warnings_partitions, **raw)
    by_suspect = app.topic(f"{settings.warnings_app_id}-by-suspect", internal=True,
                           partitions=settings.warnings_partitions, **raw)

    @app.agent(intake, concurrency=1)
    async def split(stream: Any) -> None:
        async for event in stream.events():
            try:
                envelope = Envelope.from_headers(event.headers.items() if isinstance(event.headers, dict) else event.headers)
                model = _TYPES.get(envelope.type)
                if model is None:
                    continue  # other case.intake events are not reports
                report = model.model_validate_json(event.value)
                case_id = report.case_id.encode()
                county = current_county(report.county)
                await by_cc.send(key=surge.county_category_key(county, report.category).encode(),
                                 value=case_id, headers=[("ce_type", envelope.type.encode())])
                key = suspect_key(report.suspect, county)
                if key is not None:
                    await by_suspect.send(key=surge.suspect_watch_key(key).encode(), value=case_id,
                                          headers=[("ce_type", envelope.type.encode())])
            except EnvelopeError as exc:
                WARNING_ERRORS.labels("split", "invalid_envelope").inc()
                log.warning("early warning: skipped a record without a valid envelope: %s", exc)
            except Exception as exc:  # never let faust ack past an exception unnoticed
                WARNING_ERRORS.labels("split", type(exc).__name__[:40]).inc()
                log.warning("early warning: could not read a record: %s: %s", type(exc).__name__, str(exc)[:300])

    def counting_agent(kind: str, topic: Any, rule: SurgeRule) -> None:
        counts = app.Table(f"{kind}-counts", default=int, partitions=settings.warnings_partitions).hopping(
            rule.window_seconds, rule.step_seconds, expires=2 * rule.window_seconds)
        alerted = app.Table(f"{kind}-alerted", default=lambda: None, partitions=settings.warnings_partitions)
        recent = app.Table(f"{kind}-recent", default=list, partitions=settings.warnings_partitions)

        async def count(stream: Any) -> None:
            async for event in stream.events():
                try:
                    key = event.key.decode()
                    case_id = event.value.decode()
                    counts[key] += 1
                    n = counts[key].delta(rule.window_seconds - rule.step_seconds)
                    ids = [c for c in recent[key] if c != case_id][-(_RECENT - 1):] + [case_id]
                    recent[key] = ids
                    REPORTS_COUNTED.labels(kind).inc()
                    window = surge.earliest_window(event.message.timestamp, rule.window_seconds, rule.step_seconds)
                    if surge.should_alert(n, rule.threshold, window, alerted[key]):
                        alerted[key] = window.start
                        await alerts.send(key=key.encode(), value=_alert(kind, key, n, rule, window, ids, office, clock),
                                          headers=_headers(kind, key, window))
                        HOTSPOTS.labels(kind).inc()
                        log.info("hotspot %s %s: %d reports in %ss", kind, key, n, rule.window_seconds)
                except Exception as exc:  # never let faust ack past an exception unnoticed
                    WARNING_ERRORS.labels(kind, type(exc).__name__[:40]).inc()
                    log.warning("early warning (%s): %s: %s", kind, type(exc).__name__, str(exc)[:300])

        count.__name__ = f"count_{kind}"
        count.__qualname__ = count.__name__
        app.agent(topic, name=f"count-{kind}", concurrency=1)(count)

    counting_agent("county_category", by_cc, rules.surges.county_category)
    counting_agent("suspect", by_suspect, rules.surges.suspect)
    return Warnings(app)


def _alert(kind: str, key: str, n: int, rule: SurgeRule, window: surge.Window, ids: list[str], office: str,
           clock: Clock) -> bytes:
    county = category = suspect = None
    if kind == "county_category":
        county, _, category = key.partition("|")
    else:
        suspect = key.split("|", 1)[1]
    return HotspotDetected(
        alert_id=surge.alert_id(kind, key, window), kind=kind, key=key, county=county, category=category,  # type: ignore[arg-type]
        suspect_key=suspect, count=n, threshold=rule.threshold, window_seconds=rule.window_seconds,
        window_start=window.start_utc(), window_end=window.end_utc(), case_ids=ids, office=office,
        detected_at=clock.now(),
    ).model_dump_json().encode()


def _headers(kind: str, key: str, window: surge.Window) -> list[tuple[str, bytes]]:
    envelope = new_envelope(type=HotspotDetected.EVENT_TYPE, source=SOURCE, subject=key, id=surge.alert_id(kind, key, window))
    return envelope.to_headers()


def running_loop(warnings: Warnings) -> Callable[[asyncio.Event], Awaitable[None]]:
    """A service loop that runs the (already built) faust app in this process until `stop`;
    it raises (stopping the process, so a supervisor restarts it) if faust crashed."""

    async def run_warnings(stop: asyncio.Event) -> None:
        await warnings.app.start()
        try:
            while not stop.is_set():
                if warnings.app.crashed:
                    raise RuntimeError(f"the faust early-warning app crashed: {warnings.app.crash_reason!r}")
                try:
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                except asyncio.TimeoutError:
                    pass
        finally:
            await warnings.app.stop()

    return run_warnings
