"""Test support for notify (used by its tests and its benchmark; not shipped with the service):

- sample events: a valid instance of every event type notify consumes, with
  realistic values, built through the contract models; fields a contract gains
  later are filled with type-based defaults, so the samples keep validating
  while contracts evolve;
- real local receivers: `HttpSink` (aiohttp on a free 127.0.0.1 port, scripted
  answers per path) and `SmtpSink` (aiosmtpd), plus `run_sink_process` for a
  receiver in its own process;
- `NotifyWorld`: one test's schema, topics, consumer group, identity schema and
  directory file, running notify's parts in-process or as settings for
  ``python -m services.notify``;
- the `sink` and `smtp` fixtures (a started `HttpSink` / `SmtpSink`), shared by
  notify's integration tests through tests/integration/conftest.py.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from shared.contracts.cases import Sealed

from shared.clock import WallClock

NOW = datetime(2025, 6, 3, 6, 30, tzinfo=timezone.utc)
_WALL = WallClock()


def _deadline(kind: str = "acknowledgement", bureau: str = "market_regulation@610402", days: int = 7) -> dict[str, Any]:
    due = NOW + timedelta(days=days)
    return {
        "deadline_id": f"dl-{kind}-1", "kind": kind, "bureau": bureau, "starts_at": NOW, "due_at": due,
        "due_date_local": due.date(), "provisional": False, "rule_id": "complaint_accept_decision",
        "rule_version": "2025", "citation": "《市场监督管理投诉举报处理暂行办法》第十五条",
    }


SUSPECT = {"credit_code": "91110000600037341L", "name": "咸阳某某商贸有限公司"}
_REFERRAL = {"case_id": "C-2025-000123", "referral_id": "R-1", "agency": "market_regulation@610402",
             "police": "public_security@610402", "at": NOW}

#: per event type: the fields given explicitly (the rest are defaulted by type)
SAMPLES: dict[str, dict[str, Any]] = {
    "shuangda.credit.penalty-substitutes-prosecution.v1": {
        "record_id": "rec-00000000000000000001", "decision_no": "咸秦市监罚〔2025〕12号", "bureau": "market_regulation@610402",
        "entity_id": "ent-1", "credit_code": "91610402MA6XXXXX00", "party_name": "咸阳某商贸有限公司",
        "category": "trademarks", "case_id": "C-2025-000123", "decided_on": NOW.date(),
        "figures": {"illegal_turnover": Decimal("60000")}, "family": "counterfeit_trademark",
        "threshold_rule": "counterfeit_trademark.turnover", "threshold_version": "2025",
        "threshold": "illegal turnover >= 50,000", "threshold_zh": "非法经营数额在五万元以上",
        "threshold_citation": "法释〔2025〕5号", "threshold_verified": False, "referral_state": "none",
        "liability_citation": "国务院令第310号 第十六条", "procuratorate": "procuratorate@610402",
        "office": "office@610400", "detected_at": NOW,
    },
    "shuangda.case.penalty-over-threshold.v1": {
        "case_id": "C-2025-000123", "bureau": "market_regulation@610402", "category": "trademarks",
        "decision_no": "咸秦市监罚〔2025〕12号", "figures": {"illegal_turnover": Decimal("60000"), "conduct": Decimal("213")},
        "family": "counterfeit_trademark", "threshold_rule": "counterfeit_trademark.turnover", "threshold_version": "2025",
        "threshold_zh": "非法经营数额在五万元以上", "threshold_citation": "法释〔2025〕5号", "threshold_verified": True,
        "referral_state": "rejected", "liability_citation": "国务院令第310号 第十一条第一款, 第十六条第二款",
        "procuratorate": "procuratorate@610402", "office": "office@610400", "detected_at": NOW,
    },
    "shuangda.case.opened.v1": {
        "case_id": "C-2025-000123", "opened_at": NOW, "origin": "complaint", "channel": "hotline",
        "client_id": "hotline-12345", "category": "trademarks", "county": "610402", "counties": ["610402"],
        "suspect": SUSPECT, "figures": {"illegal_turnover": Decimal("60000")}, "tracking_no": "SD250603-00000001",
        "summary": "销售假冒注册商标的运动鞋",
    },
    "shuangda.case.merged.v1": {
        "case_id": "C-2025-000123", "merged_at": NOW, "origin": "report", "channel": "web", "client_id": "web",
        "category": "trademarks", "county": "610404", "counties": ["610402", "610404"], "suspect": SUSPECT,
        "figures": {"illegal_turnover": Decimal("90000")}, "reports_count": 2, "tracking_no": "SD250603-00000002",
    },
    "shuangda.case.assigned.v1": {
        "case_id": "C-2025-000123", "assignment_no": 1, "assigned_at": NOW, "bureau": "market_regulation@610402",
        "bureau_type": "market_regulation", "jurisdiction": "610402", "level": "county", "reasons": [],
        "co_bureaus": ["public_security@610402"], "category": "trademarks", "county": "610402",
        "counties": ["610402"], "origin": "complaint", "tracking_no": "SD250603-00000001",
        "summary": "销售假冒注册商标的运动鞋", "suspect": SUSPECT, "figures": {"illegal_turnover": Decimal("60000")},
        "deadlines": [_deadline()], "directory_version": "2018-market-regulation", "rules_version": "2025.1",
    },
    "shuangda.case.acknowledged.v1": {
        "case_id": "C-2025-000123", "bureau": "market_regulation@610402", "decision": "accept",
        "acknowledged_at": NOW, "seconds_to_acknowledge": 3600.0, "late": False,
    },
    "shuangda.case.transferred.v1": {
        "case_id": "C-2025-000123", "from_bureau": "market_regulation@610402", "to_bureau": "culture@610400",
        "requested_bureau": "culture@610400", "reason": "属于网络盗版，应由文化部门办理", "transfers": 1,
        "escalated": False, "transferred_at": NOW,
    },
    "shuangda.case.escalated.v1": {
        "case_id": "C-2025-000123", "office": "office@610400", "reason": "too_many_transfers",
        "detail": "三次移交仍无主办单位", "transfers": 3, "escalated_at": NOW,
    },
    "shuangda.case.figures-updated.v1": {
        "case_id": "C-2025-000123", "bureau": "market_regulation@610402",
        "figures": {"illegal_turnover": Decimal("150000"), "pieces": Decimal("30000")}, "counties": ["610402", "610404"],
        "reports_count": 3, "threshold_crossed": True, "threshold_rule": "counterfeit_trademark", "updated_at": NOW,
    },
    "shuangda.case.outcome-recorded.v1": {
        "case_id": "C-2025-000123", "bureau": "market_regulation@610402", "outcome": "penalty_decided",
        "decision_no": "咸秦市监罚〔2025〕12号", "penalty_amount": Decimal("35000.50"), "detail": "没收侵权商品",
        "category": "trademarks", "suspect": SUSPECT, "recorded_at": NOW,
    },
    "shuangda.case.joint-meeting-decided.v1": {
        "case_id": "C-2025-000123", "office": "office@610400", "decision": "dismiss",
        "reason": "案情已由市场监管部门单独查处，无需联合执法",
        "bureaus": ["market_regulation@610402", "public_security@610402"], "decided_by": "console.office",
        "decided_at": NOW,
    },
    "shuangda.case.joint-meeting-proposed.v1": {
        "case_id": "C-2025-000123", "office": "office@610400",
        "bureaus": ["market_regulation@610400", "public_security@610400"], "reasons": ["major_amount", "cross_county"],
        "category": "trademarks", "counties": ["610402", "610404"], "proposed_at": NOW,
    },
    "shuangda.case.deadline-revised.v1": {
        "case_id": "C-2025-000123", "previous_due_at": NOW + timedelta(days=8), "previous_provisional": True,
        "deadline": _deadline(days=9), "revised_at": NOW,
    },
    "shuangda.deadline.approaching.v1": {"case_id": "C-2025-000123", "deadline": _deadline(), "detected_at": NOW},
    "shuangda.deadline.breached.v1": {
        "case_id": "C-2025-000123", "deadline": _deadline(), "escalated_to": "office@610400", "detected_at": NOW,
    },
    "shuangda.referral.proposed.v1": {
        **_REFERRAL, "state": "proposed", "proposed_by": "routing",
        "basis": {"kind": "threshold_crossed", "family": "counterfeit_trademark", "condition": "非法经营额 ≥ 50,000 元",
                  "citation": "《刑法》第二百一十三条"},
        "category": "trademarks", "figures": {"illegal_turnover": Decimal("150000")}, "suspect": SUSPECT,
        "next_deadline": _deadline("referral_head_decision", days=3),
    },
    "shuangda.referral.approved.v1": {
        **_REFERRAL, "state": "approved", "next_deadline": _deadline("referral_transfer", days=1),
    },
    "shuangda.referral.rejected.v1": {**_REFERRAL, "state": "rejected", "reason": "证据不足"},
    "shuangda.referral.transferred.v1": {
        **_REFERRAL, "state": "transferred", "category": "trademarks", "suspect": SUSPECT,
        "package": {"transfer_letter": {"doc_no": "咸秦市监移〔2025〕3号", "title": "涉嫌犯罪案件移送书"},
                    "investigation_report": {"doc_no": "DC-2025-3"}, "seized_goods_list": {"doc_no": "WP-2025-3"},
                    "test_reports": [{"doc_no": "JD-2025-7", "title": "鉴定意见书"}]},
        "next_deadline": _deadline("police_filing_decision", bureau="public_security@610402", days=3),
    },
    "shuangda.referral.accepted.v1": {
        **_REFERRAL, "state": "accepted", "police_case_no": "A6104022025000321", "category": "trademarks",
        "suspect": SUSPECT, "after": "transfer", "next_deadline": _deadline("handover", days=3),
    },
    "shuangda.referral.refused.v1": {
        **_REFERRAL, "state": "refused", "reason": "未达立案标准",
        "next_deadline": _deadline("reconsideration_request", days=3),
    },
    "shuangda.referral.reconsideration-requested.v1": {
        **_REFERRAL, "state": "reconsideration_requested", "reason": "数额计算有误",
        "next_deadline": _deadline("reconsideration_decision", bureau="public_security@610402", days=3),
    },
    "shuangda.referral.reconsideration-refused.v1": {
        **_REFERRAL, "state": "reconsideration_refused", "reason": "维持原决定",
    },
    "shuangda.referral.supervision-requested.v1": {
        **_REFERRAL, "state": "supervision_requested", "procuratorate": "procuratorate@610402", "reason": "应当立案而不立案",
    },
    "shuangda.referral.handed-over.v1": {
        **_REFERRAL, "state": "handed_over", "goods_list": {"doc_no": "WP-2025-3", "title": "扣押物品清单"},
        "files": [{"doc_no": "AJ-2025-3"}], "note": "物品已清点",
    },
    "shuangda.case.reopened.v1": {
        "case_id": "C-1", "bureau": "market_regulation@610402", "state": "accepted", "previous_outcome": "no_violation",
        "score": 1, "resolved": False, "comment": "店铺还在卖假货", "tracking_no": "SD250601-7KQ3M9XW", "reopened_at": NOW,
    },
    "shuangda.alert.hotspot-detected.v1": {
        "alert_id": "A-1", "kind": "county_category", "key": "610402|trademarks", "county": "610402",
        "category": "trademarks", "count": 12, "threshold": 10, "window_seconds": 3600.0,
        "window_start": NOW - timedelta(hours=1), "window_end": NOW, "case_ids": ["C-1", "C-2"],
        "office": "office@610400", "detected_at": NOW,
    },
    "shuangda.credit.blacklisted.v1": {
        "listing_id": "L-1", "entity_id": "E-1", "credit_code": "91110000600037341L", "name": "咸阳某某商贸有限公司",
        "rule_id": "heavy_penalty_repeat", "rule_version": "2021", "citation": "《市场监督管理严重违法失信名单管理办法》第二条",
        "reason": "一年内两次因假冒注册商标受到较重行政处罚", "triggering_records": ["REC-1", "REC-2"],
        "authority": "market_regulation@610400", "listed_at": NOW, "expires_on": date(2028, 6, 3),
        "early_removal_from": date(2026, 6, 3), "measures": ["bidding_restriction", "no_honours"],
    },
    "shuangda.credit.delisted.v1": {
        "listing_id": "L-1", "entity_id": "E-1", "credit_code": "91110000600037341L", "rule_id": "heavy_penalty_repeat",
        "reason": "early_removal", "delisted_at": NOW,
    },
}


def sample(model: type[BaseModel], **overrides: Any) -> BaseModel:
    """A valid instance of `model` (an event notify consumes), with `overrides` applied."""
    etype = getattr(model, "EVENT_TYPE")
    data = {**_defaults(model), **SAMPLES.get(etype, {}), **overrides}
    return model.model_validate(data)


def minimal(model: type[BaseModel]) -> BaseModel:
    """An instance of `model` with only its required fields, filled by type (strings "x"): every optional field absent."""
    return model.model_validate(_defaults(model))


def sealed_phone(keyring: Any, phone: str = "13800138000") -> Sealed:
    return keyring.seal(phone, field="phone")


#: a tracking number of the shape intake issues (shared.identifiers.TRACKING_NO_PATTERN)
TRACKING_NO = "SD250603-00000001"


def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.is_required():
            out[name] = TRACKING_NO if name == "tracking_no" else _value_for(info.annotation)
    return out


def _value_for(annotation: Any) -> Any:  # noqa: PLR0911 - one branch per type
    origin = get_origin(annotation)
    if origin is Literal:
        return get_args(annotation)[0]
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return None if len(args) < len(get_args(annotation)) else _value_for(args[0])
    if origin in (list, tuple, set, typing.Sequence):
        return []
    if origin in (dict, typing.Mapping):
        return {}
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return _defaults(annotation)
        if issubclass(annotation, bool):
            return False
        if issubclass(annotation, int):
            return 1
        if issubclass(annotation, float):
            return 1.0
        if issubclass(annotation, Decimal):
            return Decimal("1")
        if issubclass(annotation, datetime):
            return NOW
        if issubclass(annotation, date):
            return NOW.date()
        if issubclass(annotation, str):
            return "x"
    return None


# -- real local receivers and a harness for the integration tests and the benchmark ---------------
# (test-only libraries — aiohttp, aiosmtpd — are imported inside the functions that use them)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float                      # time.monotonic() on arrival
    wall: datetime
    status: int = 0                # what the sink answered (0: hung up / never answered)


@dataclass
class _Script:
    answers: list[Any] = field(default_factory=list)   # int status, (status, headers) or "hang"
    then: Any = 200
    delay: float = 0.0


class HttpSink:
    """A real HTTP receiver on 127.0.0.1 (aiohttp): records every request, answers per path as scripted."""

    def __init__(self, *, listener: Any = None, keep: bool = True) -> None:
        self.port = free_port()
        self.requests: list[Received] = []
        self.scripts: dict[str, _Script] = {}
        self.listener = listener  # called with each answered request
        self.keep = keep
        self._runner: Any = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, answers: list[Any] | None = None, *, then: Any = 200, delay: float = 0.0) -> None:
        """Answer `answers` in order to requests on `path`, then `then` forever; each after `delay` seconds."""
        self.scripts[path] = _Script(list(answers or []), then, delay)

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.read()
        got = Received(request.path, {k.lower(): v for k, v in request.headers.items()}, body, time.monotonic(),
                       _WALL.now())
        if self.keep:
            self.requests.append(got)
        script = self.scripts.get(request.path, _Script())
        answer = script.answers.pop(0) if script.answers else script.then
        if script.delay:
            await asyncio.sleep(script.delay)
        if answer == "hang":
            await asyncio.sleep(3600)
        status, headers = (answer, {}) if isinstance(answer, int) else answer
        got.status = status
        if self.listener is not None:
            self.listener(got)
        return web.Response(status=status, headers=headers, text="ok" if status < 300 else "no")

    async def start(self) -> "HttpSink":
        from aiohttp import web

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class SmtpSink:
    """A real SMTP server on 127.0.0.1 (aiosmtpd, in its own thread); keeps every message received."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Any] = []          # email.message.EmailMessage (policy default)
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        self._controller: Any = None

    def start(self) -> "SmtpSink":
        from email import message_from_bytes
        from email.policy import default

        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                with sink._lock:
                    sink.messages.append(message_from_bytes(envelope.original_content or envelope.content, policy=default))
                    sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()


class NotifyWorld:
    """One test's schema, topics, consumer group, identity schema and directory file."""

    def __init__(self, unique: str, tmp: Path) -> None:
        self.unique = unique
        self.schema = f"notify_{unique}"
        self.identity_schema = f"identity_{unique}"
        self.group = f"notify-{unique}"
        self.tmp = tmp
        self.topics = {
            "intake_topic": f"test.notify.intake.{unique}",
            "routing_topic": f"test.notify.routing.{unique}",
            "referral_topic": f"test.notify.referral.{unique}",
            "alert_topic": f"test.notify.alert.{unique}",
            "credit_topic": f"test.notify.credit.{unique}",
            "notification_topic": f"test.notify.status.{unique}",
        }
        self.directory_path = tmp / f"directory-{unique}.yaml"

    async def create(self, dsn: str, bootstrap: str) -> None:
        """What ``shuangda migrate`` does for notify (`wiring.prepare`), plus the topics it consumes (their
        producers' job) and an identity schema of this test's own."""
        from services.notify.wiring import prepare
        from shared.db import migrate
        from shared.identity import store
        from shared.topics import TopicSpec, ensure_topics, priority_lane

        consumed = [t for name, t in self.topics.items() if name != "notification_topic"]
        consumed += [priority_lane(self.topics[name]) for name in ("intake_topic", "routing_topic")]
        await ensure_topics(bootstrap, [TopicSpec(t, "key", "notify test topic", partitions=3, has_dlq=False)
                                        for t in consumed])
        await prepare(self.settings(dsn, bootstrap))
        await migrate(dsn, self.identity_schema, store.MIGRATIONS, runtime=False)

    def write_directory(self, document: dict[str, Any]) -> Path:
        import yaml

        tmp = self.directory_path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
        tmp.replace(self.directory_path)
        return self.directory_path

    def settings_values(self, **overrides: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "dev": True, "schema": self.schema, "identity_schema": self.identity_schema, "consumer_group": self.group,
            "directory_path": self.directory_path,
            "consumer_poll_ms": 50, "relay_poll_seconds": 0.2, "dispatch_poll_seconds": 0.2,
            "retry_schedule": [0, 0.3, 0.6, 1.2], "retry_jitter": 0.0, "sweep_interval_seconds": 0.5,
            "digest_check_seconds": 0.3, "directory_check_seconds": 0.3, "webhook_timeout_seconds": 2.0,
            "smtp_timeout_seconds": 2.0, "sms_timeout_seconds": 2.0, "lease_seconds": 5.0,
            "breaker_failure_threshold": 3, "breaker_open_seconds": 1.0, "breaker_max_open_seconds": 2.0,
            **self.topics,
        }
        values.update(overrides)
        return values

    def settings(self, dsn: str, bootstrap: str, **overrides: Any) -> Any:
        from services.notify.settings import NotifySettings

        return NotifySettings(kafka_bootstrap=bootstrap, pg_dsn=dsn, **self.settings_values(**overrides))

    def env(self, **overrides: Any) -> dict[str, str]:
        """The same settings as environment variables (for `python -m services.notify`)."""
        out: dict[str, str] = {}
        for key, value in self.settings_values(**overrides).items():
            text = json.dumps(value) if isinstance(value, (list, dict)) else str(value).lower() if isinstance(value, bool) else str(value)
            out[f"SHUANGDA_NOTIFY_{key.upper()}"] = text
        return out

    @contextlib.asynccontextmanager
    async def running(self, settings: Any) -> AsyncIterator[Any]:
        """Notify's parts running in this process, as `shared.runtime.service` runs them (loops, then the
        closers in reverse); yields the parts (``parts.directory``, ``parts.dispatcher`` …, ``parts.app``)."""
        from services.notify.wiring import build
        from shared.db import create_pool
        from shared.runtime.service import build_parts

        pool = await create_pool(settings.dsn, settings.schema, max_size=settings.pool_max_size)
        parts = None
        tasks: list[asyncio.Task[None]] = []
        stop = asyncio.Event()
        try:
            parts = await build_parts(build, settings, pool)
            tasks = [asyncio.create_task(loop(stop)) for loop in parts.loops]
            yield parts
        finally:
            stop.set()
            if tasks:
                await asyncio.wait(tasks, timeout=15)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for close in reversed(parts.closers if parts is not None else []):
                await close()
            await pool.close()

    async def fetch(self, dsn: str, sql: str, *args: Any) -> list[Any]:
        from shared.db import connect

        conn = await connect(dsn, self.schema)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()


def record_for(event: BaseModel, *, key: str | None = None, envelope: Any = None) -> tuple[str | None, list[tuple[str, bytes]], bytes]:
    """A Kafka record (key, CloudEvents headers, JSON value) carrying `event`."""
    from shared.envelope import new_envelope

    case_id = getattr(event, "case_id", None)
    k = key if key is not None else case_id
    env = envelope or new_envelope(type=getattr(type(event), "EVENT_TYPE"), source="/tests", subject=k, correlationid=case_id)
    return k, env.to_headers(), event.model_dump_json().encode()


def run_sink_process(port_file: str, log_file: str, hang_paths: str = "") -> None:
    """An out-of-process HTTP sink for benchmarks: answers 200, hangs on `hang_paths` (comma-separated),
    appends one JSON line per answered request to `log_file` and writes its port to `port_file`.

    It is a bare HTTP/1.1 keep-alive protocol on uvloop, not an aiohttp app: the receivers must be "fast
    local endpoints", and the aiohttp sink topped out near 1,300 requests/s on this machine, below what
    notify is asked to deliver. Arrivals are written in batches (every 20 ms), not flushed one by one."""
    import uvloop

    hang = tuple(filter(None, hang_paths.split(",")))
    ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"
    pending: list[str] = []

    class Receiver(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while True:
                head_end = self.buf.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                head = self.buf[:head_end].decode("latin-1")
                lines = head.split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if len(self.buf) < head_end + 4 + length:
                    return
                body = self.buf[head_end + 4: head_end + 4 + length]
                self.buf = self.buf[head_end + 4 + length:]
                path = lines[0].split(" ")[1]
                if path.startswith(hang):
                    continue  # never answered (the client's timeout ends it)
                wall = _WALL.now().isoformat()
                self.transport.write(ok)
                pending.append(json.dumps({"path": path, "id": headers.get("webhook-id"), "status": 200,
                                           "wall": wall, "body": body.decode("utf-8")}, ensure_ascii=False))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Receiver, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        Path(port_file).write_text(str(port), encoding="utf-8")
        with open(log_file, "a", encoding="utf-8") as out:
            while True:
                await asyncio.sleep(0.02)
                if pending:
                    chunk = "\n".join(pending) + "\n"
                    pending.clear()
                    out.write(chunk)
                    out.flush()

    uvloop.run(main())


def probe(read: Any) -> Any:
    """An async probe for `stack.eventually` from a plain function, e.g. ``probe(lambda: len(sink.requests))``."""

    async def run() -> Any:
        return read()

    return run


# -- fixtures (tests/integration/conftest.py makes them available to every notify test) ---------------


@pytest.fixture
async def sink() -> AsyncIterator[HttpSink]:
    """A started HTTP receiver (webhooks, the SMS gateway) on a free port."""
    s = await HttpSink().start()
    yield s
    await s.stop()


@pytest.fixture
def smtp() -> Any:
    """A started SMTP server on a free port."""
    s = SmtpSink().start()
    yield s
    s.stop()
