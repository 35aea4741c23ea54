"""Routing's input hygiene, in one place, applied at the edge to every text, id, paging value
and date of an HTTP request and of a bureau's command from its ingress topic:

- text: NFKC, then no control (Cc: NUL, ESC, DEL, C1, CR, LF, TAB) or format (Cf: U+202E,
  zero-width …) characters, no lone surrogates, no U+FFFD (what undecodable bytes become), no
  noncharacters, and the length checked after normalisation (the field's own ``max_length``,
  else `DEFAULT_MAX`); Postgres refuses NUL in text, so unchecked it was a 500;
- path ids (`CaseIdPath`): a declared shape, 1–64 visible ASCII characters;
- paging (`Limit`, `Offset`): bounded integers (an offset past a bigint was a 500);
- dates between `EARLIEST` and `LATEST` (year 9999 overflows any deadline sum).

A refusal is a 422 problem document naming the field and the reason, as intake's are.
The checks are shared/text.py's `Hygiene`; only routing's bounds and path/query types are here.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Path, Query

from shared.http import ProblemError
from shared.text import CASE_ID_PATTERN, Hygiene

DEFAULT_MAX = 4000
EARLIEST = dt.date(1990, 1, 1)
LATEST = dt.date(2100, 12, 31)
VALIDATION = "https://shuangda.example/problems/validation"
#: case ids as intake issues them (and tests make them): visible ASCII, no space, no slash
CASE_ID = CASE_ID_PATTERN
#: the largest offset a listing accepts (far beyond any real number of cases, far below a bigint)
MAX_OFFSET = 1_000_000

CaseIdPath = Annotated[str, Path(pattern=CASE_ID, min_length=1, max_length=64,
                                 description="the case id (1-64 of A-Z a-z 0-9 . _ : @ -)")]
Limit = Annotated[int, Query(ge=1, le=10_000, description="page size (capped at the service's list_limit_max)")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"cases to skip (0-{MAX_OFFSET})")]
CaseState = Annotated[str | None, Query(pattern="^(assigned|accepted|closed|not_accepted)$", max_length=20)]


#: the one edge check (shared/text.py), with routing's bound and pydantic's list-item names (files.0.title)
HYGIENE = Hygiene(default_max=DEFAULT_MAX, earliest=EARLIEST, latest=LATEST)
text_problem = HYGIENE.text_problem
date_problem = HYGIENE.date_problem
problems = HYGIENE.problems
first_problem = HYGIENE.first_problem


def require_clean(value: Any, field: str = "") -> None:
    """Refuse (a 422 problem naming every field) a value that is not clean."""
    errors = [{"field": f, "reason": reason, "detail": detail} for f, reason, detail in problems(value, field)]
    if errors:
        raise ProblemError(422, "Request failed validation", f"{len(errors)} invalid field(s)", errors=errors,
                           type_=VALIDATION)
