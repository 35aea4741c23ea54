"""How long intake keeps a complainant's personal data, as versioned data with its citation
(issue 12 §4), and which reports are past it. Pure: the CLI (`shuangda pii retention`) applies it.

What is kept after the period: the case, the report's category, county, figures and masked summary
(the administrative record and the statistics); what is erased: the sealed complainant (name,
phone, id number, and their masked forms) and the sealed original description.

A rule applies to reports received on or after its `effective_from`; the newest such rule wins.
Add a rule (a new version) rather than editing one in force."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class RetentionRule:
    version: str
    effective_from: dt.date
    #: whole years after the report was received (Asia/Shanghai calendar day)
    years: int
    citation: str
    note: str = ""


RULES: tuple[RetentionRule, ...] = (
    RetentionRule(
        version="2026-1",
        effective_from=dt.date(2000, 1, 1),
        years=3,
        citation=("《中华人民共和国个人信息保护法》第十九条（保存期限为实现处理目的所必要的最短时间）、"
                  "第四十七条第一款第（一）项（处理目的已实现的，应当主动删除）；"
                  "《市场监督管理投诉举报处理暂行办法》（总局令第20号，2022年修正）投诉举报的处理与答复"),
        note=("Three years after receipt: the period within which a complaint's handling can still be "
              "reviewed or sued over (行政复议/行政诉讼 time limits are shorter; three years leaves a margin) — "
              "a project reading of the rules, to verify with the office's archive rules (档案管理)."),
    ),
)


def rule_for(received_on: dt.date, rules: tuple[RetentionRule, ...] = RULES) -> RetentionRule:
    """The rule that governs a report received on `received_on`."""
    in_force = [r for r in rules if r.effective_from <= received_on]
    if not in_force:
        raise ValueError(f"no retention rule in force on {received_on.isoformat()}")
    return max(in_force, key=lambda r: r.effective_from)


def keep_until(received_on: dt.date, rules: tuple[RetentionRule, ...] = RULES) -> dt.date:
    """The last day the personal data of a report received on `received_on` is kept."""
    years = rule_for(received_on, rules).years
    try:
        return received_on.replace(year=received_on.year + years)
    except ValueError:  # 29 February: the period ends on 28 February
        return received_on.replace(year=received_on.year + years, day=28)


def past_retention(received_on: dt.date, today: dt.date, rules: tuple[RetentionRule, ...] = RULES) -> bool:
    return today > keep_until(received_on, rules)


def candidates_before(today: dt.date, rules: tuple[RetentionRule, ...] = RULES) -> dt.date:
    """Only reports received before this day can be past retention on `today` (the shortest period
    of any rule); `past_retention` decides for each."""
    years = min(r.years for r in rules)
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)
