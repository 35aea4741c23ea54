"""Intake commands: complaints and leads from outside (topic family
``ingress.<client>``, key: the client's source id; also the bodies of intake's
HTTP API).

These are commands — something an outside system asks for — so unknown fields
are refused. They carry only what the caller can know: the caller's identity
comes from its API key or its ingress topic, never from a field here. The
models check types and sizes; intake's domain validation then normalises the
text (NFKC, so full-width input is accepted) and checks the identifiers and
codes against the reference data, answering with every bad field and why.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts import CommandModel, contract

INGRESS_FAMILY = "ingress.<client>"

#: Money: CNY, non-negative, at most 2 decimal places and 14 digits before the point.
Money = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2, description="CNY, non-negative")]
Count = Annotated[int, Field(ge=0, le=1_000_000_000)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SuspectInput(_Part):
    """Whom the complaint or lead is about. At least one of: credit code, name
    (with the county), platform shop id, listing URL."""

    credit_code: str | None = Field(default=None, max_length=40, description="unified social credit code (GB 32100); full-width accepted")
    name: str | None = Field(default=None, max_length=200, description="name of the business or person")
    platform: str | None = Field(default=None, max_length=64, description="platform id (e.g. taobao, jd); defaults to the submitting platform")
    shop_id: str | None = Field(default=None, max_length=128, description="the shop's id on the platform")
    listing_url: str | None = Field(default=None, max_length=2048, description="http(s) URL of the listing")
    address: str | None = Field(default=None, max_length=500)


class ComplainantInput(_Part):
    """Who complains. Sealed (encrypted) at once; only masked forms are ever shown."""

    name: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32, description="mainland mobile number; +86 and separators accepted")
    id_number: str | None = Field(default=None, max_length=32, description="18-character resident identity number")


class FiguresInput(_Part):
    """Amounts involved (CNY, as decimal strings or numbers) and counts."""

    illegal_turnover: Money | None = None
    illegal_gains: Money | None = None
    sales: Money | None = None
    unsold_value: Money | None = None
    loss: Money | None = None
    amount_involved: Money | None = None
    pieces: Count | None = None
    copies: Count | None = None
    marks_count: Count | None = None
    patents_count: Count | None = None
    service_illegal_gains: Money | None = None
    unsold_pieces: Count | None = None
    unsold_copies: Count | None = None
    works_online: Count | None = None
    downloads: Count | None = None
    clicks: Count | None = None
    members: Count | None = None
    conduct: int | None = Field(default=None, ge=1, le=999, description=(
        "the 刑法 article of the conduct (213 假冒注册商标, 214, 215, 216, 217, 218, 140, 141, 147): the criminal "
        "threshold family the case is held to; without it, every family of the category (shared reference thresholds)"))


@contract(topic=INGRESS_FAMILY, key="source id", kind="command")
class SubmitComplaint(CommandModel):
    """File a complaint (投诉) or a report (举报) from a hotline, web form or bureau."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "source_id": "12315-20250601-0001", "kind": "complaint", "channel": "hotline", "category": "trademarks",
        "county": "610402", "description": "在秦都区某商场买到假冒名牌运动鞋",
        "suspect": {"credit_code": "91110000600037341L", "name": "咸阳某某商贸有限公司"},
        "complainant": {"name": "张三", "phone": "13800138000"}, "figures": {"sales": "899.00", "pieces": 1},
    }]})
    EVENT_TYPE: ClassVar[str] = "shuangda.intake.submit-complaint.v1"
    source_id: str | None = Field(default=None, min_length=1, max_length=128,
                                  description="the caller's own id for it; a re-submission with the same id is recognised")
    kind: Literal["complaint", "report"] = "complaint"
    channel: Literal["hotline", "web"] | None = Field(default=None, description="how it reached a hotline client")
    category: str = Field(min_length=1, max_length=64, description="category id (GET /open311/v2/services.json lists them)")
    county: str = Field(min_length=1, max_length=16, description="GB/T 2260 code of the county/district in the city")
    description: str = Field(min_length=1, max_length=4000)
    occurred_on: date | None = None
    suspect: SuspectInput
    complainant: ComplainantInput | None = None
    figures: FiguresInput | None = None


@contract(topic=INGRESS_FAMILY, key="source id", kind="command")
class SubmitLead(CommandModel):
    """Report a lead found by a platform or by big-data monitoring."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "source_id": "mon-778812", "channel": "monitoring", "category": "online_piracy", "county": "610404",
        "description": "盗版电子书批量销售", "observed_at": "2025-06-01T08:00:00+08:00",
        "suspect": {"platform": "example-mall", "shop_id": "s-20931", "listing_url": "https://shop.example.com/item/20931"},
        "figures": {"amount_involved": "15000.00", "copies": 800}, "evidence_urls": ["https://evidence.example.com/a.png"],
    }]})
    EVENT_TYPE: ClassVar[str] = "shuangda.intake.submit-lead.v1"
    source_id: str = Field(min_length=1, max_length=128, description="the caller's own id; a re-submission is recognised")
    channel: Literal["platform", "monitoring"] | None = None
    category: str = Field(min_length=1, max_length=64)
    county: str = Field(min_length=1, max_length=16)
    description: str = Field(default="", max_length=4000)
    observed_at: AwareDatetime | None = None
    suspect: SuspectInput
    figures: FiguresInput | None = None
    evidence_urls: list[Annotated[str, Field(max_length=2048)]] = Field(default_factory=list, max_length=20)
