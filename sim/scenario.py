"""A simulated day of complaints and leads (seeded, no I/O).

`plan_day` turns a seed, a size and a day into a time-ordered list of
`Submission`s — what the hotline centres, the web form, the e-commerce
platforms and the big-data monitor will send, when, and about whom:

* counties weighted by population (`population_weight` of the reference data);
* the seed document's focus categories (clothing, shoes, bags, electronics and
  appliances around "双11", counterfeit drugs, medical devices, cosmetics, false
  advertising, online food, piracy …);
* a shopping-festival day: the monitor's sweeps spike when the festival opens
  at midnight, web complaints surge in the evening;
* repeat offenders (two counterfeit lines, many reports, city-level cases,
  two penalties → the serious-violation list) and major offenders (figures
  crossing the criminal threshold → referral to the police);
* some bad input — wrong credit-code check characters, unknown categories,
  counties outside the city, malformed phone numbers — and duplicates (a
  retried request, a re-sent lead).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from shared.workdays import SHANGHAI
from sim.population import (
    COUNTERFEIT,
    Business,
    Population,
    bad_check_character,
    build_population,
    mobile,
    person_name,
)

Transport = Literal["complaint", "lead_batch", "lead_kafka"]


@dataclass(frozen=True)
class Size:
    hotline: int  # complaints and reports through the hotlines and the web form
    leads: int    # leads from the platforms and the monitor


SIZES: dict[str, Size] = {
    "small": Size(hotline=120, leads=80),
    "medium": Size(hotline=450, leads=350),
    "large": Size(hotline=2400, leads=2400),
}

#: The outside clients of a day: id → (intake kind, transport, channel)
CLIENTS: dict[str, tuple[str, Transport, str]] = {
    "hotline-12315": ("hotline", "complaint", "hotline"),
    "hotline-12345": ("hotline", "complaint", "hotline"),
    "web-12315": ("hotline", "complaint", "web"),
    "platform-qinmall": ("platform", "lead_batch", "platform"),
    "platform-silkroad": ("platform", "lead_batch", "platform"),
    "monitor-bigdata": ("platform", "lead_kafka", "monitoring"),
}

#: Relative weights of categories in complaints (the seed's focus; clothing/shoes/bags/electronics on 双11)
HOTLINE_CATEGORIES: dict[str, float] = {
    "trademarks": 20, "product_quality": 12, "food": 10, "cosmetics": 8, "price_fraud": 7, "false_advertising": 6,
    "counterfeit_drugs": 4, "medical_devices": 3, "fake_reviews": 3, "postal_channel": 3, "cross_border": 3,
    "online_piracy": 3, "unlicensed_workshops": 3, "patents": 2, "software_piracy": 1, "farm_inputs": 2,
    "seedlings": 1, "vehicle_fuel": 1, "disinfection_products": 1, "fake_websites": 1, "unfair_competition": 1,
    "pyramid_selling": 1, "online_fraud": 2,
}
#: Relative weights of categories in platform and monitoring leads
LEAD_CATEGORIES: dict[str, float] = {
    "trademarks": 40, "cosmetics": 12, "online_piracy": 10, "fake_reviews": 10, "cross_border": 8,
    "product_quality": 8, "food": 6, "price_fraud": 6, "software_piracy": 3, "patents": 3, "counterfeit_drugs": 2,
}
#: Hourly weights (Asia/Shanghai, hour 0-23)
HOTLINE_HOURS = (0.15, 0.1, 0.08, 0.06, 0.06, 0.1, 0.25, 0.5, 0.9, 1.2, 1.3, 1.2,
                 0.8, 0.9, 1.2, 1.2, 1.1, 1.0, 0.8, 0.9, 1.0, 0.9, 0.6, 0.3)
WEB_FESTIVAL = (1.5, 1.3, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
                1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 1.5, 2.2, 2.6, 2.4, 1.8)
LEAD_HOURS = (4.0, 3.2, 2.0, 0.8, 0.4, 0.3, 0.3, 0.4, 0.6, 0.8, 0.9, 0.9,
              0.8, 0.8, 0.9, 0.9, 0.9, 0.9, 1.0, 1.2, 1.6, 1.9, 2.0, 2.4)

FLAW_SHARE = 0.045       # of submissions with bad input
DUPLICATE_SHARE = 0.03   # of submissions sent twice
UNKNOWN_CATEGORY = "counterfeit_toys"
OUTSIDE_CITY = "610102"  # 西安市新城区: another city's county

ITEMS = {
    "trademarks": ("运动鞋", "羽绒服", "手提包", "蓝牙耳机", "手表", "白酒"),
    "product_quality": ("电热水壶", "儿童玩具", "充电宝", "电暖器", "插线板"),
    "food": ("外卖套餐", "月饼", "奶粉", "坚果礼盒", "食用油"),
    "cosmetics": ("面霜", "口红", "精华液", "防晒霜"),
    "price_fraud": ("家电", "羽绒服", "手机"),
    "false_advertising": ("保健品", "减肥茶", "净水器"),
    "counterfeit_drugs": ("降压药", "降糖药", "感冒药"),
    "medical_devices": ("血糖仪", "隐形眼镜", "医用口罩"),
    "online_piracy": ("网络小说", "影视剧", "动漫", "教材"),
    "software_piracy": ("办公软件", "设计软件"),
    "cross_border": ("进口奶粉", "海淘化妆品", "进口红酒"),
}


@dataclass(frozen=True)
class Submission:
    """One thing an outside client sends."""

    seq: int
    at: dt.datetime                 # simulated instant (UTC)
    client: str                     # a key of CLIENTS
    transport: Transport
    source_id: str
    payload: dict[str, Any]
    business: int                   # index into the population (-1: none)
    category: str                   # the true category
    flaw: str | None = None         # bad_credit_code | unknown_category | outside_city | bad_phone
    #: the corrected payload, re-submitted `fix_after` later (the operator fixes the typo)
    fixed: dict[str, Any] | None = None
    fix_after: dt.timedelta = dt.timedelta(0)
    #: this submission is sent again `resend_after` later, with the same source id (a retry)
    resend_after: dt.timedelta | None = None


@dataclass
class DayPlan:
    seed: int
    run_id: str
    day: dt.date
    start: dt.datetime             # 00:00 local of the day, UTC
    population: Population
    submissions: list[Submission] = field(default_factory=list)

    def by_transport(self, transport: Transport) -> list[Submission]:
        return [s for s in self.submissions if s.transport == transport]

    def count(self, **what: Any) -> int:
        return sum(1 for s in self.submissions if all(getattr(s, k) == v for k, v in what.items()))


def day_start(day: dt.date) -> dt.datetime:
    """00:00 Asia/Shanghai of `day`, in UTC."""
    return dt.datetime.combine(day, dt.time(0, 0), SHANGHAI).astimezone(dt.timezone.utc)


def stable_random(*parts: object) -> random.Random:
    """A random stream determined by `parts` alone (not by Python's hash seed)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _money(value: float) -> str:
    return str(Decimal(str(round(value, 2))).quantize(Decimal("0.01")))


def _at(rng: random.Random, start: dt.datetime, hours: tuple[float, ...]) -> dt.datetime:
    hour = rng.choices(range(24), weights=hours, k=1)[0]
    return start + dt.timedelta(hours=hour, seconds=rng.uniform(0, 3600))


def _weighted(rng: random.Random, weights: dict[str, float], known: set[str]) -> str:
    items = [(k, w) for k, w in weights.items() if k in known]
    return rng.choices([k for k, _ in items], weights=[w for _, w in items], k=1)[0]


#: the conduct (刑法 article) a simulated business's case names: the shops sell goods, so a trademarks case is
#: 销售假冒注册商标的商品 (214) and held to 214's amounts, not 215's lower ones (issue 14 §1); no random draw
CONDUCT_BY_CATEGORY = {"trademarks": 214}


def _figures(rng: random.Random, b: Business, *, lead: bool, category: str = "") -> dict[str, Any]:
    if b.profile == "major":
        sales = rng.uniform(60_000, 380_000)
        figures: dict[str, Any] = {"sales": _money(sales), "illegal_turnover": _money(sales * rng.uniform(1.0, 1.3)),
                                   "pieces": rng.randrange(200, 5000)}
        if category in CONDUCT_BY_CATEGORY:
            figures["conduct"] = CONDUCT_BY_CATEGORY[category]
        return figures
    if b.profile == "repeat":
        return {"sales": _money(rng.uniform(2_000, 14_000)), "pieces": rng.randrange(5, 120)}
    if lead:
        return {"amount_involved": _money(rng.uniform(200, 9_000)), "pieces": rng.randrange(1, 60)}
    return {"sales": _money(rng.uniform(30, 3_000)), "pieces": rng.randrange(1, 6)}


def _description(rng: random.Random, category: str, b: Business, *, lead: bool) -> str:
    item = rng.choice(ITEMS.get(category, ("商品",)))
    if lead:
        return f"平台监测发现该店铺销售的{item}疑似侵权假冒，链接与正品价格差异明显"
    verb = {"price_fraud": "先提价后打折", "false_advertising": "宣传功效与实际不符", "fake_reviews": "组织刷单炒信",
            "food": "食用后身体不适，疑似变质", "postal_channel": "快递包裹内物品疑似违禁"}.get(category, "疑似假冒伪劣")
    return f"在{b.name}购买的{item}{verb}，要求处理"


def _suspect(rng: random.Random, b: Business, *, lead: bool, online: bool) -> dict[str, Any]:
    s: dict[str, Any] = {}
    knows_code = rng.random() < (0.9 if b.profile != "clean" else 0.7 if lead else 0.55)
    if b.credit_code and knows_code:
        s["credit_code"] = b.credit_code
    if online and b.shop:
        s["platform"], s["shop_id"] = b.shop
        s["listing_url"] = f"https://{b.listing_host}/item/{b.shop[1]}-{rng.randrange(1000, 9999)}"
        if not lead or rng.random() < 0.6:
            s["name"] = b.name
    else:
        s["name"] = b.name
        s["address"] = b.address
    return s


def plan_day(
    *,
    seed: int,
    run_id: str,
    day: dt.date,
    size: Size,
    counties: list[tuple[str, str, Decimal]],
    categories: set[str],
) -> DayPlan:
    """The day's submissions, in time order. `counties` are (code, name, population weight)."""
    rng = stable_random("structure", seed)
    ids = stable_random("identities", seed, run_id)
    start = day_start(day)
    businesses = max(40, int((size.hotline + size.leads) * 0.7))
    population = build_population(rng, ids, size=businesses, counties=counties, known_categories=categories)
    plan = DayPlan(seed=seed, run_id=run_id, day=day, start=start, population=population)
    out: list[Submission] = []
    county_codes = [c[0] for c in counties]

    def complaint(seq: int) -> Submission:
        client = rng.choices(("hotline-12315", "hotline-12345", "web-12315"), weights=(5, 3, 4), k=1)[0]
        web = client.startswith("web")
        hours = tuple(h * f for h, f in zip(HOTLINE_HOURS, WEB_FESTIVAL)) if web else HOTLINE_HOURS
        at = _at(rng, start, hours)
        b = population.pick(rng)
        category = rng.choice(b.categories) if rng.random() < 0.85 else _weighted(rng, HOTLINE_CATEGORIES, categories)
        kind = "report" if rng.random() < 0.2 else "complaint"
        online = b.shop is not None and rng.random() < (0.7 if web else 0.35)
        payload: dict[str, Any] = {
            "kind": kind, "channel": "web" if web else "hotline", "category": category,
            # a business is complained about where it is, now and then by a buyer from another county
            "county": b.county if rng.random() < 0.93 else rng.choices(county_codes, weights=[float(c[2]) for c in counties])[0],
            "description": _description(rng, category, b, lead=False),
            "occurred_on": (day - dt.timedelta(days=rng.randrange(0, 10))).isoformat(),
            "suspect": _suspect(rng, b, lead=False, online=online),
            "figures": _figures(rng, b, lead=False, category=category),
        }
        if kind == "complaint" or rng.random() < 0.5:
            payload["complainant"] = {"name": person_name(ids), "phone": mobile(ids)}
        return Submission(seq, at, client, "complaint", "", payload, b.index, category)

    def lead(seq: int) -> Submission:
        client = rng.choices(("platform-qinmall", "platform-silkroad", "monitor-bigdata"), weights=(5, 2, 4), k=1)[0]
        at = _at(rng, start, LEAD_HOURS)
        b = population.pick(rng)
        online = b.shop is not None
        category = rng.choice(b.categories) if rng.random() < 0.7 else _weighted(rng, LEAD_CATEGORIES, categories)
        if client == "platform-silkroad" and "cross_border" in categories and rng.random() < 0.5:
            category = "cross_border"
        payload = {
            "channel": "monitoring" if client.startswith("monitor") else "platform", "category": category,
            "county": b.county, "description": _description(rng, category, b, lead=True),
            "observed_at": at.isoformat().replace("+00:00", "Z"),
            "suspect": _suspect(rng, b, lead=True, online=online),
            "figures": _figures(rng, b, lead=True, category=category),
            "evidence_urls": [f"https://evidence.example/{client}/{seq}.png"],
        }
        return Submission(seq, at, client, CLIENTS[client][1], "", payload, b.index, category)

    seq = 0
    for _ in range(size.hotline):
        out.append(complaint(seq))
        seq += 1
    for _ in range(size.leads):
        out.append(lead(seq))
        seq += 1

    # bad input and duplicates, decided per submission from the structure stream
    flawed: list[Submission] = []
    for s in out:
        roll = rng.random()
        s = replace(s, source_id=f"{run_id}-{s.client}-{s.seq:06d}", payload={**s.payload})
        s.payload["source_id"] = s.source_id
        if roll < FLAW_SHARE:
            s = _flaw(rng, s)
        elif roll < FLAW_SHARE + DUPLICATE_SHARE:
            s = replace(s, resend_after=dt.timedelta(minutes=rng.uniform(1, 90)))
        flawed.append(s)
    plan.submissions = sorted(flawed, key=lambda s: (s.at, s.seq))
    return plan


def _flaw(rng: random.Random, s: Submission) -> Submission:
    payload = {**s.payload, "suspect": {**s.payload["suspect"]}}
    kinds = ["bad_credit_code", "unknown_category"]
    if s.transport == "complaint":
        kinds += ["outside_city"] + (["bad_phone"] if "complainant" in payload else [])
    kind = rng.choice(kinds)
    fixed: dict[str, Any] | None = {**s.payload}
    if kind == "bad_credit_code":
        code = payload["suspect"].get("credit_code")
        if code is None:  # give the typist a code to get wrong
            kind = "unknown_category"
        else:
            payload["suspect"]["credit_code"] = bad_check_character(code)
    if kind == "unknown_category":
        payload["category"] = UNKNOWN_CATEGORY
    elif kind == "outside_city":
        payload["county"] = OUTSIDE_CITY
        fixed = None  # the caller is sent to the other city's hotline
    elif kind == "bad_phone":
        payload["complainant"] = {**payload["complainant"], "phone": payload["complainant"]["phone"][:-1]}
    if s.transport != "complaint":
        fixed = None  # platforms do not correct rejected rows; the monitor's land in the DLQ
    return replace(s, payload=payload, flaw=kind, fixed=fixed,
                   fix_after=dt.timedelta(minutes=rng.uniform(5, 40)))


def counterfeit_categories() -> tuple[str, ...]:
    return COUNTERFEIT
