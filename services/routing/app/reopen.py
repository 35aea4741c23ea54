"""The survey answers intake announces (``case.survey-answered``), applied in the consumer's unit
of work as one set, in a constant number of SQL round trips whatever the batch's size (issue 11 §2):

1. the batch's cases locked in case id order (`repo.lock_cases`: one ``SELECT … FOR UPDATE``, so two
   instances never deadlock and a case's answers are decided by one writer at a time);
2. which (case, tracking number) answers are recorded already (`repo.answered_surveys`, one query);
3. each new answer decided in batch order (`domain.reopen`: a later answer of the same case sees what
   an earlier one did), in memory;
4. the answers recorded (`repo.insert_surveys`, one ``INSERT … SELECT FROM unnest``) and the reopened
   cases with their new deadlines saved (`repo.save_cases`, one statement), ``case.reopened`` emitted
   in the same transaction.

Each answer is recorded once: the inbox drops a redelivered record, the (case, tracking number) key a
second answer however it came, so a reopening happens once."""
from __future__ import annotations

from typing import Any, Sequence

from shared.contracts.cases import CaseSurveyAnswered
from shared.runtime import Message, NonRetryableError, UnitOfWork

from services.routing.adapters import postgres as repo
from services.routing.app.router import Router
from services.routing.domain.case import Case
from services.routing.domain.deadlines import DeadlineSpec
from services.routing.domain.reopen import reopen
from services.routing.metrics import record


async def surveys(router: Router, uow: UnitOfWork, messages: Sequence[tuple[int, Message[CaseSurveyAnswered]]]
                  ) -> dict[int, Exception]:
    if not messages:
        return {}
    conn = uow.conn
    ctx = router.context()
    refused: dict[int, Exception] = {}
    cases = await repo.lock_cases(conn, sorted({m.data.case_id for _, m in messages}))
    seen = await repo.answered_surveys(conn, [(m.data.case_id, m.data.tracking_no) for _, m in messages
                                              if m.data.case_id in cases])
    answers: list[tuple[CaseSurveyAnswered, bool]] = []
    changed: dict[str, Case] = {}
    opened: list[DeadlineSpec] = []
    notes: list[Any] = []
    for index, m in messages:
        s = m.data
        case = cases.get(s.case_id)
        if case is None:
            refused[index] = NonRetryableError("unknown_case", f"case_id: no case {s.case_id!r} to survey", field="case_id")
            continue
        if (s.case_id, s.tracking_no) in seen:
            continue
        seen.add((s.case_id, s.tracking_no))
        fx = reopen(case, s, ctx)
        answers.append((s, fx is not None))
        if fx is None:
            continue
        assert fx.case is not None
        cases[s.case_id] = changed[s.case_id] = fx.case
        opened.extend(fx.open_deadlines)
        router.publish(uow, fx.emissions, cause=m, on_lane=case.priority_lane)
        notes.extend(fx.notes)
    await repo.insert_surveys(conn, answers)
    if changed:
        await repo.save_cases(conn, changed=list(changed.values()), deadlines=opened)
    uow.after_commit(lambda: record(notes))
    return refused
