"""The simulated city's businesses, shops and people (seeded, no I/O).

Two random streams are used on purpose:

* ``rng`` (from the seed alone) decides the *structure*: where a business is,
  what it sells, whether it offends, how often and how badly;
* ``ids`` (from the seed and the run id) decides the *identities*: credit codes,
  names, shop ids and phone numbers.

So one seed always gives the same day, while two runs against the same
database never share a suspect (intake would otherwise merge the new run's
reports into the old run's cases, and credit would find the old penalties).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Sequence

from shared.identifiers import USCC_ALPHABET, resident_id_check_character, uscc_check_character

#: What a business trades in, with the categories it is complained about (most likely first).
TRADES: dict[str, tuple[str, tuple[str, ...]]] = {
    "apparel": ("服饰", ("trademarks", "product_quality", "cross_border")),
    "bags": ("箱包", ("trademarks", "product_quality")),
    "electronics": ("电子科技", ("trademarks", "product_quality", "patents", "software_piracy")),
    "appliances": ("家电", ("product_quality", "trademarks", "price_fraud")),
    "cosmetics": ("化妆品", ("cosmetics", "false_advertising", "trademarks")),
    "pharmacy": ("医药", ("counterfeit_drugs", "medical_devices", "false_advertising")),
    "food": ("食品", ("food", "false_advertising", "unlicensed_workshops")),
    "restaurant": ("餐饮管理", ("food",)),
    "media": ("文化传媒", ("online_piracy", "software_piracy", "false_advertising")),
    "trading": ("商贸", ("trademarks", "price_fraud", "fake_reviews", "unfair_competition")),
    "ecommerce": ("电子商务", ("fake_reviews", "price_fraud", "trademarks", "fake_websites")),
    "logistics": ("物流", ("postal_channel", "cross_border")),
    "farm": ("农资", ("farm_inputs",)),
    "nursery": ("苗木", ("seedlings",)),
    "fuel": ("石化", ("vehicle_fuel",)),
    "hygiene": ("卫生用品", ("disinfection_products", "product_quality")),
}
TRADE_WEIGHTS: dict[str, float] = {
    "apparel": 14, "bags": 6, "electronics": 9, "appliances": 6, "cosmetics": 8, "pharmacy": 5, "food": 9,
    "restaurant": 5, "media": 4, "trading": 12, "ecommerce": 8, "logistics": 3, "farm": 3, "nursery": 1,
    "fuel": 1, "hygiene": 2,
}
#: categories 制售假冒伪劣 (credit's repeat_counterfeit list): a repeat offender trades in two of them
COUNTERFEIT = ("trademarks", "cosmetics", "product_quality", "counterfeit_drugs", "unlicensed_workshops",
               "cross_border", "farm_inputs", "vehicle_fuel", "seedlings")

_CORES = ("华", "兴", "秦", "汉", "丰", "瑞", "鑫", "泰", "嘉", "宏", "盛", "恒", "达", "源", "茂", "祥", "福", "康", "安",
          "润", "和", "信", "诚", "德", "隆", "昌", "顺", "雅", "美", "亿", "金", "博", "锦", "宇", "晟", "凯", "远", "骏")
_FORMS = ("有限公司", "有限责任公司", "商行", "经营部", "店")
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌辉鹏宇浩婷雪琳晨欣怡"
PLATFORMS = ("qinmall", "silkroad-x", "weishop")


@dataclass(frozen=True)
class Business:
    """A business the simulated complaints and leads are about."""

    index: int
    name: str
    county: str
    trade: str
    credit_code: str | None
    #: where it sells online, if it does: (platform, shop id)
    shop: tuple[str, str] | None
    #: categories it is complained about, most likely first
    categories: tuple[str, ...]
    #: "clean" (an ordinary complaint now and then), "repeat" (several counterfeit lines,
    #: several cases, ends up blacklisted), "major" (figures that cross the criminal threshold)
    profile: str
    #: relative chance of being the subject of a complaint or lead
    weight: float
    address: str = ""

    @property
    def listing_host(self) -> str | None:
        return f"{self.shop[0]}.shop.example" if self.shop else None


@dataclass
class Population:
    businesses: list[Business]
    weights: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.weights = [b.weight for b in self.businesses]

    def pick(self, rng: random.Random) -> Business:
        return rng.choices(self.businesses, weights=self.weights, k=1)[0]

    @property
    def offenders(self) -> list[Business]:
        return [b for b in self.businesses if b.profile != "clean"]


def credit_code(ids: random.Random, county: str, individual: bool = False) -> str:
    """A valid unified social credit code registered in `county` (GB 32100 check character)."""
    head = "92" if individual else "91"
    body = "".join(ids.choice(USCC_ALPHABET) for _ in range(9))
    first17 = head + county + body
    return first17 + uscc_check_character(first17)


def bad_check_character(code: str) -> str:
    """The same code with a wrong check character (a typical typing error)."""
    wrong = [c for c in "0123456789ABCDEFGHJKLMNPQRTUWXY" if c != code[-1]]
    return code[:-1] + wrong[(ord(code[0]) + len(code)) % len(wrong)]


def person_name(ids: random.Random) -> str:
    return ids.choice(_SURNAMES) + "".join(ids.choice(_GIVEN) for _ in range(ids.choice((1, 2))))


def mobile(ids: random.Random) -> str:
    return ids.choice(("13", "15", "17", "18", "19")) + "".join(str(ids.randrange(10)) for _ in range(9))


def resident_id(ids: random.Random, county: str) -> str:
    year = ids.randrange(1960, 2003)
    first17 = f"{county}{year}{ids.randrange(1, 13):02d}{ids.randrange(1, 29):02d}{ids.randrange(1000):03d}"
    return first17 + resident_id_check_character(first17)


def _name(ids: random.Random, county_short: str, trade: str, form: str) -> str:
    core = "".join(ids.sample(_CORES, 2))
    return f"咸阳{county_short}{core}{TRADES[trade][0]}{form}"


def build_population(
    rng: random.Random,
    ids: random.Random,
    *,
    size: int,
    counties: Sequence[tuple[str, str, Decimal]],
    known_categories: set[str],
    repeat_share: float = 0.025,
    major_share: float = 0.012,
) -> Population:
    """`size` businesses over `counties` ((code, short name, population weight)) by population."""
    codes = [c[0] for c in counties]
    shorts = {c[0]: c[1] for c in counties}
    weights = [float(c[2]) for c in counties]
    trades = list(TRADE_WEIGHTS)
    trade_weights = [TRADE_WEIGHTS[t] for t in trades]
    out: list[Business] = []
    for i in range(size):
        county = rng.choices(codes, weights=weights, k=1)[0]
        roll = rng.random()
        profile = "repeat" if roll < repeat_share else "major" if roll < repeat_share + major_share else "clean"
        trade = rng.choices(trades, weights=trade_weights, k=1)[0]
        if profile == "repeat":
            trade = rng.choice(("apparel", "cosmetics", "electronics", "trading", "bags"))
        categories = tuple(c for c in TRADES[trade][1] if c in known_categories)
        if profile == "repeat":
            # two counterfeit lines: two separate cases, two penalties within 24 months → the list
            extra = [c for c in COUNTERFEIT if c in known_categories and c not in categories]
            lines = [c for c in categories if c in COUNTERFEIT][:1] + rng.sample(extra, 1)
            categories = tuple(dict.fromkeys(lines + list(categories)))
        if not categories:
            categories = ("product_quality",) if "product_quality" in known_categories else tuple(sorted(known_categories))[:1]
        unlicensed = profile == "clean" and trade in ("food", "hygiene", "farm") and rng.random() < 0.25
        has_code = not unlicensed and (rng.random() < 0.9 or profile != "clean")
        online = trade in ("apparel", "bags", "electronics", "cosmetics", "ecommerce", "trading", "media") or rng.random() < 0.2
        form = rng.choice(_FORMS[:2]) if has_code and rng.random() < 0.8 else rng.choice(_FORMS[2:])
        # identities (second stream)
        code = credit_code(ids, county, individual=form in ("商行", "经营部", "店")) if has_code else None
        name = _name(ids, shorts[county], trade, form) if not unlicensed else f"{shorts[county]}{person_name(ids)}无证{TRADES[trade][0]}作坊"
        shop = (ids.choice(PLATFORMS), f"s{ids.randrange(10**7, 10**8)}") if online else None
        address = f"咸阳市{shorts[county]}{ids.choice(('人民路', '渭阳路', '中华路', '文林路', '乐育路', '世纪大道'))}{ids.randrange(1, 400)}号"
        weight = {"clean": 1.0, "repeat": 12.0, "major": 5.0}[profile]
        out.append(Business(i, name, county, trade, code, shop, categories, profile, weight, address))
    return Population(out)
