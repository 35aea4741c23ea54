"""Inspection's use cases, each in the caller's unit of work: new pool versions, the plan's draw,
results and their publication — audited, with their deadlines and events. No SQL and no status
codes here."""
from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Sequence

import asyncpg

from shared import audit
from shared import deadline_watch as watch
from shared.clock import Clock
from shared.contracts.inspection import (DrawnTarget, InspectionDeadlineApproaching, InspectionDeadlineBreached,
                                         InspectionPlanDrawn, InspectionResultRecorded, InspectionResultsPublished,
                                         PlanScope, PoolVersion, PublishedResult)
from shared.contracts.intake import SubmitLead, SuspectInput
from shared.reference import counties
from shared.reference.deadlines import load_deadlines
from shared.refusals import NotFound, Refused
from shared.runtime.uow import UnitOfWork
from shared.workdays import SHANGHAI, WorkdayCalendar

from services.inspection.adapters import postgres as db
from services.inspection.domain import draw as drawing
from services.inspection.domain import tasks as rules
from services.inspection.domain.draw import Enterprise, Inspector, Scope
from services.inspection.domain.tasks import Task
from services.inspection.metrics import COMMANDS, DEADLINES

RULES_FILE = Path(__file__).resolve().parent.parent / "rules" / "deadlines.yaml"
PUBLICATION = "result_publication"


@dataclass(frozen=True)
class Actor:
    party: str          # the bureau (type@division)
    person: str


def pool_id(kind: str, bureau: str) -> str:
    return f"{kind}:{bureau}"


@dataclass(frozen=True)
class Inspections:
    clock: Clock
    topic: str
    lead_topic: str
    calendar: WorkdayCalendar
    rules_file: Path = RULES_FILE
    before_hours: float = 24

    async def _audit(self, uow: UnitOfWork, kind: str, subject: str, actor: Actor, body: dict[str, Any]) -> None:
        await audit.append(uow.conn, f"inspection.{kind}", subject, body, actor=actor.person, at=self.clock.now())
        uow.after_commit(COMMANDS.labels(kind).inc)

    async def upload_pool(self, uow: UnitOfWork, actor: Actor, kind: Literal["attributes", "inspectors"],
                          entries: Sequence[Enterprise] | Sequence[Inspector]) -> dict[str, Any]:
        """A new version of the bureau's enterprise attributes (risk grades, quality commitments) or
        inspector roster (earlier versions stay)."""
        ids = [e.credit_code if isinstance(e, Enterprise) else e.inspector_id for e in entries]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise Refused("entries", "duplicate", f"{dup} is listed twice")
        pid, now = pool_id(kind, actor.party), self.clock.now()
        canonical, digest = drawing.canonical(entries), drawing.digest(entries)
        version = await db.add_pool_version(uow.conn, pool_id=pid, bureau=actor.party, kind=kind, canonical=canonical,
                                            digest=digest, size=len(entries), at=now, by=actor.person)
        await self._audit(uow, "pool_uploaded", pid, actor, {"version": version, "digest": digest, "size": len(entries)})
        out = {"pool_id": pid, "version": version, "digest": digest, "size": len(entries), "created_at": now.isoformat()}
        if kind == "attributes":
            codes = [e.credit_code for e in entries if isinstance(e, Enterprise)]
            known = await db.registry_names(uow.conn, codes)
            # the draw takes enterprises from the registry: an attribute of one it does not (yet) hold is unused
            out["not_in_registry"] = sorted(set(codes) - set(known))
        return out

    async def _snapshot(self, uow: UnitOfWork, actor: Actor, scope: Scope, now: dt.datetime) -> asyncpg.Record | None:
        """The registry in the plan's scope, with the bureau's attributes, as a version of its
        enterprise pool (the latest version again when nothing changed)."""
        attributes = await db.pool(uow.conn, pool_id("attributes", actor.party))
        registered = [drawing.Registered(r["credit_code"], r["name"], r["county"], tuple(r["categories"]))
                      for r in await db.registered(uow.conn, county=scope.county, category=scope.category)]
        entries = drawing.snapshot(registered, db.enterprises(attributes) if attributes else [], scope)
        if not entries:
            return None
        pid, digest = pool_id("enterprises", actor.party), drawing.digest(entries)
        latest = await db.pool(uow.conn, pid)
        if latest is None or latest["digest"] != digest:
            await db.add_pool_version(uow.conn, pool_id=pid, bureau=actor.party, kind="enterprises",
                                      canonical=drawing.canonical(entries), digest=digest, size=len(entries), at=now,
                                      by=actor.person)
            latest = await db.pool(uow.conn, pid)
            await audit.append(uow.conn, "inspection.pool_snapshot", pid,
                               {"version": latest["version"], "digest": digest, "size": len(entries),
                                "scope": asdict(scope) | {"risks": list(scope.risks)}}, actor=actor.person, at=now)
        return latest

    async def draw_plan(self, uow: UnitOfWork, actor: Actor, *, title: str, scope: Scope, sample_size: int | None,
                        sample_rate: Decimal | None, inspectors_per_target: int, seed: str | None) -> dict[str, Any]:
        now = self.clock.now()
        scope = drawing.jurisdiction(scope, actor.party.partition("@")[2], [c.code for c in counties()])
        i_row = await db.pool(uow.conn, pool_id("inspectors", actor.party))
        if i_row is None:
            raise Refused("inspector_roster", "missing", f"{actor.party} has uploaded no inspector roster")
        e_row = await self._snapshot(uow, actor, scope, now)
        if e_row is None:
            raise Refused("scope", "no_enterprise", "the registry holds no registered enterprise inside the scope")
        seed = seed or secrets.token_hex(16)
        found = drawing.draw(seed, db.enterprises(e_row), db.inspectors(i_row), scope, sample_size=sample_size,
                             sample_rate=sample_rate, inspectors_per_target=inspectors_per_target)
        plan_id = f"insp_{uuid.uuid4().hex[:20]}"
        plan = {"plan_id": plan_id, "bureau": actor.party, "title": title, "scope": asdict(scope) | {"risks": list(scope.risks)},
                "sample_size": sample_size, "sample_rate": sample_rate, "inspectors_per_target": inspectors_per_target,
                "seed": seed, "enterprise_pool": e_row["pool_id"], "enterprise_version": e_row["version"],
                "inspector_pool": i_row["pool_id"], "inspector_version": i_row["version"], "eligible": found.eligible,
                "drawn_at": now, "created_by": actor.person}
        tasks = [Task(plan_id, actor.party, t.credit_code, t.name, t.county, t.category, t.inspectors) for t in found.targets]
        await db.insert_plan(uow.conn, plan, tasks)
        e_version = PoolVersion(pool_id=e_row["pool_id"], version=e_row["version"], digest=e_row["digest"])
        i_version = PoolVersion(pool_id=i_row["pool_id"], version=i_row["version"], digest=i_row["digest"])
        await self._audit(uow, "plan_drawn", plan_id, actor,
                          {"seed": seed, "scope": plan["scope"], "enterprise_pool": e_version.model_dump(),
                           "inspector_roster": i_version.model_dump(), "targets": [t.credit_code for t in tasks],
                           "inspectors": [list(t.inspectors) for t in tasks]})
        uow.emit(self.topic, InspectionPlanDrawn(
            plan_id=plan_id, bureau=actor.party, title=title, scope=PlanScope(**plan["scope"]), sample_size=sample_size,
            sample_rate=sample_rate, inspectors_per_target=inspectors_per_target, seed=seed, enterprise_pool=e_version,
            inspector_roster=i_version, eligible=found.eligible,
            targets=[DrawnTarget(credit_code=t.credit_code, name=t.name, county=t.county, inspectors=list(t.inspectors))
                     for t in tasks], drawn_at=now), key=plan_id)
        return plan | {"tasks": tasks}

    async def record(self, uow: UnitOfWork, actor: Actor, plan_id: str, *, credit_code: str, result: str,
                     findings: str, inspected_by: tuple[str, ...], correction_reason: str | None = None) -> Task:
        """A target's result; with `correction_reason`, the correction of one recorded or published
        (its own publication deadline opens: the corrected result must be published in turn)."""
        now = self.clock.now()
        found = await db.tasks(uow.conn, plan_id, lock=True, credit_code=credit_code)
        if not found:
            if await db.plan(uow.conn, plan_id) is None:
                raise NotFound("plan", plan_id)
            raise Refused("credit_code", "not_drawn", f"{credit_code} was not drawn in {plan_id}")
        if correction_reason is None:
            task = rules.record(found[0], by_party=actor.party, result=result, findings=findings,
                                inspected_by=inspected_by, at=now)
        else:
            task = rules.correct(found[0], by_party=actor.party, result=result, findings=findings,
                                 inspected_by=inspected_by, reason=correction_reason, at=now)
        await db.save_tasks(uow.conn, [task])
        rule = load_deadlines(self.rules_file).rule("inspection_result_publication", now.astimezone(SHANGHAI).date())
        due = self.calendar.deadline_from(now, rule)
        citation = f"{rule.citation} {rule.article}".strip()
        await watch.open_deadlines(uow.conn, [watch.WatchedDeadline(
            deadline_id=rules.publication_deadline_id(plan_id, credit_code, task.revision), subject=plan_id,
            case_id=plan_id,
            kind=PUBLICATION, party=actor.party, rule_id=rule.id, rule_version=rule.version, citation=citation,
            local_policy=citation.startswith("local policy"), starts_at=now,
            warn_at=watch.warn_at(now, due.due_at_utc, before_hours=self.before_hours), due_at=due.due_at_utc,
            provisional=due.provisional)])
        await self._audit(uow, "result_recorded", plan_id, actor,
                          {"credit_code": credit_code, "result": result, "findings": findings,
                           "inspected_by": list(inspected_by), "revision": task.revision,
                           "correction_reason": correction_reason})
        uow.emit(self.topic, InspectionResultRecorded(plan_id=plan_id, bureau=actor.party, credit_code=credit_code,
                                                      result=result, recorded_at=now, revision=task.revision,  # type: ignore[arg-type]
                                                      correction_reason=correction_reason), key=plan_id)
        if result == "referred_to_case" and found[0].result != "referred_to_case":
            # a violation opens a case through intake's normal path: a lead on inspection's own ingress topic
            lead = SubmitLead(source_id=f"{plan_id}:{credit_code}", channel="monitoring", category=task.category,
                              county=task.county, description=f"双随机抽查发现违法线索（{plan_id}）：{findings}"[:4000],
                              observed_at=now, suspect=SuspectInput(credit_code=credit_code, name=task.name))
            uow.emit(self.lead_topic, lead, key=lead.source_id)
        return task

    async def publish(self, uow: UnitOfWork, actor: Actor, plan_id: str) -> list[Task]:
        now = self.clock.now()
        found = await db.tasks(uow.conn, plan_id, lock=True)
        if not found:
            raise NotFound("plan", plan_id)
        done = rules.publish(found, by_party=actor.party, at=now)
        await db.save_tasks(uow.conn, done)
        # only the results published now meet their deadlines (every revision up to the one published)
        await watch.close_ids(uow.conn, [rules.publication_deadline_id(plan_id, t.credit_code, n)
                                         for t in done for n in range(1, t.revision + 1)], now)
        await self._audit(uow, "results_published", plan_id, actor, {"credit_codes": [t.credit_code for t in done]})
        uow.emit(self.topic, InspectionResultsPublished(
            plan_id=plan_id, bureau=actor.party, published_at=now,
            results=[PublishedResult(credit_code=t.credit_code, name=t.name, result=t.result, findings=t.findings)  # type: ignore[arg-type]
                     for t in done]), key=plan_id)
        return done


#: the watch's event for one publication deadline (its id is ``plan:credit_code:kind[:rN]``), and its count
deadline_event = watch.event_factory(InspectionDeadlineApproaching, InspectionDeadlineBreached, subject_field="plan_id",
                                     fields=lambda d: {"credit_code": d.deadline_id.split(":")[1]})
count_emitted = watch.counted(DEADLINES, "what")
