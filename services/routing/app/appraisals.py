"""The appraisal results the appraisal service announces (``appraisal.lifecycle``,
`shuangda.appraisal.reported.v1`), applied in the consumer's unit of work through the case's
normal figures path (`domain.case.figures_changed`): the figures are announced, the criminal
threshold is re-evaluated and a referral (or a joint meeting) proposed when it is crossed.

Each appraisal counts once (the inbox drops a redelivered record; ``case_appraisals``' key drops
a repeated report); the batch is handled as a set: one statement locks the cases, one records the
appraisals, one reads their totals, one reads the referrals and one writes cases, referrals and
deadlines. An appraisal of a case routing does not know is dead-lettered (``unknown_case``).
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Sequence

from shared.contracts.appraisal import AppraisalReported
from shared.runtime import Message, NonRetryableError, UnitOfWork

from services.routing.adapters import postgres as repo
from services.routing.app.router import Router
from services.routing.domain.appraised import appraised_figures
from services.routing.domain.case import figures_changed
from services.routing.metrics import record


async def appraised(router: Router, uow: UnitOfWork, messages: Sequence[Message[Any]]) -> dict[int, Exception]:
    conn = uow.conn
    reported = [(i, m) for i, m in enumerate(messages) if isinstance(m.data, AppraisalReported)]
    if not reported:
        return {}
    cases = await repo.lock_cases(conn, sorted({m.data.case_id for _, m in reported}))
    refused: dict[int, Exception] = {}
    known: list[AppraisalReported] = []
    cause: dict[str, Message[Any]] = {}
    for i, m in reported:
        if m.data.case_id in cases:
            known.append(m.data)
            cause.setdefault(m.data.case_id, m)
        else:
            refused[i] = NonRetryableError("unknown_case", f"case_id: no case {m.data.case_id!r} to appraise",
                                           field="case_id")
    if not known:
        return refused
    new = await conn.fetch(
        "INSERT INTO case_appraisals (appraisal_id, case_id, figures, evidential_weight, verdict, reported_at)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::timestamptz[])"
        " ON CONFLICT (appraisal_id) DO NOTHING RETURNING case_id",
        [a.appraisal_id for a in known], [a.case_id for a in known],
        [json.dumps({k: str(v) for k, v in a.figures.items()}) for a in known],
        [a.evidential_weight for a in known], [a.verdict for a in known], [a.reported_at for a in known])
    touched = sorted({r["case_id"] for r in new})
    if not touched:
        return refused
    totals = await repo.appraisal_figures(conn, touched)
    referrals = await repo.latest_referrals(conn, touched)
    ctx = router.context()
    effects = []
    for case_id in touched:
        case = cases[case_id]
        figures = appraised_figures(case.figures, totals[case_id], ctx.ref.money_figures())
        if figures != case.figures:
            effects.append(figures_changed(replace(case, figures=figures), referrals.get(case_id), ctx=ctx))
    if not effects:
        return refused
    router.egress.ready(b for fx in effects for e in fx.emissions for b in e.audience)
    await repo.save_cases(conn, changed=[fx.case for fx in effects if fx.case is not None],
                          referrals=[fx.referral for fx in effects if fx.referral is not None],
                          deadlines=[d for fx in effects for d in fx.open_deadlines])
    for fx in effects:
        assert fx.case is not None
        router.publish(uow, fx.emissions, cause=cause[fx.case.case_id], on_lane=fx.case.priority_lane)
    notes = [n for fx in effects for n in fx.notes]
    uow.after_commit(lambda: record(notes))
    return refused
