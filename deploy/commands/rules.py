"""``shuangda rules``: the legal register — every legal figure in force on a date.

    shuangda rules                          # in force today (Asia/Shanghai)
    shuangda rules --at 2025-04-25          # the day before 法释〔2025〕5号
    shuangda rules --unverified             # what remains to check against the regulation's own text
    shuangda rules --format csv > rules.csv # for the office's review

Each row: the area (thresholds, deadlines, holidays, credit.*), what the figure
governs, its value, the citation with its article, the version's effective dates
and whether it was read in the regulation's own text (with the note saying which
text, or what was looked for and not found). docs/legal.md explains the sources.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import sys

FIELDS = ("area", "id", "governs", "value", "citation", "article", "version", "effective_from", "effective_until",
          "verified", "verified_note")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("rules", help="the legal register: every legal figure in force on a date",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--at", type=dt.date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                   help="the date (default: today in Asia/Shanghai)")
    p.add_argument("--unverified", action="store_true", help="only figures not yet read in the regulation's own text")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--area", action="append", help="only these areas (thresholds, deadlines, holidays, credit.publicity …)")
    p.set_defaults(func=run)


def figures(at: dt.date, *, unverified: bool = False, areas: list[str] | None = None) -> list:  # noqa: ANN001
    from services.credit.rules.register import credit_figures
    from shared.reference.register import shared_figures

    rows = [*shared_figures(at), *credit_figures(at)]
    if unverified:
        rows = [r for r in rows if not r.verified]
    if areas:
        rows = [r for r in rows if r.area in areas or r.area.split(".")[0] in areas]
    return rows


def render(rows: list, fmt: str, at: dt.date) -> str:  # noqa: ANN001
    if fmt == "json":
        return json.dumps({"at": at.isoformat(), "figures": [r.as_dict() for r in rows]}, ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            d = r.as_dict()
            # a spreadsheet must not run a cell as a formula
            w.writerow({k: ("'" + v if isinstance(v, str) and v and v[0] in "=+-@\t\r" else v) for k, v in d.items()})
        return out.getvalue()
    lines = [f"legal figures in force on {at.isoformat()}: {len(rows)} "
             f"({sum(1 for r in rows if not r.verified)} not verified against the regulation's own text)"]
    area = None
    for r in rows:
        if r.area != area:
            area = r.area
            lines.append(f"\n[{area}]")
        until = r.effective_until.isoformat() if r.effective_until else "…"
        mark = "verified" if r.verified else "NOT VERIFIED"
        lines.append(f"  {r.id}: {r.governs}")
        lines.append(f"      value:    {r.value}")
        lines.append(f"      source:   {r.citation}{' ' + r.article if r.article and r.article not in r.citation else ''}")
        lines.append(f"      in force: {r.effective_from.isoformat()} → {until} (version {r.version}) · {mark}")
        if r.verified_note and not r.verified:
            lines.append(f"      note:     {' '.join(r.verified_note.split())}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from shared.workdays import SHANGHAI

    at = args.at or dt.datetime.now(SHANGHAI).date()
    rows = figures(at, unverified=args.unverified, areas=args.area)
    sys.stdout.write(render(rows, args.format, at) + "\n")
    return 0
