"""Intake accepts the conduct figure (the 刑法 article, issue 14 §1) and the 2025 sub-items' counts, checks the
conduct against the threshold families, and keeps it out of the running totals' sums."""
from __future__ import annotations

from decimal import Decimal

from services.intake.domain.validation import _figures, add_figures, conduct_error
from shared.contracts.intake import FiguresInput


def test_a_known_conduct_and_the_new_counts_become_figures() -> None:
    f = FiguresInput(conduct=215, unsold_pieces=30000, patents_count=2, service_illegal_gains=Decimal("50000"),
                     works_online=500, downloads=10000, clicks=100000, members=1000, unsold_copies=3000)
    assert conduct_error(f) is None
    figures = _figures(f)
    assert figures["conduct"] == Decimal(215) and figures["unsold_pieces"] == Decimal(30000)
    assert figures["service_illegal_gains"] == Decimal("50000.00") and figures["clicks"] == Decimal(100000)


def test_a_conduct_naming_no_threshold_family_is_refused_naming_the_field() -> None:
    bad = conduct_error(FiguresInput(conduct=999))
    assert bad is not None and bad.field == "figures.conduct" and bad.reason == "unknown_conduct"


def test_reports_naming_the_same_conduct_keep_it_and_different_ones_make_it_unknown() -> None:
    a = {"conduct": Decimal(213), "illegal_gains": Decimal(10000)}
    same = add_figures(a, {"conduct": Decimal(213), "illegal_gains": Decimal(5000)})
    assert same == {"conduct": Decimal(213), "illegal_gains": Decimal(15000)}
    mixed = add_figures(same, {"conduct": Decimal(214)})
    assert mixed["conduct"] == Decimal(0)
    assert add_figures(mixed, {"conduct": Decimal(213)})["conduct"] == Decimal(0)  # once mixed, stays unknown
    assert add_figures({"sales": Decimal(1)}, {"conduct": Decimal(214)})["conduct"] == Decimal(214)
