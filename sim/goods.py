"""Seized goods and their appraisal in the simulated day (issue 15 §1–2), through custody's and
appraisal's APIs with the bureaus', the police's, the office's and the appraisal centre's own keys.

When a bureau accepts a case about goods (`on_accepted`), it may seize them: a lot registered in
custody, an appraisal asked of the centre, the goods handed to the centre, which receives them
(custody's receipt is the samples' arrival, carried to appraisal on Kafka), reports — a rapid
appraisal: a few office hours — a verdict with a valuation (routing takes it into the case's figures: a referral may follow) and hands the goods
back. When the case ends in a penalty (`on_concluded`), the goods go as decided: confiscated and
auctioned, or — toxic or harmful goods — destroyed under a plan the office approves. When the
police open a case on the referral (`on_police_accepted`), the goods are handed to them within
Order 310's three days. Each step waits for office hours; what is decided comes from the seed.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from shared.workdays import SHANGHAI
from sim import behaviour as bh
from sim.api import Answer, call
from sim.clock import SimClock
from sim.population import COUNTERFEIT
from sim.registration import Keys
from sim.scenario import stable_random
from sim.schedule import Scheduler
from sim.stats import SimStats
from sim.worktime import after_work_hours

log = logging.getLogger(__name__)

#: categories whose goods are toxic or harmful (destroyed, never auctioned) or perishable
TOXIC = frozenset({"counterfeit_drugs", "cosmetics", "vehicle_fuel", "farm_inputs", "disinfection_products"})
PERISHABLE = frozenset({"food", "seedlings"})
#: the appraisal asked for by category: authenticity of marks, else quality testing
AUTHENTICITY = frozenset({"trademarks", "cross_border", "cosmetics"})
#: share of accepted cases about goods on which goods are seized
SEIZE_SHARE = 0.6
#: how often a registration refused as `unknown_case` (custody has not yet seen the assignment) is tried
UNKNOWN_CASE_ATTEMPTS = 5


@dataclass
class Lot:
    lot_id: str
    case_id: str
    bureau: str
    hazard: str
    holder: str
    #: what is waiting for the goods to be back with the bureau
    then: list[str] = field(default_factory=list)
    police: str | None = None
    done: bool = False


@dataclass
class SeizedGoods:
    seed: int
    run_id: str
    clock: SimClock
    scheduler: Scheduler
    custody: httpx.AsyncClient
    appraisal: httpx.AsyncClient
    keys: Keys
    centre: str
    office: str
    stats: SimStats = field(default_factory=SimStats)
    lots: dict[str, list[Lot]] = field(default_factory=dict)
    _seized: int = 0

    # -- calls --------------------------------------------------------------------------------------

    async def _call(self, http: httpx.AsyncClient, who: str, method: str, path: str, step: str,
                    body: dict[str, Any] | None = None, content: bytes | None = None) -> Answer:
        token = self.keys.routing.get(who) or self.keys.appraisal.get(who)
        name = f"{'custody' if http is self.custody else 'appraisal'}:{step}"
        if token is None:
            self.stats.errors["no_key"] += 1
            return Answer(0, {"error": f"no key for {who}"})
        answer = await call(http, method, path, token=token, json=body, content=content,
                            idempotency_key=f"{self.run_id}/{path}/{step}" if method == "POST" else None)
        self.stats.commands[f"{name}:{answer.status}"] += 1
        if not answer.ok:
            self.stats.refusals[f"{name}:{answer.reason}"] += 1
            log.debug("%s %s by %s: %s %s", name, path, who, answer.status, answer.body)
        return answer

    def _later(self, hours: float) -> dt.datetime:
        return after_work_hours(self.clock.now(), hours)

    # -- the bureau seizes, the centre appraises ---------------------------------------------------

    def on_accepted(self, facts: bh.CaseFacts) -> None:
        rng = stable_random("seize", self.seed, facts.case_id)
        if facts.case_id in self.lots or (facts.category not in COUNTERFEIT and facts.category not in TOXIC):
            return
        if self._seized and rng.random() >= SEIZE_SHARE:
            return
        self._seized += 1
        self.lots[facts.case_id] = []
        self.scheduler.at(self._later(rng.uniform(0.25, 1.0)), lambda: self._seize(facts), "seize goods")

    async def _seize(self, facts: bh.CaseFacts, attempt: int = 1) -> None:
        rng = stable_random("goods", self.seed, facts.case_id)
        hazard = "toxic_harmful" if facts.category in TOXIC else "perishable" if facts.category in PERISHABLE else "ordinary"
        pieces = int(facts.figures.get("pieces") or rng.randint(10, 400))
        value = Decimal(str(facts.figures.get("sales") or rng.randint(2_000, 90_000))).quantize(Decimal("0.01"))
        answer = await self._call(self.custody, facts.bureau, "POST", "/v1/lots", f"register/{facts.case_id}", {
            "case_id": facts.case_id, "hazard": hazard, "location": f"{facts.county} 公物仓 {rng.choice('ABCD')}-{rng.randint(1, 40):02d}",
            "items": [{"description": f"涉案商品（{facts.category}）", "quantity": str(max(1, pieces)), "unit": "件",
                       "declared_value": str(value)}]})
        if answer.status == 404 and answer.reason == "unknown_case" and attempt < UNKNOWN_CASE_ATTEMPTS:
            # custody learns the case's bureau from routing's events: a moment behind the acceptance
            self.scheduler.at(self._later(0.1), lambda: self._seize(facts, attempt + 1), "seize goods again")
            return
        if not answer.ok:
            return
        lot = Lot(answer.body["lot_id"], facts.case_id, facts.bureau, hazard, holder=facts.bureau)
        self.lots.setdefault(facts.case_id, []).append(lot)
        kind = "authenticity" if facts.category in AUTHENTICITY else "quality"
        asked = await self._call(self.appraisal, facts.bureau, "POST", "/v1/appraisals", f"request/{lot.lot_id}", {
            "case_id": facts.case_id, "kind": kind, "provider": self.centre, "lot_id": lot.lot_id,
            "subject": f"涉案商品 {pieces} 件"})
        if not asked.ok:
            return
        aid = asked.body["appraisal_id"]
        self.scheduler.at(self._later(rng.uniform(0.25, 1.0)), lambda: self._samples(lot, aid, kind, value), "appraisal accepted")

    async def _samples(self, lot: Lot, aid: str, kind: str, value: Decimal) -> None:
        if not (await self._call(self.appraisal, self.centre, "POST", f"/v1/appraisals/{aid}:accept", "accept")).ok:
            return
        if lot.holder != lot.bureau or lot.done:
            return
        sent = await self._call(self.custody, lot.bureau, "POST", f"/v1/lots/{lot.lot_id}/handovers", "to_centre",
                                {"to": self.centre, "purpose": "appraisal"})
        if not sent.ok:
            return
        if (await self._call(self.custody, self.centre, "POST", f"/v1/lots/{lot.lot_id}:receive", "centre_receives")).ok:
            lot.holder = self.centre
        rng = stable_random("appraise", self.seed, aid)
        self.scheduler.at(self._later(rng.uniform(1.0, 4.0)), lambda: self._report(lot, aid, kind, value), "appraisal result")

    async def _report(self, lot: Lot, aid: str, kind: str, value: Decimal) -> None:
        rng = stable_random("verdict", self.seed, aid)
        bad = rng.random() < 0.85
        verdict = ("counterfeit" if bad else "genuine") if kind == "authenticity" else ("substandard" if bad else "conforming")
        valuation = (value * Decimal(str(round(rng.uniform(0.8, 3.0), 2)))).quantize(Decimal("0.01"))
        await self._call(self.appraisal, self.centre, "POST", f"/v1/appraisals/{aid}/result", "result", {
            "verdict": verdict, "valuation": str(valuation),
            "report": {"doc_no": f"咸快鉴〔{self.clock.now().astimezone(SHANGHAI).year}〕{aid[-8:]}号", "title": "鉴定意见书"}})
        if lot.holder == self.centre:
            back = await self._call(self.custody, self.centre, "POST", f"/v1/lots/{lot.lot_id}/handovers", "back",
                                    {"to": lot.bureau, "purpose": "return_to_bureau"})
            if back.ok and (await self._call(self.custody, lot.bureau, "POST", f"/v1/lots/{lot.lot_id}:receive",
                                             "bureau_receives")).ok:
                lot.holder = lot.bureau
        for what in lot.then:
            await self._next(lot, what)
        lot.then.clear()

    # -- the case ends ----------------------------------------------------------------------------

    def on_concluded(self, case_id: str) -> None:
        """The case ended in a penalty: the goods go as decided (confiscated; destroyed if harmful)."""
        for lot in self.lots.get(case_id, []):
            self._when_back(lot, "dispose")

    def on_police_accepted(self, case_id: str, police: str | None) -> None:
        """The police opened a case on the referral: the goods follow within Order 310's three days."""
        for lot in self.lots.get(case_id, []):
            lot.police = police
            self._when_back(lot, "police")

    def _when_back(self, lot: Lot, what: str) -> None:
        if lot.done:
            return
        if lot.holder != lot.bureau:
            lot.then.append(what)
            return
        rng = stable_random("after", self.seed, lot.lot_id, what)
        self.scheduler.at(self._later(rng.uniform(0.5, 6.0)), lambda: self._next(lot, what), what)

    async def _next(self, lot: Lot, what: str) -> None:
        if lot.done or lot.holder != lot.bureau:
            return
        if what == "police" and lot.police:
            sent = await self._call(self.custody, lot.bureau, "POST", f"/v1/lots/{lot.lot_id}/handovers", "to_police",
                                    {"to": lot.police, "purpose": "police"})
            if sent.ok and (await self._call(self.custody, lot.police, "POST", f"/v1/lots/{lot.lot_id}:receive",
                                             "police_receives")).ok:
                lot.holder, lot.done = lot.police, True
            return
        if what != "dispose":
            return
        today = self.clock.now().astimezone(SHANGHAI).date()
        outcome = "destroyed" if lot.hazard == "toxic_harmful" else "confiscated_auctioned"
        decided = await self._call(self.custody, lot.bureau, "POST", f"/v1/lots/{lot.lot_id}/decision", "decision", {
            "outcome": outcome, "document_no": f"没收决定-{lot.lot_id[-10:]}", "decided_on": today.isoformat()})
        if not decided.ok:
            return
        if outcome == "confiscated_auctioned":
            if (await self._call(self.custody, lot.bureau, "POST", f"/v1/lots/{lot.lot_id}:release", "release",
                                 {"outcome": outcome})).ok:
                lot.done = True
            return
        plan = await self._call(self.custody, lot.bureau, "POST", "/v1/destruction-plans", f"plan/{lot.lot_id}", {
            "lot_ids": [lot.lot_id], "scheduled_on": (today + dt.timedelta(days=2)).isoformat(),
            "facility": "市危险废物集中处置中心", "witnesses": ["市场监管局 王某", "生态环境局 李某"]})
        if not plan.ok:
            return
        plan_id = plan.body["plan_id"]
        rng = stable_random("destroy", self.seed, plan_id)

        async def approve_and_destroy() -> None:
            if not (await self._call(self.custody, self.office, "POST", f"/v1/destruction-plans/{plan_id}:approve",
                                     "approve")).ok:
                return
            photos = []
            for n in (1, 2):  # the destruction's photos, added to the plan before the record names them
                added = await self._call(self.custody, lot.bureau, "POST", f"/v1/destruction-plans/{plan_id}/files",
                                         f"photo/{n}", content=scene_photo(f"{plan_id}/{n}"))
                if added.ok:
                    photos.append(added.body["sha256"])
            if photos and (await self._call(self.custody, lot.bureau, "POST", f"/v1/destruction-plans/{plan_id}:record", "record", {
                    "photos": photos,
                    "environmental_cost": str(Decimal(rng.randint(300, 5_000)))})).ok:
                lot.done = True

        self.scheduler.at(self._later(rng.uniform(2.0, 10.0)), approve_and_destroy, "destruction")


def scene_photo(label: str) -> bytes:
    """A small JPEG standing for a photo of the scene: SOI, a JFIF header, a comment naming `label`
    (custody strips comments, as it strips Exif), a quantisation table, the scan and EOI."""
    import struct

    def segment(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    return (b"\xff\xd8" + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
            + segment(0xFE, label.encode()) + segment(0xDB, b"\x00" + bytes(range(64)))
            + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + label.encode() + b"\xff\xd9")
