"""What a hotline operator reads out to a caller asking about a complaint."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.intake.domain.validation import SHANGHAI
from shared.reference import UnknownCode, category, resolve_county

STATUS_REGISTERED = "registered"


@dataclass(frozen=True)
class StatusReadout:
    status: str
    category_name: str
    county_name: str
    readout_zh: str
    readout_en: str


def readout(*, tracking_no: str, origin: str, received_at: datetime, category_id: str, county_code: str,
            merged: bool) -> StatusReadout:
    try:
        cat = category(category_id)
        cat_zh, cat_en = cat.name_zh, cat.name_en
    except UnknownCode:  # a category retired from the reference data since
        cat_zh = cat_en = category_id
    try:
        county = resolve_county(county_code)
        county_zh, county_en = county.name_zh, county.name_en
    except UnknownCode:
        county_zh = county_en = county_code
    local = received_at.astimezone(SHANGHAI)
    what_zh = "举报" if origin == "report" else "投诉"
    what_en = "report" if origin == "report" else "complaint"
    joined_zh = "，已并入同一对象的在办案件" if merged else ""
    joined_en = ", and joined the open case about the same business" if merged else ""
    zh = (f"您的{what_zh}已于{local.year}年{local.month}月{local.day}日登记，受理编号 {tracking_no}，"
          f"事项：{cat_zh}，地区：{county_zh}{joined_zh}。我们已转交主管部门处理，请保留受理编号以便查询。")
    en = (f"Your {what_en} was registered on {local:%d %B %Y} under tracking number {tracking_no} "
          f"({cat_en}, {county_en}){joined_en}. It has been passed to the responsible bureau; "
          f"keep the tracking number to ask about it.")
    return StatusReadout(STATUS_REGISTERED, cat_zh, county_zh, zh, en)
