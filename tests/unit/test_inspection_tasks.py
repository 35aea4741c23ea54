"""A result's revisions (domain/tasks.py): recorded once, then changed only by a correction with a
reason, each revision with a publication deadline of its own."""
from __future__ import annotations

import datetime as dt

import pytest

from services.inspection.domain import tasks as rules
from shared.refusals import Refused

AT = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc)
TASK = rules.Task("insp_0", "forestry@610400", "91610400MA0000001X", "苗木场", "610402", "seedlings", ("LY001",))


def recorded() -> rules.Task:
    return rules.record(TASK, by_party=TASK.bureau, result="no_problem", findings="", inspected_by=("LY001",), at=AT)


def test_the_first_result_is_revision_one_and_a_second_without_a_reason_is_refused() -> None:
    assert recorded().revision == 1
    with pytest.raises(Refused) as exc:
        rules.record(recorded(), by_party=TASK.bureau, result="no_problem", findings="", inspected_by=("LY001",), at=AT)
    assert exc.value.reason == "already_recorded"


def test_a_correction_of_a_published_result_is_the_next_revision_awaiting_publication() -> None:
    published = rules.publish([recorded()], by_party=TASK.bureau, at=AT)[0]
    fixed = rules.correct(published, by_party=TASK.bureau, result="problems_found", findings="标签不全",
                          inspected_by=("LY001",), reason="复核更正", at=AT + dt.timedelta(days=1))
    assert (fixed.revision, fixed.state, fixed.result) == (2, "recorded", "problems_found")
    assert rules.publication_deadline_id("p", "c", 1) == "p:c:result_publication"
    assert rules.publication_deadline_id("p", "c", 2) == "p:c:result_publication:r2"


@pytest.mark.parametrize(("task", "reason", "expected"), [(TASK, "复核", "not_recorded"), (None, " ", "missing")])
def test_a_correction_needs_a_result_to_correct_and_a_reason(task: rules.Task | None, reason: str, expected: str) -> None:
    with pytest.raises(Refused) as exc:
        rules.correct(task or recorded(), by_party=TASK.bureau, result="no_problem", findings="",
                      inspected_by=("LY001",), reason=reason, at=AT)
    assert exc.value.reason == expected
