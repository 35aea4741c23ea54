"""The assessment report's sections for issue 15's mechanisms: custody (公物仓), appraisal
turnaround (快速鉴定), random inspections (双随机、一公开) and the complainants' satisfaction.

`gather_sections` reads what the services stored — custody's lots and destruction plans and
appraisal's requests of the run's cases, inspection's plans drawn in the period, routing's survey
answers of the run's cases — and each `*_section` function turns those rows into the figures
(pure, unit-tested). A service whose schema does not exist in the run's database (a stack run
without it) gives ``{"ran": False}``: the report says so instead of showing zeros. Storage costs are custody's own report
(`GET /v1/reports/costs`); here the section counts lots, kept days and the destruction cost.

Definitions (also printed in the report):

* **custody** — lots registered on the run's cases, their declared value, lots still in custody at
  `as_of`, lots disposed of by outcome, destruction plans done and their environmental cost;
* **appraisal turnaround** — per provider kind: requests of the run's cases, reported, refused or
  withdrawn, open, and the median and longest hours from the request to the result;
* **inspections** — plans drawn in the period: targets drawn, inspected (a result recorded),
  results by kind, published, and violations that became a case (``referred_to_case``);
* **satisfaction** — survey answers of the run's cases: count, mean score, share resolved and
  cases reopened by a low score, in all and per county and per (current) bureau as routing's
  assessment counts them (`GET /v1/overview/assessment`); and the evidence files the complainants
  attached to the run's reports (intake's attachments).
"""
from __future__ import annotations

import datetime as dt
import html
import statistics
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

import asyncpg

from sim.observe import ident


def _hours(start: dt.datetime, end: dt.datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 3600)


def custody_section(lots: Iterable[Mapping[str, Any]], plans: Iterable[Mapping[str, Any]],
                    as_of: dt.datetime) -> dict[str, Any]:
    """`lots`: {state, declared_value, disposed_outcome, disposed_at}; `plans`: {state, environmental_cost}."""
    lots = list(lots)
    disposed: dict[str, int] = {}
    kept = 0
    value = Decimal(0)
    for lot in lots:
        value += Decimal(lot["declared_value"] or 0)
        at = lot["disposed_at"]
        if lot["disposed_outcome"] and at is not None and at <= as_of:
            disposed[lot["disposed_outcome"]] = disposed.get(lot["disposed_outcome"], 0) + 1
        else:
            kept += 1
    done = [p for p in plans if p["state"] == "done"]
    cost = sum((Decimal(p["environmental_cost"] or 0) for p in done), Decimal(0))
    return {"ran": True, "lots": len(lots), "declared_value": str(value), "in_custody": kept, "disposed": disposed,
            "destruction_plans_done": len(done), "destruction_cost": str(cost)}


def appraisal_section(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """`rows`: {provider_kind, state, requested_at, closed_at}."""
    out: dict[str, dict[str, Any]] = {}
    hours: dict[str, list[float]] = {}
    for r in rows:
        kind = r["provider_kind"]
        row = out.setdefault(kind, {"requested": 0, "reported": 0, "refused_or_withdrawn": 0, "open": 0})
        row["requested"] += 1
        if r["state"] == "reported":
            row["reported"] += 1
            if r["closed_at"] is not None:
                hours.setdefault(kind, []).append(_hours(r["requested_at"], r["closed_at"]))
        elif r["state"] in ("refused", "withdrawn"):
            row["refused_or_withdrawn"] += 1
        else:
            row["open"] += 1
    for kind, row in out.items():
        values = hours.get(kind, [])
        row["median_hours"] = round(statistics.median(values), 1) if values else None
        row["longest_hours"] = round(max(values), 1) if values else None
    return {"ran": True, "by_provider_kind": dict(sorted(out.items()))}


def inspection_section(tasks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """`tasks`: {plan_id, state, result} of the plans drawn in the period."""
    plans: set[str] = set()
    results: dict[str, int] = {}
    targets = inspected = published = 0
    for t in tasks:
        plans.add(t["plan_id"])
        targets += 1
        if t["state"] in ("recorded", "published"):
            inspected += 1
            results[t["result"]] = results.get(t["result"], 0) + 1
        published += t["state"] == "published"
    return {"ran": True, "plans": len(plans), "targets": targets, "inspected": inspected, "results": results,
            "published": published, "became_cases": results.get("referred_to_case", 0)}


def _satisfaction(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    return {"answers": len(rows),
            "mean_score": round(statistics.mean(r["score"] for r in rows), 2) if rows else None,
            "resolved_share": sum(bool(r["resolved"]) for r in rows) / len(rows) if rows else None,
            "reopened": sum(bool(r["reopened"]) for r in rows)}


def satisfaction_section(surveys: Iterable[Mapping[str, Any]],
                         attachments: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """`surveys`: {score, resolved, reopened, county_label, assignee} (the case's county and current bureau);
    `attachments`: {report_id, content_type} of the run's reports."""
    rows = list(surveys)
    groups: dict[str, dict[str, list[Mapping[str, Any]]]] = {"by_county": {}, "by_bureau": {}}
    for r in rows:
        for group, key in (("by_county", r.get("county_label")), ("by_bureau", r.get("assignee"))):
            groups[group].setdefault(str(key or "unknown"), []).append(r)
    files = list(attachments)
    return {"ran": True, **_satisfaction(rows),
            **{group: {k: _satisfaction(v) for k, v in sorted(by.items())} for group, by in groups.items()},
            "attachments": len(files), "reports_with_attachments": len({f["report_id"] for f in files})}


NOT_RUN: dict[str, Any] = {"ran": False}


async def _exists(conn: asyncpg.Connection, schema: str, table: str) -> bool:
    return await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{ident(schema)}.{table}") is True


async def gather_sections(conn: asyncpg.Connection, *, run_cases: str, like: str, routing: str, custody: str,
                          appraisal: str, inspection: str, since: dt.datetime, as_of: dt.datetime,
                          intake: str | None = None) -> dict[str, Any]:
    """The four sections from the database (`run_cases`: SQL selecting the run's case ids with $1 = `like`)."""
    run = f"WITH run AS ({run_cases})"
    out: dict[str, Any] = {}
    if await _exists(conn, custody, "lots"):
        K = ident(custody)
        lots = await conn.fetch(f"{run} SELECT l.state, l.declared_value, l.disposed_outcome, l.disposed_at"
                                f" FROM {K}.lots l JOIN run USING (case_id)", like)
        plans = await conn.fetch(
            f"{run} SELECT DISTINCT p.plan_id, p.state, p.environmental_cost FROM {K}.destruction_plans p"
            f" JOIN {K}.lots l ON l.lot_id = ANY(p.lot_ids) JOIN run ON run.case_id = l.case_id", like)
        out["custody"] = custody_section(lots, plans, as_of)
    else:
        out["custody"] = NOT_RUN
    if await _exists(conn, appraisal, "appraisals"):
        out["appraisal"] = appraisal_section(await conn.fetch(
            f"{run} SELECT a.provider_kind, a.state, a.requested_at, a.closed_at FROM {ident(appraisal)}.appraisals a"
            f" JOIN run USING (case_id)", like))
    else:
        out["appraisal"] = NOT_RUN
    if await _exists(conn, inspection, "tasks"):
        P = ident(inspection)
        out["inspections"] = inspection_section(await conn.fetch(
            f"SELECT t.plan_id, t.state, t.result FROM {P}.tasks t JOIN {P}.plans p USING (plan_id)"
            f" WHERE p.drawn_at >= $1 AND p.drawn_at < $2", since, as_of))
    else:
        out["inspections"] = NOT_RUN
    if await _exists(conn, routing, "surveys"):
        R = ident(routing)
        surveys = await conn.fetch(
            f"{run} SELECT s.score, s.resolved, s.reopened, c.county_label, c.assignee FROM {R}.surveys s"
            f" JOIN run USING (case_id) JOIN {R}.cases c USING (case_id)", like)
        files = await conn.fetch(
            f"SELECT a.report_id, a.content_type FROM {ident(intake)}.attachments a"
            f" JOIN {ident(intake)}.reports r USING (report_id) WHERE r.source_id LIKE $1", like) \
            if intake and await _exists(conn, intake, "attachments") else []
        out["satisfaction"] = satisfaction_section(surveys, files)
    else:
        out["satisfaction"] = NOT_RUN
    return out


# -- HTML ---------------------------------------------------------------------------------------------

def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(pairs: Iterable[tuple[str, object]]) -> str:
    return "<table>" + "".join(f"<tr><td class=n>{_e(k)}</td><td>{_e('—' if v is None else v)}</td></tr>"
                               for k, v in pairs) + "</table>"


def render_sections(s: Mapping[str, Any], *, county_label: Callable[[str], str] = str,
                    bureau_label: Callable[[str], str] = str) -> str:
    """The four sections' HTML; the labels name a county code and a bureau id (the report's own)."""
    def not_run(name: str) -> str:
        return f"<p class=note>{_e(name)} did not run in this simulation (its schema is not in the run's database).</p>"

    parts = []
    c = s.get("custody", NOT_RUN)
    parts.append("<h2>Seized goods in custody (公物仓)</h2>" + (_table([
        ("lots registered", c["lots"]), ("declared value ¥", c["declared_value"]), ("still in custody", c["in_custody"]),
        *((f"disposed: {k}", v) for k, v in sorted(c["disposed"].items())),
        ("destruction plans done", c["destruction_plans_done"]), ("destruction cost ¥", c["destruction_cost"]),
    ]) if c.get("ran") else not_run("custody")))
    a = s.get("appraisal", NOT_RUN)
    if a.get("ran"):
        head = ("<tr><th class=n>provider</th><th>requested</th><th>reported</th><th>refused / withdrawn</th><th>open</th>"
                "<th>median h to result</th><th>longest h</th></tr>")
        body = "".join(
            f"<tr><td class=n>{_e(k)}</td><td>{r['requested']}</td><td>{r['reported']}</td><td>{r['refused_or_withdrawn']}</td>"
            f"<td>{r['open']}</td><td>{_e('—' if r['median_hours'] is None else r['median_hours'])}</td>"
            f"<td>{_e('—' if r['longest_hours'] is None else r['longest_hours'])}</td></tr>"
            for k, r in a["by_provider_kind"].items()) or "<tr><td class=n colspan=7>none</td></tr>"
        parts.append(f"<h2>Appraisal turnaround (快速鉴定)</h2><table>{head}{body}</table>")
    else:
        parts.append("<h2>Appraisal turnaround (快速鉴定)</h2>" + not_run("appraisal"))
    i = s.get("inspections", NOT_RUN)
    parts.append("<h2>Random inspections (双随机、一公开)</h2>" + (_table([
        ("plans drawn", i["plans"]), ("targets", i["targets"]), ("inspected", i["inspected"]),
        *((f"result: {k}", v) for k, v in sorted(i["results"].items())), ("published", i["published"]),
        ("violations that became a case", i["became_cases"]),
    ]) if i.get("ran") else not_run("inspection")))
    v = s.get("satisfaction", NOT_RUN)
    parts.append("<h2>Satisfaction (回访满意度)</h2>" + (_table([
        ("answers", v["answers"]), ("mean score (1–5)", v["mean_score"]),
        ("resolved", _share(v["resolved_share"])), ("reopened by a low score", v["reopened"]),
        ("evidence files attached (reports with one)",
         f"{v.get('attachments', 0)} ({v.get('reports_with_attachments', 0)})"),
    ]) + _satisfaction_table("county", v.get("by_county", {}), county_label)
        + _satisfaction_table("bureau", v.get("by_bureau", {}), bureau_label)
        if v.get("ran") else not_run("routing's survey table")))
    return "\n".join(parts)


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _satisfaction_table(first: str, rows: Mapping[str, Mapping[str, Any]], label: Callable[[str], str]) -> str:
    if not rows:
        return ""
    head = (f"<tr><th class=n>{_e(first)}</th><th>answers</th><th>mean score</th><th>resolved</th>"
            "<th>reopened</th></tr>")
    body = "".join(
        f"<tr><td class=n>{_e(label(k))} <span class=note>{_e(k)}</span></td><td>{r['answers']}</td>"
        f"<td>{_e('—' if r['mean_score'] is None else r['mean_score'])}</td><td>{_share(r['resolved_share'])}</td>"
        f"<td>{r['reopened']}</td></tr>"
        for k, r in sorted(rows.items(), key=lambda kv: (-kv[1]["answers"], kv[0])))
    return f"<table>{head}{body}</table>"
