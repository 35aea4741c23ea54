"""Intake's callers come from the one identity store (shared.identity): this turns a
`Principal` into the domain's `ClientContext`, and finds who owns an ingress topic."""
from __future__ import annotations

import re
from typing import Iterator

from services.intake.domain.model import ClientContext
from shared.identity.model import Principal

_BUREAU_TOPIC = re.compile(r"^([a-z][a-z0-9_]*)-([0-9]{6})$")


def client_context(principal: Principal) -> ClientContext:
    """Hotlines and platforms are themselves; every other kind reports for a bureau."""
    kind = principal.kind if principal.kind in ("hotline", "platform") else "bureau"
    return ClientContext(principal.principal_id, kind)  # type: ignore[arg-type]


def owner_ids(client: str) -> Iterator[str]:
    """The principal ids that may own ``ingress.<client>``: the client itself, and for a bureau's
    topic (``ingress.market_regulation-610402``, as ``shuangda keys create`` names it) the bureau."""
    yield client
    m = _BUREAU_TOPIC.match(client)
    if m:
        yield f"{m.group(1)}@{m.group(2)}"
