"""Random inspections (双随机、一公开, issue 15 §3) in the simulated day, through inspection's API with
the bureaus' own keys: on the morning of the day two county market-regulation bureaus register the
run's businesses of their county in credit's registry (they are the registration authority), give
inspection their risk grades and quality commitments (a third of them committed) once inspection
holds the registrations (credit's events), upload their inspector roster (one inspector with a declared conflict), draw a plan from a seed of the run,
inspect each target during office hours — no problem, problems found, and one violation referred to
a case, which inspection sends to intake as a lead — and publish the results before the day ends.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from sim.api import Answer, call
from sim.clock import SimClock
from sim.population import Business, Population
from sim.registration import Keys
from sim.scenario import stable_random
from sim.schedule import Scheduler
from sim.stats import SimStats
from sim.worktime import after_work_hours

log = logging.getLogger(__name__)

#: county bureaus that draw a plan on the day, and the targets each draws
PLANS = 2
SAMPLE = 6


@dataclass
class Inspections:
    seed: int
    run_id: str
    clock: SimClock
    scheduler: Scheduler
    http: httpx.AsyncClient
    keys: Keys
    population: Population
    stats: SimStats = field(default_factory=SimStats)
    plans: dict[str, str] = field(default_factory=dict)   # plan id → bureau
    #: credit's API: the county bureau registers its businesses in the registry the draw takes them from
    credit: httpx.AsyncClient | None = None

    async def _call(self, bureau: str, method: str, path: str, step: str, body: dict[str, Any] | None = None,
                    client: httpx.AsyncClient | None = None) -> Answer:
        token = self.keys.routing.get(bureau)
        if token is None:
            self.stats.errors["no_key"] += 1
            return Answer(0, {"error": f"no key for {bureau}"})
        answer = await call(client or self.http, method, path, token=token, json=body,
                            idempotency_key=f"{self.run_id}/{bureau}/{step}")
        self.stats.commands[f"inspection:{step.split('/')[0]}:{answer.status}"] += 1
        if not answer.ok:
            self.stats.refusals[f"inspection:{answer.reason}"] += 1
            log.debug("inspection %s by %s: %s %s", step, bureau, answer.status, answer.body)
        return answer

    def plan_day(self, day_start: dt.datetime) -> None:
        """Schedule the day's plans: the counties with the most registered businesses draw one each."""
        by_county: dict[str, list[Business]] = {}
        for b in self.population.businesses:
            if b.credit_code and b.categories:
                by_county.setdefault(b.county, []).append(b)
        counties = sorted(by_county, key=lambda c: (-len(by_county[c]), c))[:PLANS]
        for n, county in enumerate(counties):
            when = after_work_hours(day_start, 0.5 + n)
            entries = by_county[county]
            self.scheduler.at(when, lambda c=county, e=entries: self._draw(f"market_regulation@{c}", e), "inspection plan")

    async def _draw(self, bureau: str, businesses: list[Business]) -> None:
        pool = [{"credit_code": b.credit_code, "name": b.name, "county": b.county, "category": b.categories[0],
                 "risk": "low" if b.profile == "clean" else "high",
                 **({"commitment": {"committed_on": "2026-03-15", "text": "诚信经营，不制售假冒伪劣商品"}} if b.index % 3 == 0 else {})}
                for b in sorted(businesses, key=lambda b: b.index)]
        roster = [{"inspector_id": f"SJ{i:03d}", "name": f"执法员{i}",
                   "conflicts": [pool[0]["credit_code"]] if i == 0 else []} for i in range(6)]
        if self.credit is not None:
            registered = await self._call(bureau, "PUT", "/v1/registry/entities", "register", {"entries": [
                {"credit_code": b.credit_code, "name": b.name, "county": b.county, "categories": list(b.categories)}
                for b in sorted(businesses, key=lambda b: b.index)]}, client=self.credit)
            if not registered.ok:
                return
        for attempt in range(40):   # until inspection holds the registrations (credit's events, a moment behind)
            given = await self._call(bureau, "PUT", "/v1/pools/enterprises", f"pool/{attempt}", {"entries": pool})
            if not given.ok:
                return
            if not given.body.get("not_in_registry"):
                break
            await asyncio.sleep(0.5)
        if not (await self._call(bureau, "PUT", "/v1/pools/inspectors", "roster", {"entries": roster})).ok:
            return
        seed = hashlib.sha256(f"{self.seed}|{self.run_id}|{bureau}".encode()).hexdigest()[:32]
        drawn = await self._call(bureau, "POST", "/v1/plans", "plan", {
            "title": "双随机抽查：商品质量与商标专用权", "scope": {}, "sample_size": min(SAMPLE, len(pool)), "seed": seed})
        if not drawn.ok:
            return
        plan_id, tasks = drawn.body["plan_id"], drawn.body["tasks"]
        self.plans[plan_id] = bureau
        rng = stable_random("inspect", self.seed, plan_id)
        start = self.clock.now()
        for i, task in enumerate(tasks):
            last = i == len(tasks) - 1
            result = "referred_to_case" if last else "problems_found" if rng.random() < 0.3 else "no_problem"
            when = after_work_hours(start, 0.5 + i * 0.6)
            self.scheduler.at(when, lambda t=task, r=result: self._inspect(bureau, plan_id, t, r), "inspection")
        self.scheduler.at(after_work_hours(start, 0.8 + len(tasks) * 0.6), lambda: self._publish(bureau, plan_id),
                          "inspection publication")

    async def _inspect(self, bureau: str, plan_id: str, task: dict[str, Any], result: str) -> None:
        findings = {"no_problem": "", "problems_found": "进货查验记录不全，责令改正",
                    "referred_to_case": "现场发现涉嫌假冒注册商标的商品，移交立案"}[result]
        await self._call(bureau, "POST", f"/v1/plans/{plan_id}/results", f"result/{plan_id}/{task['credit_code']}", {
            "credit_code": task["credit_code"], "result": result, "findings": findings, "inspected_by": task["inspectors"]})

    async def _publish(self, bureau: str, plan_id: str) -> None:
        await self._call(bureau, "POST", f"/v1/plans/{plan_id}:publish", f"publish/{plan_id}")
