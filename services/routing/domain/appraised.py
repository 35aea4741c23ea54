"""What an appraisal's results make of a case's figures (issue 15 §2). Pure.

Each reported appraisal carries the figures its result adds (`shuangda.appraisal.reported.v1`
``figures``: counterfeit or substandard goods at their valuation as ``unsold_value``). The
appraisals of one case are of different lots, so their figures add up; the case's figure is the
larger of what it had (from the reports) and the appraisals' total — an appraisal confirms or
raises a figure, never lowers one the reports gave. Figures the thresholds do not name are left out.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Iterable, Mapping


def appraised_figures(current: Mapping[str, Decimal], reported: Iterable[Mapping[str, Decimal]],
                      known: frozenset[str]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for figures in reported:
        for name, value in figures.items():
            if name in known:
                totals[name] = totals.get(name, Decimal(0)) + Decimal(value)
    out = dict(current)
    for name, total in totals.items():
        if total > out.get(name, Decimal(0)):
            out[name] = total
    return out
