"""Published random-inspection results into the disclosure feed: one consumer batch of
`results-published` events in one transaction (the audit chain's lock first, one multi-row upsert,
the batch's audit entries in one insert). An event whose results cannot be taken is refused whole
(dead-lettered with the reason); the rest of the batch is applied."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

from shared import audit
from shared.contracts.inspection import InspectionResultsPublished
from shared.reference import load_bureau_types
from shared.runtime import Message, NonRetryableError, UnitOfWork

from services.credit import metrics
from services.credit.adapters.postgres import inspections as inspections_db
from services.credit.domain.inspections import BadPublication, PublishedInspection, accept


async def take_published(messages: Sequence[Message[InspectionResultsPublished]], uow: UnitOfWork) -> dict[int, Exception]:
    refused: dict[int, Exception] = {}
    kinds = frozenset(load_bureau_types().ids)
    latest: dict[tuple[str, str], tuple[PublishedInspection, str]] = {}
    entries: list[audit.Pending] = []
    for i, m in enumerate(messages):
        d = m.data
        try:
            found = accept(plan_id=d.plan_id, bureau=d.bureau, published_at=d.published_at, results=d.results,
                           bureau_types=kinds)
        except BadPublication as exc:
            refused[i] = NonRetryableError(exc.reason, exc.detail, field=exc.field)
            continue
        for r in found:
            key = (r.plan_id, r.credit_code)
            if key not in latest or latest[key][0].published_at <= r.published_at:
                latest[key] = (r, m.envelope.id)
        entries.append(audit.Pending("credit.inspection-results-disclosed", d.plan_id,
                                     {"bureau": d.bureau, "event_id": m.envelope.id,
                                      "results": {r.credit_code: r.result for r in found}},
                                     actor=m.envelope.actor or "inspection", at=d.published_at))
    if not latest:
        return refused
    await audit.lock(uow.conn)
    await inspections_db.upsert(uow.conn, list(latest.values()))
    await audit.append_many(uow.conn, entries)
    counted = Counter(r.result for r, _ in latest.values())
    uow.after_commit(lambda: [metrics.INSPECTION_RESULTS.labels(k).inc(n) for k, n in counted.items()])
    return refused

