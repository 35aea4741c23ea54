"""What appraisals make of a case's figures (services/routing/domain/appraised.py)."""
from __future__ import annotations

from decimal import Decimal as D

from services.routing.domain.appraised import appraised_figures

KNOWN = frozenset({"sales", "unsold_value"})


def test_the_appraisals_of_different_lots_add_up_and_raise_the_figure() -> None:
    assert appraised_figures({"sales": D(10)}, [{"unsold_value": D(100)}, {"unsold_value": D(50)}], KNOWN) == {
        "sales": D(10), "unsold_value": D(150)}


def test_an_appraisal_never_lowers_a_figure_the_reports_gave_and_unknown_figures_are_left_out() -> None:
    assert appraised_figures({"unsold_value": D(500)}, [{"unsold_value": D(100), "colour": D(1)}], KNOWN) == {
        "unsold_value": D(500)}
