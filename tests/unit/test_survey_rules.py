"""The satisfaction survey's rule (services/intake/domain/survey.py) at its boundaries."""
from __future__ import annotations

import datetime as dt

from services.intake.domain.survey import RULES, Decision, decide

CLOSED = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)


def answer(**changes: object) -> object:
    args: dict[str, object] = dict(closed_at=CLOSED, outcome="penalty_decided", answered_before=False,
                                   now=CLOSED + dt.timedelta(days=1), score=2, resolved=True, reopen_requested=True)
    args.update(changes)
    return decide(**args)  # type: ignore[arg-type]


def test_every_survey_rule_is_labelled_local_policy_and_unverified_with_what_was_looked_for() -> None:
    assert all(not r.verified and "local policy" in r.citation and r.note for r in RULES)


def test_a_score_of_two_with_a_request_reopens_and_three_does_not() -> None:
    assert answer() == Decision(RULES[0], reopen=True)
    assert answer(score=3) == Decision(RULES[0], reopen=False)
    assert answer(score=5, resolved=False) == Decision(RULES[0], reopen=True)
    assert answer(score=1, reopen_requested=False) == Decision(RULES[0], reopen=False)


def test_the_window_is_thirty_days_from_the_closing_to_the_instant() -> None:
    assert isinstance(answer(now=CLOSED + dt.timedelta(days=30)), Decision)
    assert answer(now=CLOSED + dt.timedelta(days=30, seconds=1))[0] == "window_closed"  # type: ignore[index]


def test_an_open_case_a_second_answer_and_a_police_case_are_not_reopened() -> None:
    assert answer(closed_at=None)[0] == "case_open"  # type: ignore[index]
    assert answer(answered_before=True)[0] == "already_answered"  # type: ignore[index]
    assert answer(outcome="referred_to_police") == Decision(RULES[0], reopen=False)
