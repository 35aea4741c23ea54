"""A drawn target's inspection task: its result and its publication. Pure.

Results: ``no_problem`` (未发现问题), ``problems_found`` (发现问题, corrected on the spot or
ordered to correct), ``referred_to_case`` (a violation: a case is opened through intake's normal
path). A recorded result is published in the public feed within the publication period
(`rules/deadlines.yaml`); the bureau publishes with `publish` (all recorded, unpublished results
of its plan at once). A result already recorded or published is changed only by `correct`, with
a reason: the task's ``revision`` grows by one and the corrected result awaits publication again,
with a publication period of its own (`publication_deadline_id`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Literal

from shared.refusals import Refused

Result = Literal["no_problem", "problems_found", "referred_to_case"]
RESULTS: tuple[Result, ...] = ("no_problem", "problems_found", "referred_to_case")


@dataclass(frozen=True)
class Task:
    plan_id: str
    bureau: str
    credit_code: str
    name: str
    county: str
    category: str
    inspectors: tuple[str, ...]
    state: Literal["assigned", "recorded", "published"] = "assigned"
    result: Result | None = None
    findings: str = ""
    inspected_by: tuple[str, ...] = ()
    recorded_at: dt.datetime | None = None
    published_at: dt.datetime | None = None
    #: 0 until a result is recorded, 1 for the first result, one more for each correction
    revision: int = 0


def publication_deadline_id(plan_id: str, credit_code: str, revision: int) -> str:
    """The publication deadline of one revision of a result (the first keeps the plain id)."""
    base = f"{plan_id}:{credit_code}:result_publication"
    return base if revision <= 1 else f"{base}:r{revision}"


def record(task: Task, *, by_party: str, result: str, findings: str, inspected_by: tuple[str, ...],
           at: dt.datetime) -> Task:
    if by_party != task.bureau:
        raise Refused("plan", "not_responsible", f"{task.bureau} records this plan's results", forbidden=True)
    if task.state != "assigned":
        raise Refused("credit_code", "already_recorded",
                      f"the result for {task.credit_code} is {task.state}; a correction names its reason")
    return _recorded(task, result=result, findings=findings, inspected_by=inspected_by, at=at, revision=1)


def correct(task: Task, *, by_party: str, result: str, findings: str, inspected_by: tuple[str, ...], reason: str,
            at: dt.datetime) -> Task:
    """A recorded or published result corrected: the next revision, to be published (again)."""
    if by_party != task.bureau:
        raise Refused("plan", "not_responsible", f"{task.bureau} corrects this plan's results", forbidden=True)
    if task.state == "assigned":
        raise Refused("credit_code", "not_recorded", f"no result for {task.credit_code} to correct")
    if not reason.strip():
        raise Refused("correction_reason", "missing", "a correction says why")
    return _recorded(task, result=result, findings=findings, inspected_by=inspected_by, at=at,
                     revision=task.revision + 1)


def _recorded(task: Task, *, result: str, findings: str, inspected_by: tuple[str, ...], at: dt.datetime,
              revision: int) -> Task:
    if result not in RESULTS:
        raise Refused("result", "unknown_result", f"one of {', '.join(RESULTS)}")
    if result != "no_problem" and not findings.strip():
        raise Refused("findings", "missing", "problems found are described")
    strangers = sorted(set(inspected_by) - set(task.inspectors))
    if strangers or not inspected_by:
        raise Refused("inspected_by", "not_drawn",
                      f"the drawn inspectors are {', '.join(task.inspectors)}" + (f"; not {', '.join(strangers)}" if strangers else ""))
    return replace(task, state="recorded", result=result, findings=findings, inspected_by=tuple(inspected_by),  # type: ignore[arg-type]
                   recorded_at=at, revision=revision)


def publish(tasks: list[Task], *, by_party: str, at: dt.datetime) -> list[Task]:
    """The recorded, unpublished results, published now (refused when there is none)."""
    for t in tasks:
        if t.bureau != by_party:
            raise Refused("plan", "not_responsible", f"{t.bureau} publishes this plan's results", forbidden=True)
    ready = [t for t in tasks if t.state == "recorded"]
    if not ready:
        raise Refused("plan", "nothing_to_publish", "no recorded result awaits publication")
    return [replace(t, state="published", published_at=at) for t in ready]
