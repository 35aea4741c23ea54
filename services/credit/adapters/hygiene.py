"""Credit's input hygiene, applied at the edge to every text and date of an HTTP body, path or
query parameter and of every Kafka payload, before anything is stored or published:

- text: NFKC, then no control (Cc: NUL, ESC, DEL, C1, CR, LF, TAB) or format (Cf: U+202E, zero-width
  …) characters, no lone surrogates (nor U+FFFD, what undecodable bytes become), no noncharacters, and the length checked after
  normalisation (the field's own ``max_length``, else `DEFAULT_MAX`);
- dates between `EARLIEST` and `LATEST` (a year-9999 date would overflow the calendar sums);
- ids of a declared shape (`RECORD_ID`, `APPLICATION_ID`, `TARGET_ID`).

A refusal names the field and the reason, as intake's do. The checks are shared/text.py's
`Hygiene`; only credit's bounds and id shapes are here.
"""
from __future__ import annotations

import datetime as dt

from shared.text import Hygiene

DEFAULT_MAX = 1000
EARLIEST = dt.date(1990, 1, 1)
LATEST = dt.date(2100, 12, 31)
#: ids as credit issues them: a prefix and 20 hex digits
RECORD_ID = r"^rec-[0-9a-f]{20}$"
APPLICATION_ID = r"^app-[0-9a-f]{20}$"
TARGET_ID = r"^(rec|lst)-[0-9a-f]{20}$"
PROCEEDING_ID = r"^lpr-[0-9a-f]{20}$"


#: the one edge check (shared/text.py), with credit's bound and its list-item names (names[0])
HYGIENE = Hygiene(default_max=DEFAULT_MAX, earliest=EARLIEST, latest=LATEST, item="{field}[{i}]", any_key="{field}[]")
text_problem = HYGIENE.text_problem
date_problem = HYGIENE.date_problem
problems = HYGIENE.problems
first_hostile_field = HYGIENE.first_problem
