"""How the simulated bureaus, the office and the police behave (pure, seeded).

Every decision takes a random stream made from the seed and what the decision
is about (the case's suspect and category, the bureau, the step), never from
the order events happen to arrive in — so a seed gives the same decisions run
after run even though timings vary.

Bureaus differ in pace: most acknowledge within a working day or two, a few
are slow, and an overloaded one lets cases slide past the 7-working-day limit
until the deadline reminder or the breach notice makes it act. Delays are
office hours (`sim.worktime`) for case work and calendar hours for the
referral steps, whose legal periods are counted in days and hours.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from sim.population import COUNTERFEIT, Business
from sim.scenario import stable_random

Pace = Literal["fast", "normal", "slow", "overloaded"]

#: (median office hours to acknowledge, log-normal sigma, share left until reminded)
PACES: dict[str, tuple[float, float, float]] = {
    "fast": (3.0, 0.7, 0.0),
    "normal": (8.0, 0.8, 0.01),
    "slow": (20.0, 0.8, 0.05),
    "overloaded": (34.0, 0.7, 0.25),
}
IP_CATEGORIES = {"trademarks", "patents", "online_piracy", "software_piracy"}

LEGAL_BASIS: dict[str, list[str]] = {
    "trademarks": ["《中华人民共和国商标法》第五十七条", "《中华人民共和国商标法》第六十条"],
    "cosmetics": ["《化妆品监督管理条例》第五十九条"],
    "product_quality": ["《中华人民共和国产品质量法》第五十条"],
    "food": ["《中华人民共和国食品安全法》第一百二十四条"],
    "counterfeit_drugs": ["《中华人民共和国药品管理法》第一百一十六条"],
    "medical_devices": ["《医疗器械监督管理条例》第八十一条"],
    "false_advertising": ["《中华人民共和国广告法》第五十五条"],
    "price_fraud": ["《中华人民共和国价格法》第四十条", "《价格违法行为行政处罚规定》第七条"],
    "online_piracy": ["《中华人民共和国著作权法》第五十三条"],
    "software_piracy": ["《计算机软件保护条例》第二十四条"],
    "patents": ["《中华人民共和国专利法》第六十八条"],
    "fake_reviews": ["《中华人民共和国反不正当竞争法》第二十条"],
    "unfair_competition": ["《中华人民共和国反不正当竞争法》第二十条"],
    "cross_border": ["《中华人民共和国产品质量法》第五十条", "《中华人民共和国电子商务法》第七十五条"],
    "farm_inputs": ["《农药管理条例》第五十五条"],
    "seedlings": ["《中华人民共和国种子法》第七十四条"],
    "vehicle_fuel": ["《中华人民共和国产品质量法》第四十九条"],
    "unlicensed_workshops": ["《无证无照经营查处办法》第十三条"],
    "postal_channel": ["《快递暂行条例》第四十二条"],
    "disinfection_products": ["《消毒管理办法》第四十七条"],
    "fake_websites": ["《中华人民共和国反不正当竞争法》第十八条"],
    "pyramid_selling": ["《禁止传销条例》第二十四条"],
}


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


@dataclass(frozen=True)
class BureauProfile:
    bureau: str
    pace: Pace

    @property
    def median_ack_hours(self) -> float:
        return PACES[self.pace][0]


def bureau_profile(seed: int, bureau: str) -> BureauProfile:
    """A bureau's pace: mostly normal, some fast, a few slow, one in twelve overloaded."""
    if bureau.startswith(("office@", "public_security@")):
        return BureauProfile(bureau, "fast")
    rng = stable_random("pace", seed, bureau)
    pace = rng.choices(("fast", "normal", "slow", "overloaded"), weights=(25, 52, 15, 8), k=1)[0]
    return BureauProfile(bureau, pace)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CaseFacts:
    """What a bureau learns from ``case.assigned`` (the webhook's ``data.event``)."""

    case_id: str
    bureau: str
    bureau_type: str
    jurisdiction: str
    level: str
    category: str
    county: str
    origin: str
    assignment_no: int
    figures: dict[str, Decimal]
    suspect: dict[str, Any]
    co_bureaus: tuple[str, ...] = ()
    transferred_from: str | None = None

    @classmethod
    def from_event(cls, e: dict[str, Any]) -> "CaseFacts":
        return cls(
            case_id=e["case_id"], bureau=e["bureau"], bureau_type=e["bureau_type"], jurisdiction=e["jurisdiction"],
            level=e["level"], category=e["category"], county=e["county"], origin=e["origin"],
            assignment_no=int(e["assignment_no"]), figures={k: Decimal(str(v)) for k, v in (e.get("figures") or {}).items()},
            suspect=dict(e.get("suspect") or {}), co_bureaus=tuple(e.get("co_bureaus") or ()),
            transferred_from=e.get("transferred_from"),
        )

    @property
    def suspect_key(self) -> str:
        s = self.suspect
        return str(s.get("credit_code") or s.get("name") or f"{s.get('platform')}:{s.get('shop_id')}" or s.get("listing"))

    def biggest_amount(self) -> Decimal:
        return max((v for k, v in self.figures.items() if k not in NOT_AMOUNTS), default=Decimal(0))


#: figures that are counts or the conduct's article, not amounts of money
NOT_AMOUNTS = frozenset({"pieces", "copies", "marks_count", "patents_count", "unsold_pieces", "unsold_copies", "works_online",
                         "downloads", "clicks", "members", "conduct", "prior_penalties_2y"})


def case_random(seed: int, facts: CaseFacts, step: str) -> random.Random:
    return stable_random("case", seed, facts.category, facts.suspect_key, facts.assignment_no, step)


@dataclass(frozen=True)
class AckPlan:
    action: Literal["accept", "refuse", "transfer"]
    office_hours: float                 # time to act (office hours)
    reason: str | None = None
    to_bureau: str | None = None
    #: the clerk lets it slide until reminded (deadline.approaching) or told of the breach
    waits_for_reminder: bool = False


REFUSALS = {
    "complaint": ("投诉人未能提供购买凭证等证据材料", "属于民事纠纷，已告知通过诉讼途径解决", "超过投诉受理时效"),
    "report": ("举报线索不具体，无法核查", "举报事项已由其他部门处理"),
    "lead": ("线索信息不完整，经核查店铺已关闭",),
}


def plan_acknowledgement(seed: int, facts: CaseFacts, profile: BureauProfile, city: str) -> AckPlan:
    """Accept, refuse (不予受理) or pass the case on, and how long it takes."""
    rng = case_random(seed, facts, "ack")
    median, sigma, slide = PACES[profile.pace]
    hours = max(0.2, lognormal(rng, median, sigma))
    waits = rng.random() < slide
    roll = rng.random()
    transfer_share = {1: 0.06, 2: 0.03}.get(facts.assignment_no, 0.0)
    if facts.bureau_type == "office":
        return AckPlan("transfer", max(0.5, hours / 4), reason="领导小组办公室指定主办单位", to_bureau=None)
    if roll < transfer_share:
        target = _transfer_target(rng, facts, city)
        if target is not None:
            return AckPlan("transfer", max(0.5, hours / 2), reason=target[1], to_bureau=target[0])
    if roll < transfer_share + 0.05 and facts.biggest_amount() < 50_000:
        reason = rng.choice(REFUSALS.get(facts.origin, REFUSALS["complaint"]))
        return AckPlan("refuse", hours, reason=reason, waits_for_reminder=waits)
    return AckPlan("accept", hours, waits_for_reminder=waits)


def _transfer_target(rng: random.Random, facts: CaseFacts, city: str) -> tuple[str, str] | None:
    options: list[tuple[str, str]] = []
    for co in facts.co_bureaus:
        options.append((co, "案件主要涉及贵单位职责，请予办理"))
    if facts.level == "county":
        options.append((f"{facts.bureau_type}@{city}", "涉案金额较大且跨区域，报请市局办理"))
    county = str(facts.suspect.get("credit_code") or "")[2:8]
    if county.isdigit() and county != facts.jurisdiction and county.startswith(city[:4]) and county != city:
        options.append((f"{facts.bureau_type}@{county}", "被投诉主体注册地不在本辖区，移交属地办理"))
    options = [o for o in options if o[0] != facts.bureau]
    return rng.choice(options) if options else None


@dataclass(frozen=True)
class PenaltyPlan:
    penalty_types: list[str]
    fine: Decimal | None
    confiscated: Decimal | None
    aggravated: bool
    intentional: bool
    legal_basis: list[str]
    violation: str
    content: str


@dataclass(frozen=True)
class InvestigationPlan:
    office_hours: float
    outcome: Literal["penalty", "no_violation", "mediated", "not_established", "refer"]
    penalty: PenaltyPlan | None = None
    detail: str = ""


def plan_investigation(seed: int, facts: CaseFacts, business: Business | None) -> InvestigationPlan:
    """After accepting: what the investigation finds, and how long it takes."""
    rng = case_random(seed, facts, "investigate")
    profile = business.profile if business is not None else "clean"
    hours = max(2.0, lognormal(rng, 20.0 if profile == "clean" else 28.0, 0.6))
    if profile == "major" or facts.biggest_amount() >= 50_000:
        if facts.category in IP_CATEGORIES or rng.random() < 0.8:
            return InvestigationPlan(hours, "refer", detail="涉案金额达到刑事追诉标准，涉嫌犯罪")
    roll = rng.random()
    share = {"repeat": 0.95, "major": 0.9}.get(profile, 0.5 if facts.origin != "complaint" else 0.42)
    if roll < share:
        return InvestigationPlan(hours, "penalty", penalty=plan_penalty(rng, facts, business))
    roll = rng.random()
    if facts.origin == "complaint":
        return InvestigationPlan(hours, "mediated" if roll < 0.55 else "no_violation", detail="经调解双方达成一致" if roll < 0.55 else "经查未发现违法行为")
    return InvestigationPlan(hours, "not_established" if roll < 0.5 else "no_violation", detail="经核查举报事项不成立")


def plan_penalty(rng: random.Random, facts: CaseFacts, business: Business | None) -> PenaltyPlan:
    repeat = business is not None and business.profile == "repeat"
    amount = facts.biggest_amount()
    base = max(Decimal("2000"), amount * Decimal(str(round(rng.uniform(1.0, 3.0), 2))))
    aggravated = repeat and rng.random() < 0.5
    if aggravated:
        base *= Decimal("1.5")
    fine = base.quantize(Decimal("1"))
    types = ["fine"]
    confiscated = None
    if facts.category in COUNTERFEIT or facts.category in IP_CATEGORIES:
        types.append("confiscation_of_property")
        if amount > 0:
            types.append("confiscation_of_gains")
            confiscated = (amount * Decimal("0.3")).quantize(Decimal("0.01"))
    if amount < 500 and not repeat and rng.random() < 0.4:
        types, fine, confiscated = ["warning"], None, None
    intentional = facts.category in IP_CATEGORIES and (repeat or rng.random() < 0.3)
    basis = LEGAL_BASIS.get(facts.category, ["《中华人民共和国行政处罚法》第二十八条"])
    violation = {"trademarks": "销售侵犯注册商标专用权的商品", "cosmetics": "经营假冒化妆品",
                 "product_quality": "销售不合格产品", "food": "经营不符合食品安全标准的食品",
                 "price_fraud": "利用虚假的或者使人误解的价格手段诱骗消费者"}.get(facts.category, "违反相关法律法规")
    content = "警告" if types == ["warning"] else f"罚款{fine}元" + ("，没收违法所得和侵权商品" if confiscated else "")
    return PenaltyPlan(types, fine, confiscated, aggravated, intentional, basis, violation, content)


@dataclass(frozen=True)
class StepPlan:
    hours: float               # calendar hours
    decision: str              # approve/reject, open/refuse, reconsider/supervise/settle
    reason: str | None = None


def plan_head_decision(seed: int, facts: CaseFacts) -> StepPlan:
    rng = case_random(seed, facts, "head")
    approve = rng.random() < 0.88
    return StepPlan(max(1.0, lognormal(rng, 26.0, 0.6)), "approve" if approve else "reject",
                    None if approve else "经集体讨论，证据尚不足以认定涉嫌犯罪，继续按行政案件办理")


def plan_transfer_to_police(seed: int, facts: CaseFacts) -> StepPlan:
    rng = case_random(seed, facts, "transfer")
    return StepPlan(max(0.5, lognormal(rng, 7.0, 0.8)), "transfer")


def plan_police_decision(seed: int, facts: CaseFacts, after: str) -> StepPlan:
    rng = case_random(seed, facts, f"police:{after}")
    share = {"transfer": 0.72, "reconsideration": 0.4, "supervision": 0.65}.get(after, 0.6)
    hours = max(2.0, lognormal(rng, 36.0 if after != "supervision" else 70.0, 0.5))
    if rng.random() < share:
        return StepPlan(hours, "open")
    return StepPlan(hours, "refuse", rng.choice(("现有证据不足以证明有犯罪事实", "涉案数额未达到立案追诉标准",
                                                 "犯罪嫌疑人身份无法确认")))


def plan_after_refusal(seed: int, facts: CaseFacts, round_: str) -> StepPlan:
    rng = case_random(seed, facts, f"refused:{round_}")
    hours = max(1.0, lognormal(rng, 30.0, 0.5))
    roll = rng.random()
    if round_ == "first" and roll < 0.4:
        return StepPlan(hours, "reconsider", "补充鉴定意见，涉案金额已达追诉标准，请予复议")
    if roll < 0.6:
        return StepPlan(hours, "supervise", "公安机关不予立案理由不成立，提请检察机关立案监督")
    return StepPlan(hours, "settle", "移送未获立案，依法作出行政处罚")


def plan_handover(seed: int, facts: CaseFacts) -> StepPlan:
    rng = case_random(seed, facts, "handover")
    return StepPlan(max(1.0, lognormal(rng, 30.0, 0.6)), "hand_over")


@dataclass
class Ledger:
    """Per-run counters of what the simulated back ends decided (for the live view and tests)."""

    decided: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.decided[what] = self.decided.get(what, 0) + 1
