"""Credit's route for published random-inspection results (``inspection.lifecycle``, inspection's
internal topic): `results-published` into the disclosure feed, set-based (one
`app.inspections.take_published` per consumer batch). The other inspection events are not
credit's and are skipped. An event that cannot be taken (a party name that is not clean text, a
bad plan id, bureau, credit code or result) is dead-lettered with the reason; the rest of the
batch is applied. Only the fields credit keeps are checked: the findings (free text, multi-line)
are not taken."""
from __future__ import annotations

from typing import Any, Sequence

from shared.contracts.inspection import InspectionResultsPublished
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.runtime.routes import Binding, TopicRoute

from services.credit.adapters.hygiene import text_problem
from services.credit.app.inspections import take_published


def inspection_results(topic: str) -> TopicRoute:
    return TopicRoute(topic=topic, bindings={InspectionResultsPublished.EVENT_TYPE: Binding(InspectionResultsPublished)},
                      on_unknown="ignore", batch=_on_batch)


async def _on_batch(messages: Sequence[Message[Any]], uow: UnitOfWork) -> dict[int, Exception]:
    refused: dict[int, Exception] = {}
    clean: list[tuple[int, Message[Any]]] = []
    for i, m in enumerate(messages):
        bad = next(((j, found) for j, r in enumerate(m.data.results) if (found := text_problem(r.name, 200))), None)
        if bad is not None:
            j, (reason, detail) = bad
            refused[i] = NonRetryableError(reason, f"results.{j}.name: {detail}", field=f"results.{j}.name")
        else:
            clean.append((i, m))
    taken = await take_published([m for _, m in clean], uow)
    return refused | {clean[j][0]: exc for j, exc in taken.items()}
