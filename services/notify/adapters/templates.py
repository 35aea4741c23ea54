"""Chinese notice texts from jinja2 templates, one file per event type: the
`Render` port of domain.planning (raising its `TemplateError`), implemented with jinja2.

``services/notify/templates/<event type without "shuangda.">.j2`` (e.g.
``case.assigned.v1.j2``) defines blocks per channel:

``subject``
    one line: the email subject and the webhook ``title``;
``text``
    the full text (email body, webhook ``text``); a block named after a
    channel (``email``, ``webhook``, ``sms``) replaces it for that channel;
``sms``
    the short message (complainants get only this one).

Templates see the validated event model as ``e`` (attributes, never a raw
dict) plus ``recipient``, ``case_id``, ``tracking_no``, ``critical``, and the
helpers below (bureau, county and category names from the reference data,
local times in Asia/Shanghai, money). Undefined names are errors
(`StrictUndefined`), so a template that no longer fits its event fails the
tests rather than sending a blank.
"""
from __future__ import annotations

import functools
import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2

from services.notify.domain.directory import Channel
from services.notify.domain.planning import Rendered, TemplateError
from shared.reference import UnknownCode, bureau_type, category, city, resolve_county

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
SHANGHAI = ZoneInfo("Asia/Shanghai")

DEADLINE_KINDS = {
    "acknowledgement": "受理/立案决定",
    "referral_head_decision": "负责人审批移送",
    "referral_transfer": "移送公安机关",
    "police_filing_decision": "公安机关立案决定",
    "reconsideration_request": "提请复议",
    "reconsideration_decision": "复议决定",
    "handover": "移交涉案物品及材料",
    "reopened": "重新办理",
}
OUTCOMES = {
    "penalty_decided": "已作出行政处罚决定",
    "no_violation": "经查未发现违法行为",
    "mediated": "已调解处理",
    "not_established": "举报事项不成立",
    "referred_to_police": "已移送公安机关",
    "closed_other": "已办结",
}
FIGURES = {
    "illegal_turnover": "非法经营额",
    "illegal_gains": "违法所得",
    "sales": "销售金额",
    "unsold_value": "尚未销售货值",
    "loss": "造成损失",
    "amount_involved": "涉案金额",
    "pieces": "标识件数",
    "copies": "复制品数量",
    "marks_count": "注册商标数",
    "patents_count": "专利项数",
    "service_illegal_gains": "服务商标违法所得",
    "unsold_pieces": "未售标识件数",
    "unsold_copies": "未售复制品数量",
    "works_online": "网络传播作品数",
    "downloads": "下载次数",
    "clicks": "点击次数",
    "members": "注册会员数",
    "conduct": "行为所涉刑法条文",
}
COUNT_FIGURES = {"pieces", "copies", "marks_count", "patents_count", "unsold_pieces", "unsold_copies", "works_online",
                 "downloads", "clicks", "members", "conduct"}
CITY_REASONS = {
    "cross_county": "跨区县",
    "major_amount": "涉案金额重大",
    "repeat_suspect": "当事人多次被举报",
    "county_lacks_bureau": "区县无对应部门",
    "city_level_county": "市级管辖",
    "unknown_county": "区县不明",
    "unknown_category": "类别不明",
}
DELIST_REASONS = {"expired": "期满移出", "early_removal": "提前移出", "trigger_revoked": "列入依据被撤销"}
ORIGINS = {"complaint": "投诉", "report": "举报", "lead": "线索"}
MEETING_REASONS = {
    "several_bureaus": "涉及多个部门",
    "cross_county": "跨区县",
    "major_amount": "涉案金额重大",
    "repeat_suspect": "当事人多次被举报",
}
REFERRAL_BASIS = {
    "threshold_crossed": "涉案数额达到刑事追诉标准",
    "ip_reasonable_suspicion": "知识产权案件，有合理怀疑涉嫌犯罪",
    "bureau_judgement": "执法部门判断涉嫌犯罪",
}


def _place(code: str) -> str:
    try:
        if code in city().city_level_codes or code == city().code:
            return city().name_zh
        return resolve_county(code).name_zh
    except UnknownCode:
        return code


@functools.lru_cache(maxsize=4096)
def bureau_name(bureau: str | None) -> str:
    """``market_regulation@610402`` → 秦都区市场监督管理局; unknown ids are shown as they are."""
    if not bureau:
        return ""
    btype, _, jurisdiction = bureau.partition("@")
    try:
        name = bureau_type(btype).name_zh
    except UnknownCode:
        return bureau
    return f"{_place(jurisdiction)}{name}" if jurisdiction else name


@functools.lru_cache(maxsize=1024)
def county_name(code: str | None) -> str:
    return _place(code) if code else ""


@functools.lru_cache(maxsize=256)
def category_name(category_id: str | None) -> str:
    if not category_id:
        return ""
    try:
        return category(category_id).name_zh
    except UnknownCode:
        return category_id


def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    t = value.astimezone(SHANGHAI)
    return f"{t.year}年{t.month}月{t.day}日 {t.hour:02d}:{t.minute:02d}"


def local_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(SHANGHAI).date()
    return f"{value.year}年{value.month}月{value.day}日"


def money(value: Any) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount:,.2f} 元"


def figures_text(figures: Mapping[str, Any] | None) -> str:
    if not figures:
        return ""
    parts = []
    for key, value in figures.items():
        label = FIGURES.get(key, key)
        parts.append(f"{label} {int(Decimal(str(value)))}" if key in COUNT_FIGURES else f"{label} {money(value)}")
    return "，".join(parts)


def suspect_text(suspect: Any) -> str:
    if suspect is None:
        return "（未知）"
    name = getattr(suspect, "name", None)
    code = getattr(suspect, "credit_code", None)
    shop = getattr(suspect, "shop_id", None)
    platform = getattr(suspect, "platform", None)
    if name and code:
        return f"{name}（统一社会信用代码 {code}）"
    if name or code:
        return str(name or code)
    if platform or shop:
        return f"{platform or ''}店铺 {shop or ''}".strip()
    return "（未提供）"


def counties_text(codes: Any) -> str:
    return "、".join(county_name(c) for c in codes or ())


def greeting(recipient: Mapping[str, Any]) -> str:
    """How a text addresses its recipient: the directory's name, else the bureau's name."""
    if recipient.get("name"):
        return str(recipient["name"])
    rid = str(recipient.get("id") or "")
    if "@" in rid and not any(c in rid for c in "*?["):
        return bureau_name(rid)
    return "各成员单位"


def deadline_line(deadline: Any) -> str:
    """``受理/立案决定期限：2025年6月3日 23:59 截止（暂定）``"""
    if deadline is None:
        return ""
    kind = DEADLINE_KINDS.get(deadline.kind, deadline.kind)
    provisional = "（暂定，节假日数据公布后重新计算）" if deadline.provisional else ""
    return f"{kind}期限：{local_time(deadline.due_at)} 截止{provisional}"


def next_step(deadline: Any) -> str:
    """The next step a referral event names, with its deadline and legal basis."""
    if deadline is None:
        return ""
    kind = DEADLINE_KINDS.get(deadline.kind, deadline.kind)
    who = bureau_name(deadline.bureau)
    return f"下一步：{who}应于 {local_time(deadline.due_at)} 前完成{kind}（依据：{deadline.citation}）。"


def joined(items: Any, sep: str = "、") -> str:
    return sep.join(str(i) for i in items or ())


def bureaus_text(items: Any) -> str:
    return "、".join(bureau_name(b) for b in items or ())


#: the console's public pages the SMS texts link to (services/console/adapters/http.py)
STATUS_PATH = "/lookup?tracking_no={}"
SURVEY_PATH = "/public/survey/{}"


class PublicLinks:
    """Links into the console's public pages for a complainant's SMS: the tracking number is the only
    thing in them (the page asks for the last 4 phone digits as the second factor); "" without a base."""

    def __init__(self, base: str | None) -> None:
        self.base = base.rstrip("/") if base else None

    def _link(self, path: str, tracking_no: str | None) -> str:
        if not self.base or not tracking_no:
            return ""
        return self.base + path.format(quote(str(tracking_no), safe=""))

    def status(self, tracking_no: str | None) -> str:
        return self._link(STATUS_PATH, tracking_no)

    def survey(self, tracking_no: str | None) -> str:
        return self._link(SURVEY_PATH, tracking_no)


class Renderer:
    def __init__(self, directory: Path = TEMPLATES_DIR, *, console_public_url: str | None = None) -> None:
        self.directory = directory
        self._globals: dict[jinja2.Template, dict[str, Any]] = {}
        links = PublicLinks(console_public_url)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory), encoding="utf-8"),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # the templates ship with the code: no stat() of the file on every render (1 % of notify's CPU
            # in the 双11 burst)
            auto_reload=False,
        )
        self.env.globals.update(
            bureau_name=bureau_name, county_name=county_name, category_name=category_name, local_time=local_time,
            local_date=local_date, money=money, figures_text=figures_text, suspect_text=suspect_text, joined=joined,
            bureaus_text=bureaus_text, counties_text=counties_text, greeting=greeting, deadline_line=deadline_line,
            next_step=next_step, DEADLINE_KINDS=DEADLINE_KINDS, OUTCOMES=OUTCOMES, CITY_REASONS=CITY_REASONS,
            DELIST_REASONS=DELIST_REASONS, ORIGINS=ORIGINS, MEETING_REASONS=MEETING_REASONS,
            REFERRAL_BASIS=REFERRAL_BASIS, status_link=links.status, survey_link=links.survey,
        )

    @staticmethod
    def template_name(event_type: str) -> str:
        name = event_type[len("shuangda."):] if event_type.startswith("shuangda.") else event_type
        return f"{name}.j2"

    def has_template(self, event_type: str) -> bool:
        return (self.directory / self.template_name(event_type)).is_file()

    def render(self, event_type: str, channel: Channel, context: Mapping[str, Any]) -> Rendered:
        try:
            template = self.env.get_template(self.template_name(event_type))
        except jinja2.TemplateNotFound:
            raise TemplateError(f"no template for {event_type} ({self.template_name(event_type)})") from None
        try:
            # the template's globals are a ChainMap that jinja2 copies key by key on every render (a quarter of
            # the render's time): merged once per template into a plain dict, then each render's context on top
            merged = self._globals.get(template)
            if merged is None:
                merged = self._globals[template] = dict(template.globals)
            ctx = template.new_context({**merged, **context}, shared=True)
            subject = _one_line(_block(template, "subject", ctx))
            block = channel if channel in template.blocks else "text"
            body = _tidy(_block(template, block, ctx))
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{self.template_name(event_type)} ({channel}): {exc}") from exc
        if channel == "sms":
            return Rendered("", body)
        return Rendered(subject, body)

    __call__ = render


def _block(template: jinja2.Template, name: str, ctx: Any) -> str:
    fn = template.blocks.get(name)
    if fn is None:
        raise jinja2.TemplateError(f"block {name!r} is missing")
    return "".join(fn(ctx))


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out)
