"""The end-to-end stack: the seven services as processes on the real Kafka and
Postgres, under their own schemas, consumer groups, topics and ports
(`sim.stackenv.Isolated`), with notify delivering to a loopback webhook and
SMS gateway that verifies every signature (`sim.receiver`).

One stack serves the whole e2e session (starting seven services costs tens of
seconds on a small machine); each test makes its own businesses and cases, so
tests never see each other's records.
"""
from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

import asyncpg
import httpx
import pytest
import pytest_asyncio

from shared.workdays import SHANGHAI
from sim import stackenv
from sim.api import Answer, call
from sim.directory import build_directory, write_directory
from sim.population import credit_code, mobile
from sim.receiver import Arrival, Receiver
from sim.registration import (
    Keys,
    all_bureaus,
    register_appraisers,
    register_bureau_keys,
    register_credit_bureaus,
    register_intake_clients,
)
from sim.scenario import stable_random
from tests.support import stack


@dataclass
class E2E:
    """The running stack and what a test needs to drive and watch it."""

    iso: stackenv.Isolated
    dsn: str
    bootstrap: str
    receiver: Receiver
    keys: Keys
    log_dir: Path
    http: httpx.AsyncClient
    today: dt.date
    #: the services' process ids (for what only the operating system can tell, e.g. memory)
    pids: dict[str, int] = field(default_factory=dict)
    _seq: int = 0
    _rng: Any = field(default=None)

    def __post_init__(self) -> None:
        self._rng = stable_random("e2e", self.iso.unique)

    # -- names ------------------------------------------------------------------------------

    @property
    def hotline(self) -> str:
        return f"hotline-{self.iso.unique}"

    @property
    def monitor(self) -> str:
        return f"monitor-{self.iso.unique}"

    @property
    def centre(self) -> str:
        """The appraisal centre (a principal of kind ``appraisal``)."""
        return f"centre-{self.iso.unique}"

    def topic(self, name: str) -> str:
        return self.iso.topic(name)

    def new_code(self, county: str = "610402") -> str:
        return credit_code(self._rng, county)

    def source_id(self, what: str = "c") -> str:
        self._seq += 1
        return f"e2e-{self.iso.unique}-{what}-{self._seq:04d}"

    # -- driving --------------------------------------------------------------------------

    async def complain(self, *, code: str, category: str = "trademarks", county: str = "610402",
                       figures: dict[str, Any] | None = None, name: str | None = None) -> dict[str, Any]:
        body = {
            "source_id": self.source_id(), "kind": "complaint", "channel": "hotline", "category": category,
            "county": county, "description": "在商场买到疑似假冒的运动鞋，要求处理",
            "suspect": {"credit_code": code, "name": name or f"咸阳{code[-6:]}商贸有限公司"},
            "complainant": {"name": "张三", "phone": mobile(self._rng)},
            "figures": figures or {"sales": "899.00", "pieces": 1},
        }
        answer = await call(self.http, "POST", f"{self.iso.url('intake')}/v1/complaints", token=self.keys.intake[self.hotline],
                            json=body, idempotency_key=body["source_id"])
        assert answer.status == 201, answer.body
        return answer.body  # type: ignore[no-any-return]

    async def act(self, bureau: str, case_id: str, path: str, body: dict[str, Any]) -> Answer:
        return await call(self.http, "POST", f"{self.iso.url('routing')}/v1/cases/{case_id}/{path}",
                          token=self.keys.routing[bureau], json=body)

    async def on(self, service: str, method: str, path: str, *, token: str, json: Any = None) -> Answer:
        """A call to one of the services' APIs (custody, appraisal, inspection …) with a principal's key."""
        return await call(self.http, method, f"{self.iso.url(service)}{path}", token=token, json=json)

    async def read_case(self, bureau: str, case_id: str) -> Answer:
        return await call(self.http, "GET", f"{self.iso.url('routing')}/v1/cases/{case_id}", token=self.keys.routing[bureau])

    async def penalty(self, bureau: str, *, case_id: str, code: str, category: str = "trademarks",
                      fine: str = "20000.00", **extra: Any) -> tuple[str, Answer]:
        """Decide a penalty through credit's API; returns the decision number and the answer."""
        decision_no = f"咸{bureau[-2:]}罚〔{self.today.year}〕{self.source_id('p')}号"
        body = {
            "decision_no": decision_no,
            "party": {"kind": "organisation", "credit_code": code, "name": f"咸阳{code[-6:]}商贸有限公司"},
            "category": category, "violation": "销售侵犯注册商标专用权的商品",
            "legal_basis": ["《中华人民共和国商标法》第六十条"], "penalty_types": ["fine", "confiscation_of_property"],
            "fine_amount": fine, "content": f"罚款{fine}元，没收侵权商品", "decided_on": self.today.isoformat(),
            "case_id": case_id, **extra,
        }
        return decision_no, await call(self.http, "POST", f"{self.iso.url('credit')}/v1/penalties",
                                       token=self.keys.credit[bureau], json=body)

    async def entity(self, code: str) -> Answer:
        token = next(iter(self.keys.credit.values()))
        return await call(self.http, "GET", f"{self.iso.url('credit')}/v1/entities/{code}", token=token)

    # -- watching ------------------------------------------------------------------------------

    async def webhook(self, event_type: str, *, case_id: str | None = None, recipient: str | None = None,
                      timeout: float = 90.0, where: Any = None) -> Arrival:
        def match(a: Arrival) -> bool:
            data = a.body.get("data") or {}
            return (a.type == event_type and (case_id is None or a.case_id == case_id)
                    and (recipient is None or a.recipient == recipient)
                    and (where is None or where(data.get("event") or {})))

        async def find() -> list[Arrival]:
            return [a for a in self.receiver.arrivals if match(a)]

        found = await stack.eventually(find, until=bool, timeout=timeout, interval=0.3,
                                       what=f"{event_type} webhook for {case_id or recipient}")
        return found[0]

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()


@pytest_asyncio.fixture(scope="session")
async def e2e(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[E2E]:
    unique = stackenv.new_unique("e")
    iso = stackenv.Isolated.make(unique)
    dsn, bootstrap = stack.dsn(), stack.bootstrap()
    work = tmp_path_factory.mktemp("e2e")
    today = dt.datetime.now(SHANGHAI).date()
    await stackenv.prepare(iso, dsn, bootstrap)
    receiver = Receiver(secrets={}, keep=True)
    port = await receiver.start()
    document, secrets = build_directory(f"http://127.0.0.1:{port}", today, version=f"e2e-{unique}")
    receiver.secrets.update(secrets)
    directory = write_directory(work / "directory.yaml", document)
    keys = Keys()
    keys.intake = await register_intake_clients(dsn, iso.schemas.identity, bootstrap,
                                                {f"hotline-{unique}": "hotline", f"monitor-{unique}": "platform"},
                                                [f"monitor-{unique}"])
    bureaus = all_bureaus(today)
    keys.routing = await register_bureau_keys(dsn, iso.schemas.identity, bureaus, label="e2e")
    keys.credit = await register_credit_bureaus(dsn, iso.schemas.identity, bureaus)
    keys.appraisal = await register_appraisers(dsn, iso.schemas.identity, [f"centre-{unique}"])
    env = iso.env(directory_path=directory, sms_url=f"http://127.0.0.1:{port}/sms")
    # 以罚代刑 alerts wait for a late referral step of their case; a short wait keeps the e2e tests quick
    env["SHUANGDA_CREDIT_SUBSTITUTION_GRACE_SECONDS"] = "2"
    services = stackenv.Services(iso, env, work / "logs", spawner=stack.spawn)
    services.start()
    http = httpx.AsyncClient(trust_env=False, timeout=30)
    try:
        await services.wait_ready(timeout=120)
        yield E2E(iso, dsn, bootstrap, receiver, keys, work / "logs", http, today,
                  pids={name: proc.pid for name, proc in services.procs.items()})
    finally:
        await http.aclose()
        await asyncio.to_thread(services.stop)
        await receiver.stop()
        await stackenv.cleanup(iso, dsn, bootstrap)
