"""The survey answers intake announces (``case.survey-answered``), applied in the consumer's unit
of work: each is recorded once (the inbox drops a redelivered record; the (case, tracking number)
key drops a second answer however it came), and one that asks for it reopens its case
(`domain.reopen`) — the case row locked, the new state saved and ``case.reopened`` emitted in the
same transaction, so a reopening happens once."""
from __future__ import annotations

from typing import Any, Sequence

from shared.contracts.cases import CaseSurveyAnswered
from shared.runtime import Message, NonRetryableError, UnitOfWork

from services.routing.adapters import postgres as repo
from services.routing.app.router import Router
from services.routing.domain.reopen import reopen
from services.routing.metrics import record


async def surveys(router: Router, uow: UnitOfWork, messages: Sequence[tuple[int, Message[CaseSurveyAnswered]]]
                  ) -> dict[int, Exception]:
    conn = uow.conn
    ctx = router.context()
    refused: dict[int, Exception] = {}
    cases = await repo.lock_cases(conn, sorted({m.data.case_id for _, m in messages}))
    notes: list[Any] = []
    for index, m in messages:
        s = m.data
        case = cases.get(s.case_id)
        if case is None:
            refused[index] = NonRetryableError("unknown_case", f"case_id: no case {s.case_id!r} to survey", field="case_id")
            continue
        fx = reopen(case, s, ctx)
        new = await conn.fetchval(
            "INSERT INTO surveys (case_id, tracking_no, score, resolved, reopened, answered_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
            s.case_id, s.tracking_no, s.score, s.resolved, fx is not None, s.answered_at)
        if not new or fx is None:
            continue
        assert fx.case is not None
        await repo.update_case(conn, fx.case)
        cases[s.case_id] = fx.case
        router.publish(uow, fx.emissions, cause=m)
        notes.extend(fx.notes)
    uow.after_commit(lambda: record(notes))
    return refused
