"""The assessment report (考核) of a simulated day, per county and per bureau.

`gather` reads the figures from what the services stored — routing's cases,
deadlines and referrals, credit's penalty records and listings, notify's
deliveries, intake's reports and dead letters — scoped to one run; `render`
turns them into one self-contained HTML file with inline SVG charts (no
external assets); `write` puts the HTML and the same figures as JSON under
``<state>/reports/``.

Definitions (also printed in the report):

* **cases** — cases opened by the run's reports, counted once, at their
  county (current GB/T 2260 code) and at their current lead bureau;
* **median time to acknowledge** — from the assignment to the acceptance or
  refusal, for the cases the bureau acknowledged (routing's clock: simulated hours);
* **deadline compliance** — of the legal deadlines that came due or were met
  by the end of the period (`as_of`: acknowledgement and each referral step),
  the share met on time; one met late, one still open past its due instant and
  one cancelled (a transfer, a closure) only after its due instant are late;
  **breaches** are those routing announced (``deadline.breached``) within the period;
* **transfers** — hand-overs of a case from one bureau to another (out of the
  bureau; for a county, of its cases);
* **referrals** — administrative → criminal referrals proposed (and accepted by the police);
* **penalties** — decisions on credit records, with the fines;
* **blacklistings** — entities on the serious-violation list because of the
  run's cases, counted at the county the entity is registered in (credit
  code positions 3–8) and at the authority that decides its removal;
* **custody, appraisal turnaround, inspections, satisfaction** — issue 15's sections
  (`sim/sections.py`, definitions there); a service whose schema is not in the run's
  database is shown as not run, never as zeros.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import statistics
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import asyncpg

from shared.reference import UnknownCode, bureau_type, categories, city, counties
from shared.workdays import SHANGHAI
from sim.observe import Scope, ident
from sim.sections import gather_sections, render_sections

COLOURS = {"assigned": "#f0ad4e", "accepted": "#5bc0de", "closed": "#5cb85c", "not_accepted": "#999999",
           "complaints": "#3465a4", "leads": "#e9b96e", "ok": "#4e9a06", "late": "#cc0000"}


@dataclass
class Row:
    key: str
    label: str
    cases: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    acknowledged: int = 0
    median_ack_hours: float | None = None
    on_time: int = 0
    late: int = 0
    breaches: int = 0
    transfers: int = 0
    referrals: int = 0
    referrals_accepted: int = 0
    penalties: int = 0
    fines: str = "0"
    blacklisted: int = 0

    @property
    def compliance(self) -> float | None:
        total = self.on_time + self.late
        return self.on_time / total if total else None


@dataclass
class Figures:
    run_id: str
    day: str
    generated_at: str
    as_of: str
    seed: int | None = None
    speed: float | None = None
    clock_spec: str | None = None
    totals: dict[str, Any] = field(default_factory=dict)
    counties: list[Row] = field(default_factory=list)
    bureaus: list[Row] = field(default_factory=list)
    hourly: list[dict[str, int]] = field(default_factory=list)
    categories: list[dict[str, Any]] = field(default_factory=list)
    referral_funnel: dict[str, int] = field(default_factory=dict)
    blacklist: list[dict[str, Any]] = field(default_factory=list)
    notices: dict[str, int] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)
    #: custody, appraisal turnaround, inspections, satisfaction (sim/sections.py)
    sections: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for group in ("counties", "bureaus"):
            for row, obj in zip(out[group], getattr(self, group)):
                row["compliance"] = obj.compliance
        return out


# -- names ----------------------------------------------------------------------------------------

def county_label(code: str) -> str:
    if code == city().code or code in city().city_level_codes:
        return f"{city().name_zh}(市级)"
    for c in counties():
        if c.code == code:
            return c.name_zh
    return code or "unknown"


def bureau_label(bureau: str) -> str:
    btype, _, place = bureau.partition("@")
    try:
        name = bureau_type(btype).name_zh
    except UnknownCode:
        name = btype
    return f"{county_label(place).replace('(市级)', '')}{name}"


def category_label(cat: str) -> str:
    for c in categories():
        if c.id == cat:
            return c.name_zh
    return cat


# -- gathering ------------------------------------------------------------------------------------

async def gather(dsn: str, scope: Scope, *, day: dt.date, as_of: dt.datetime, seed: int | None = None,
                 speed: float | None = None, clock_spec: str | None = None) -> Figures:
    """Read the run's figures from the database (see the module docstring for the definitions)."""
    s = scope.schemas
    R, C, N, I = ident(s.routing), ident(s.credit), ident(s.notify), ident(s.intake)
    run = f"WITH run AS ({scope.run_cases()})"
    conn = await asyncpg.connect(dsn, timeout=15)
    try:
        like = scope.like
        figures = Figures(run_id=scope.run_id, day=day.isoformat(), generated_at=dt.datetime.now(dt.timezone.utc).isoformat(),
                          as_of=as_of.isoformat(), seed=seed, speed=speed, clock_spec=clock_spec)

        cases = await conn.fetch(
            f"{run} SELECT c.case_id, c.county_label, c.assignee, c.state, c.category, c.assignment_no, c.assigned_at,"
            f" c.acknowledged_at FROM {R}.cases c JOIN run USING (case_id)", like)
        deadlines = await conn.fetch(
            f"{run} SELECT d.case_id, d.kind, d.bureau, d.state, d.due_at, d.closed_at, d.breached_sent, d.created_at"
            f" FROM {R}.deadlines d JOIN run USING (case_id)", like)
        referrals = await conn.fetch(
            f"{run} SELECT r.case_id, r.agency, r.state FROM {R}.referrals r JOIN run USING (case_id)", like)
        penalties = await conn.fetch(
            f"{run} SELECT p.case_id, p.bureau, p.fine_amount, p.entity_id FROM {C}.records p JOIN run USING (case_id)"
            " WHERE p.kind = 'penalty'", like)
        listings = await conn.fetch(
            f"{run}, ents AS (SELECT DISTINCT entity_id FROM {C}.records JOIN run USING (case_id))"
            f" SELECT l.listing_id, l.entity_id, l.rule_id, l.authority, l.listed_at, l.status, e.name, e.credit_code"
            f" FROM {C}.listings l JOIN ents USING (entity_id) JOIN {C}.entities e USING (entity_id) ORDER BY l.listed_at", like)
        hourly = await conn.fetch(
            f"SELECT extract(hour FROM received_at AT TIME ZONE 'Asia/Shanghai')::int AS h, origin, count(*) AS n"
            f" FROM {I}.reports WHERE source_id LIKE $1"
            f" AND (received_at AT TIME ZONE 'Asia/Shanghai')::date = $2 GROUP BY 1, 2", like, day)
        reports = await conn.fetchval(f"SELECT count(*) FROM {I}.reports WHERE source_id LIKE $1", like)
        notices = await conn.fetch(
            f"{run} SELECT d.channel, d.state, count(*) AS n FROM {N}.deliveries d JOIN run USING (case_id) GROUP BY 1, 2", like)
        dead = await conn.fetch(
            f"SELECT reason, count(*) AS n FROM {I}.dead_letters WHERE topic = ANY($1::text[]) GROUP BY reason",
            [f"ingress.{c}" for c in scope.kafka_clients]) if scope.kafka_clients else []
        figures.sections = await gather_sections(
            conn, run_cases=scope.run_cases(), like=like, routing=s.routing, custody=s.custody, appraisal=s.appraisal,
            inspection=s.inspection, since=dt.datetime.combine(day, dt.time(), SHANGHAI), as_of=as_of, intake=s.intake)
    finally:
        await conn.close()

    county_of = {r["case_id"]: r["county_label"] for r in cases}
    by_county: dict[str, Row] = {c.code: Row(c.code, c.name_zh) for c in counties()}
    by_bureau: dict[str, Row] = {}

    def crow(code: str | None) -> Row:
        code = code or "unknown"
        if code not in by_county:
            by_county[code] = Row(code, county_label(code))
        return by_county[code]

    def brow(bureau: str) -> Row:
        if bureau not in by_bureau:
            by_bureau[bureau] = Row(bureau, bureau_label(bureau))
        return by_bureau[bureau]

    ack_hours: dict[str, list[float]] = {}
    for r in cases:
        hours = None
        if r["acknowledged_at"] is not None:
            hours = max(0.0, (r["acknowledged_at"] - r["assigned_at"]).total_seconds() / 3600)
        for prefix, row in (("c:", crow(r["county_label"])), ("b:", brow(r["assignee"]))):
            row.cases += 1
            row.by_state[r["state"]] = row.by_state.get(r["state"], 0) + 1
            if hours is not None:
                row.acknowledged += 1
                ack_hours.setdefault(prefix + row.key, []).append(hours)
        crow(r["county_label"]).transfers += r["assignment_no"] - 1
    for key, values in ack_hours.items():
        row = by_county[key[2:]] if key.startswith("c:") else by_bureau[key[2:]]
        row.median_ack_hours = round(statistics.median(values), 1)

    breaches = 0
    acks: dict[str, list[Any]] = {}
    for d in deadlines:
        done_at = d["closed_at"] if d["closed_at"] is not None and d["closed_at"] <= as_of else None
        met_in_time = d["state"] == "met" and done_at is not None and done_at <= d["due_at"]
        # overdue by the end of the period: not met by its due instant, whether met later, still open,
        # or cancelled (a transfer, a closure) only after it had passed
        late = not met_in_time and d["due_at"] < as_of and (done_at is None or done_at > d["due_at"])
        announced = bool(d["breached_sent"]) and d["due_at"] < as_of
        breaches += announced
        for row in (crow(county_of.get(d["case_id"])), brow(d["bureau"])):
            row.on_time += met_in_time
            row.late += late
            row.breaches += announced
        if d["kind"] == "acknowledgement":
            acks.setdefault(d["case_id"], []).append(d)
    transfers = 0
    for rows in acks.values():
        rows.sort(key=lambda d: d["created_at"])
        for before, _after in zip(rows, rows[1:]):
            brow(before["bureau"]).transfers += 1
            transfers += 1

    funnel: dict[str, int] = {}
    for r in referrals:
        funnel[r["state"]] = funnel.get(r["state"], 0) + 1
        accepted = r["state"] in ("accepted", "handed_over")
        for row in (crow(county_of.get(r["case_id"])), brow(r["agency"])):
            row.referrals += 1
            row.referrals_accepted += accepted

    fines_c: dict[str, Decimal] = {}
    fines_b: dict[str, Decimal] = {}
    total_fines = Decimal(0)
    for p in penalties:
        amount = p["fine_amount"] or Decimal(0)
        total_fines += amount
        c, b = crow(county_of.get(p["case_id"])), brow(p["bureau"])
        for row, bucket in ((c, fines_c), (b, fines_b)):
            row.penalties += 1
            bucket[row.key] = bucket.get(row.key, Decimal(0)) + amount
    for key, amount in fines_c.items():
        by_county[key].fines = str(amount)
    for key, amount in fines_b.items():
        by_bureau[key].fines = str(amount)

    listed_entities: set[str] = set()
    for li in listings:
        code = li["credit_code"]
        registered = code[2:8] if code else None
        place = registered if registered and any(c.code == registered for c in counties()) else None
        if li["entity_id"] not in listed_entities:
            crow(place).blacklisted += 1
            listed_entities.add(li["entity_id"])
        brow(li["authority"]).blacklisted += 1
        figures.blacklist.append({
            "name": li["name"], "credit_code": code, "rule": li["rule_id"], "authority": li["authority"],
            "authority_name": bureau_label(li["authority"]), "listed_at": li["listed_at"].isoformat(), "status": li["status"],
        })

    state_totals: dict[str, int] = {}
    for r in cases:
        state_totals[r["state"]] = state_totals.get(r["state"], 0) + 1
    cat_counts: dict[str, int] = {}
    for r in cases:
        cat_counts[r["category"]] = cat_counts.get(r["category"], 0) + 1
    all_ack = [h for k, v in ack_hours.items() if k.startswith("c:") for h in v]
    on_time = sum(r.on_time for r in by_county.values())
    late = sum(r.late for r in by_county.values())
    figures.totals = {
        "reports": reports, "cases": len(cases), "cases_by_state": state_totals,
        "median_ack_hours": round(statistics.median(all_ack), 1) if all_ack else None,
        "deadlines_on_time": on_time, "deadlines_late": late,
        "compliance": on_time / (on_time + late) if on_time + late else None,
        "breaches": breaches, "transfers": transfers, "referrals": len(referrals),
        "referrals_accepted": sum(1 for r in referrals if r["state"] in ("accepted", "handed_over")),
        "penalties": len(penalties), "fines": str(total_fines), "blacklisted": len(listed_entities),
        "notices_delivered": sum(r["n"] for r in notices if r["state"] == "delivered"),
        "dead_letters": sum(r["n"] for r in dead),
    }
    figures.counties = [r for r in by_county.values() if r.cases or r.key in {c.code for c in counties()}]
    figures.bureaus = sorted((r for r in by_bureau.values() if r.cases or r.on_time or r.late or r.penalties or r.referrals),
                             key=lambda r: (-r.cases, r.key))
    hours: dict[int, dict[str, int]] = {h: {"hour": h, "complaints": 0, "leads": 0} for h in range(24)}
    for r in hourly:
        hours[r["h"]]["leads" if r["origin"] == "lead" else "complaints"] += r["n"]
    figures.hourly = [hours[h] for h in range(24)]
    figures.categories = [{"category": k, "label": category_label(k), "cases": v}
                          for k, v in sorted(cat_counts.items(), key=lambda kv: -kv[1])]
    figures.referral_funnel = funnel
    figures.notices = {f"{r['channel']}:{r['state']}": r["n"] for r in notices}
    figures.dead_letters = {r["reason"]: r["n"] for r in dead}
    return figures


# -- SVG ---------------------------------------------------------------------------------------------

def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def hbar_chart(items: list[tuple[str, list[tuple[float, str, str]]]], *, title: str, unit: str = "",
               max_value: float | None = None, width: int = 720, label_width: int = 170, bar: int = 16) -> str:
    """Horizontal (stacked) bars: items = [(label, [(value, colour, tooltip), …])]."""
    gap = 6
    top = 28
    height = top + len(items) * (bar + gap) + 24
    span = max_value or max((sum(v for v, _, _ in segs) for _, segs in items), default=0) or 1
    plot = width - label_width - 70
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="{_e(title)}" class="chart">',
           f'<text x="0" y="16" class="t">{_e(title)}</text>']
    for i, (label, segs) in enumerate(items):
        y = top + i * (bar + gap)
        out.append(f'<text x="{label_width - 6}" y="{y + bar - 4}" text-anchor="end" class="l">{_e(label)}</text>')
        x = float(label_width)
        total = 0.0
        for value, colour, tip in segs:
            w = max(0.0, value / span * plot)
            if w > 0:
                out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}"><title>{_e(tip)}</title></rect>')
            x += w
            total += value
        shown = f"{total:.0%}" if unit == "%" else f"{total:,.1f}{unit}" if unit else f"{total:,.0f}"
        out.append(f'<text x="{x + 4:.1f}" y="{y + bar - 4}" class="v">{_e(shown)}</text>')
    out.append("</svg>")
    return "".join(out)


def vbar_chart(columns: list[tuple[str, list[tuple[float, str, str]]]], *, title: str, width: int = 720,
               height: int = 220) -> str:
    """Vertical stacked bars (e.g. reports per hour)."""
    top, bottom, left = 28, 24, 36
    plot_h = height - top - bottom
    span = max((sum(v for v, _, _ in segs) for _, segs in columns), default=0) or 1
    step = (width - left) / max(1, len(columns))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="{_e(title)}" class="chart">', f'<text x="0" y="16" class="t">{_e(title)}</text>',
           f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" class="l">{span:,.0f}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" stroke="#888"/>']
    for i, (label, segs) in enumerate(columns):
        x = left + i * step + 2
        y = float(top + plot_h)
        for value, colour, tip in segs:
            h = value / span * plot_h
            if h > 0:
                y -= h
                out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - 4:.1f}" height="{h:.1f}" fill="{colour}">'
                           f'<title>{_e(tip)}</title></rect>')
        out.append(f'<text x="{x + (step - 4) / 2:.1f}" y="{height - 8}" text-anchor="middle" class="l">{_e(label)}</text>')
    out.append("</svg>")
    return "".join(out)


# -- HTML ---------------------------------------------------------------------------------------------

CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{padding:3px 8px;border-bottom:1px solid #e3e3e3;text-align:right}
th{background:#f4f4f4}td.n,th.n{text-align:left}.kpi{display:inline-block;margin:6px 18px 6px 0}
.kpi b{display:block;font-size:22px}.chart{margin:8px 0;display:block}.chart .t{font-size:14px;font-weight:bold}
.chart .l{font-size:11px;fill:#333}.chart .v{font-size:11px;fill:#555}.note{color:#666;font-size:12px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
"""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _num(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, str):
        try:
            return f"{Decimal(value):,.0f}"
        except ArithmeticError:
            return value
    return f"{value:,}" if isinstance(value, int) else str(value)


def _rows_table(rows: Iterable[Row], first: str) -> str:
    head = ("<tr><th class=n>{}</th><th>cases</th><th>acknowledged</th><th>median h to ack</th><th>compliance</th>"
            "<th>late / breached</th><th>transfers</th><th>referrals (accepted)</th><th>penalties</th><th>fines ¥</th>"
            "<th>blacklisted</th></tr>").format(_e(first))
    body = []
    for r in rows:
        body.append(
            f"<tr><td class=n>{_e(r.label)} <span class=note>{_e(r.key)}</span></td><td>{r.cases}</td><td>{r.acknowledged}</td>"
            f"<td>{_num(r.median_ack_hours)}</td><td>{_pct(r.compliance)}</td><td>{r.late} / {r.breaches}</td>"
            f"<td>{r.transfers}</td><td>{r.referrals} ({r.referrals_accepted})</td><td>{r.penalties}</td>"
            f"<td>{_num(r.fines)}</td><td>{r.blacklisted}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


def render(f: Figures) -> str:
    t = f.totals
    counties_sorted = sorted(f.counties, key=lambda r: (-(r.compliance if r.compliance is not None else -1), -r.cases))
    states = ("closed", "accepted", "assigned", "not_accepted")
    cases_chart = hbar_chart(
        [(r.label, [(float(r.by_state.get(s, 0)), COLOURS[s], f"{r.label} {s}: {r.by_state.get(s, 0)}") for s in states])
         for r in sorted(f.counties, key=lambda r: -r.cases)],
        title="Cases per county, by state (closed · accepted · assigned · not accepted)")
    compliance_chart = hbar_chart(
        [(r.label, [(r.compliance or 0.0, COLOURS["ok"] if (r.compliance or 0) >= 0.9 else COLOURS["late"],
                     f"{r.label}: {_pct(r.compliance)} of {r.on_time + r.late} deadlines on time")])
         for r in counties_sorted], title="Deadline compliance per county", unit="%", max_value=1.0)
    ack_chart = hbar_chart(
        [(r.label, [(r.median_ack_hours or 0.0, "#75507b", f"{r.label}: median {_num(r.median_ack_hours)} h")])
         for r in sorted(f.counties, key=lambda r: r.median_ack_hours or 0)],
        title="Median time to acknowledge per county (simulated hours)", unit=" h")
    hourly_chart = vbar_chart(
        [(str(h["hour"]), [(float(h["complaints"]), COLOURS["complaints"], f"{h['hour']}:00 complaints and reports: {h['complaints']}"),
                           (float(h["leads"]), COLOURS["leads"], f"{h['hour']}:00 leads: {h['leads']}")])
         for h in f.hourly], title=f"Reports registered per hour of {f.day} (Asia/Shanghai): complaints and reports · leads")
    top_bureaus = [r for r in f.bureaus if r.cases][:20]
    bureau_chart = hbar_chart(
        [(r.label, [(r.compliance or 0.0, COLOURS["ok"] if (r.compliance or 0) >= 0.9 else COLOURS["late"],
                     f"{r.label}: {_pct(r.compliance)}")]) for r in top_bureaus],
        title="Deadline compliance of the 20 bureaus with the most cases", unit="%", max_value=1.0, label_width=260)
    category_chart = hbar_chart(
        [(c["label"], [(float(c["cases"]), "#3465a4", f"{c['label']}: {c['cases']}")]) for c in f.categories],
        title="Cases per category", label_width=260)
    funnel_order = ("proposed", "approved", "rejected", "transferred", "refused", "reconsideration_requested",
                    "reconsideration_refused", "supervision_requested", "accepted", "handed_over")
    funnel = "".join(f"<tr><td class=n>{_e(k)}</td><td>{f.referral_funnel.get(k, 0)}</td></tr>" for k in funnel_order
                     if f.referral_funnel.get(k))
    blacklist = "".join(
        f"<tr><td class=n>{_e(b['name'])}</td><td class=n>{_e(b['credit_code'] or '—')}</td><td class=n>{_e(b['rule'])}</td>"
        f"<td class=n>{_e(b['authority_name'])}</td><td class=n>{_e(b['listed_at'][:16])}</td></tr>" for b in f.blacklist)
    kpis = [("reports", t.get("reports")), ("cases", t.get("cases")),
            ("closed", t.get("cases_by_state", {}).get("closed", 0)),
            ("median h to acknowledge", t.get("median_ack_hours")), ("deadline compliance", _pct(t.get("compliance"))),
            ("deadline breaches", t.get("breaches")), ("transfers", t.get("transfers")),
            ("criminal referrals", t.get("referrals")), ("penalties", t.get("penalties")), ("fines ¥", t.get("fines")),
            ("blacklisted entities", t.get("blacklisted")), ("notices delivered", t.get("notices_delivered")),
            ("dead letters", t.get("dead_letters"))]
    kpi_html = "".join(f'<div class=kpi><b>{_e(v if isinstance(v, str) and not v.replace(".", "").isdigit() else _num(v))}</b>{_e(k)}</div>'
                       for k, v in kpis)
    figures_json = json.dumps(f.to_json(), ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>双打考核 {f.day} ({_e(f.run_id)})</title><style>{CSS}</style></head>
<body>
<h1>打击侵权假冒工作考核 — {_e(city().name_zh)} {_e(f.day)} (simulated day, run {_e(f.run_id)})</h1>
<p class=note>Figures as of {_e(f.as_of[:16])} (simulated time), read from the services' databases on {_e(f.generated_at[:19])} UTC.
Seed {_e(f.seed)}, speed {_e(f.speed)}×, clock <code>{_e(f.clock_spec)}</code>.</p>
<div>{kpi_html}</div>
<h2>The day</h2>{hourly_chart}
<div class=legend><span style="background:{COLOURS['complaints']}"></span>complaints and reports (hotlines, web)
<span style="background:{COLOURS['leads']}"></span>leads (platforms, monitoring)</div>
{category_chart}
<h2>Counties (属地)</h2>
{cases_chart}{compliance_chart}{ack_chart}
{_rows_table(counties_sorted, "county")}
<h2>Bureaus</h2>
{bureau_chart}
{_rows_table(f.bureaus, "bureau")}
<h2>Criminal referrals (两法衔接)</h2>
<table><tr><th class=n>state</th><th>referrals</th></tr>{funnel or '<tr><td class=n>none</td><td>0</td></tr>'}</table>
<h2>Serious-violation list (严重违法失信名单)</h2>
<table><tr><th class=n>entity</th><th class=n>credit code</th><th class=n>rule</th><th class=n>authority</th><th class=n>listed</th></tr>
{blacklist or '<tr><td class=n colspan=5>none</td></tr>'}</table>
{render_sections(f.sections, county_label=county_label, bureau_label=bureau_label)}
<h2>Definitions</h2>
<p class=note>Cases: opened by the run's reports, at their county and current lead bureau. Median time to acknowledge: assignment to
acceptance or refusal (simulated hours). Deadline compliance: of the deadlines that came due or were met (acknowledgement and each
referral step), the share met on time; breached, late and overdue-open deadlines are late. Transfers: for a bureau, cases it passed on;
for a county, re-assignments of its cases. Blacklisted: entities listed because of the run's cases, at the county of registration
(credit code) and at the deciding authority. Custody: lots registered on the run's cases, still in custody at the end of the period,
disposed of by outcome, destruction plans done and their cost. Appraisal turnaround: per provider kind, requests of the run's cases and
the hours from request to result. Inspections: plans drawn in the period, their targets, results and violations that became a case.
Satisfaction: the run's cases' survey answers, mean score, share resolved and cases reopened by a low score, in all, per county and
per current bureau; and the evidence files complainants attached to the run's reports.</p>
<script type="application/json" id="figures">{figures_json}</script>
</body></html>
"""


def write(f: Figures, directory: Path) -> Path:
    """Write ``assessment-<day>-<run>.html`` and ``.json``; return the HTML's path."""
    directory.mkdir(parents=True, exist_ok=True)
    base = directory / f"assessment-{f.day}-{f.run_id}"
    html_path = base.with_suffix(".html")
    html_path.write_text(render(f), encoding="utf-8")
    base.with_suffix(".json").write_text(json.dumps(f.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
    return html_path
