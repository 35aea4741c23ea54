"""The satisfaction survey after a case closes (issue 15 §4), as versioned local-policy data, and
the decision on one answer. Pure: the HTTP adapter gives the case's progress as intake knows it
(from routing's events) and the answer; the result says whether it is taken and whether it asks
routing to reopen the case.

Rules:
- only a complaint's reporter answers (the tracking number and the last 4 digits of the phone the
  complaint was filed with; checked by the adapter), **once** (the first answer stands);
- only after the case closed, and within `SurveyRule.window_days` calendar days of the closing;
- a score of at most `SurveyRule.reopen_at_most` **with** a request to reopen, or the answer "not
  resolved" with a request to reopen, asks routing to reopen the case (``case.survey-answered``
  with ``reopen: true``; routing decides, and counts it in the assessment);
- a case handed to the police (``referred_to_police``) is theirs: the answer is recorded and
  counted, never a reopening.

A rule applies to cases closed on or after its `effective_from`; the newest such rule wins. Add a
rule (a new version) rather than editing one in force.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

Refusal = Literal["case_open", "window_closed", "already_answered"]


@dataclass(frozen=True)
class SurveyRule:
    version: str
    effective_from: dt.date
    window_days: int
    reopen_at_most: int
    citation: str
    verified: bool
    note: str = ""


RULES: tuple[SurveyRule, ...] = (
    SurveyRule(
        version="2026-1",
        effective_from=dt.date(2000, 1, 1),
        window_days=30,
        reopen_at_most=2,
        citation="local policy (双打办): 12315 平台回访满意度评价的做法；《市场监督管理投诉举报处理暂行办法》无回访期限",
        verified=False,
        note=("Looked for a national period within which a complainant may rate the handling: 总局令第20号 sets "
              "periods for accepting and answering, none for a satisfaction return visit, and 12315's own "
              "回访 window is an operating rule we could not find published. 30 days and 'reopen at 1–2 "
              "points' are the office's to confirm."),
    ),
)

NOT_REOPENED: frozenset[str] = frozenset({"referred_to_police"})


def rule_for(closed_on: dt.date) -> SurveyRule:
    found = [r for r in RULES if r.effective_from <= closed_on]
    if not found:
        raise LookupError(f"no survey rule in force on {closed_on}")
    return max(found, key=lambda r: r.effective_from)


@dataclass(frozen=True)
class Decision:
    rule: SurveyRule
    reopen: bool


def decide(*, closed_at: dt.datetime | None, outcome: str | None, answered_before: bool, now: dt.datetime,
           score: int, resolved: bool, reopen_requested: bool) -> Decision | tuple[Refusal, str]:
    """Take the answer (and whether it asks for a reopening), or refuse it with a reason."""
    if answered_before:
        return "already_answered", "this complaint's survey was answered already (one answer per complaint)"
    if closed_at is None:
        return "case_open", "the case is still being handled; the survey opens when it closes"
    rule = rule_for(closed_at.date())
    if now > closed_at + dt.timedelta(days=rule.window_days):
        return "window_closed", f"the survey closes {rule.window_days} days after the case closed ({rule.version})"
    unhappy = score <= rule.reopen_at_most or not resolved
    return Decision(rule, reopen=reopen_requested and unhappy and outcome not in NOT_REOPENED)
