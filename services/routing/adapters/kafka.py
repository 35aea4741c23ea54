"""Kafka → routing's use cases: the routes routing's consumer subscribes to.

- ``case.opened`` / ``case.merged`` from intake (`settings.intake_topic`; its priority lane
  through a second consumer, `priority_routes`): one
  `Router.intake_batch` call for the whole batch (a constant number of round trips,
  whatever its size); a ``case.merged`` of a case never opened is refused
  (dead-lettered with ``unknown_case``) without holding back the others;
- bureau commands on ``<ingress prefix><bureau_type>-<jurisdiction>``: the acting bureau
  is read here, once, from the topic name (only its principal may write there), and the
  commands go to `app.commands.apply_in_order`. A record on a topic that names no bureau
  is dead-lettered with ``unknown_actor``; one whose text is not clean (NUL, control or
  format characters, lone surrogates: `adapters.hygiene`) with the reason and the field.

A bureau's ingress topic also carries commands for other services (complaints for intake,
penalty decisions for credit): the shared runtime passes over the command types the
contract catalogue gives to another service (`TopicRoute.on_unknown="dead_letter"`) and
dead-letters any type nobody knows.

- ``appraisal.reported`` (`settings.appraisal_topic`): the result's figures go into the case
  (`app.appraisals`); the appraisal's other events are passed over.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from shared.contracts.appraisal import AppraisalReported
from shared.contracts.bureau_actions import COMMANDS
from shared.contracts.cases import CaseMerged, CaseOpened, CaseSurveyAnswered
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.runtime.routes import Binding, TopicRoute
from shared.topics import priority_lane

from services.routing.adapters.hygiene import first_problem
from services.routing.app.appraisals import appraised
from services.routing.app.commands import Received, apply_in_order
from services.routing.app.reopen import surveys
from services.routing.app.router import Router
from services.routing.domain.bureaus import Bureau


def intake_route(router: Router, topic: str) -> TopicRoute:
    """Intake's case events on `topic` (the case topic or its priority lane: the same handling)."""

    async def intake(messages: Sequence[Message[Any]], uow: UnitOfWork) -> Mapping[int, Exception]:
        answers = [(i, m) for i, m in enumerate(messages) if isinstance(m.data, CaseSurveyAnswered)]
        if not answers:
            return await router.intake_batch(uow, messages)
        # the complainants' survey answers (rare) go to the reopen handler; the rest as before
        cases = [(i, m) for i, m in enumerate(messages) if not isinstance(m.data, CaseSurveyAnswered)]
        refused = dict(await surveys(router, uow, answers))
        if cases:
            got = await router.intake_batch(uow, [m for _, m in cases])
            refused.update({cases[j][0]: exc for j, exc in got.items()})
        return refused

    return TopicRoute(
        topic=topic,
        bindings={CaseOpened.EVENT_TYPE: Binding(CaseOpened), CaseMerged.EVENT_TYPE: Binding(CaseMerged),
                  CaseSurveyAnswered.EVENT_TYPE: Binding(CaseSurveyAnswered)},
        on_unknown="ignore",
        batch=intake,
    )


def priority_routes(router: Router, *, intake_topic: str) -> list[TopicRoute]:
    """What routing's second consumer (group ``<group>-priority``) reads: intake's priority lane
    (``case.intake.priority``, the cases a person filed), through the same handling as the case topic,
    so a complaint is assigned however long the bulk topic's backlog is."""
    return [intake_route(router, priority_lane(intake_topic))]


def routes(router: Router, *, intake_topic: str, ingress_pattern: str,
           appraisal_topic: str | None = None) -> list[TopicRoute]:
    topic_re = re.compile(ingress_pattern)

    async def ingress(messages: Sequence[Message[Any]], uow: UnitOfWork) -> Mapping[int, Exception]:
        refused: dict[int, Exception] = {}
        received: list[Received] = []
        for i, message in enumerate(messages):
            m = topic_re.fullmatch(message.topic)
            bureau = Bureau.from_client_id(m.group("client")) if m else None
            if bureau is None:
                refused[i] = NonRetryableError("unknown_actor", f"topic: {message.topic} does not name a bureau",
                                               field="topic")
                continue
            dirty = first_problem(message.data)
            if dirty is not None:
                field, reason, detail = dirty
                refused[i] = NonRetryableError(reason, f"{field}: {detail}", field=field)
                continue
            received.append(Received(str(bureau), message.data, message.envelope))
        await apply_in_order(router, uow, received)
        return refused

    return [
        intake_route(router, intake_topic),
        TopicRoute(
            pattern=ingress_pattern,
            bindings={cmd.EVENT_TYPE: Binding(cmd) for cmd in COMMANDS},
            on_unknown="dead_letter",
            batch=ingress,
        ),
    ] + ([] if appraisal_topic is None else [
        # appraisal results add to a case's figures (app/appraisals.py); the other steps are not routing's
        TopicRoute(topic=appraisal_topic, bindings={AppraisalReported.EVENT_TYPE: Binding(AppraisalReported)},
                   on_unknown="ignore", batch=lambda messages, uow: appraised(router, uow, messages)),
    ])
