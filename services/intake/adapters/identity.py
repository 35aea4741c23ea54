"""Intake's callers come from the one identity store (shared.identity): this turns a
`Principal` into the domain's `ClientContext`, and finds who owns an ingress topic."""
from __future__ import annotations

from typing import Iterator

from services.intake.domain.model import ClientContext
from shared.identity.model import Principal
from shared.topics import ingress_bureau


def client_context(principal: Principal) -> ClientContext:
    """Hotlines and platforms are themselves; every other kind reports for a bureau."""
    kind = principal.kind if principal.kind in ("hotline", "platform") else "bureau"
    return ClientContext(principal.principal_id, kind)  # type: ignore[arg-type]


def owner_ids(client: str) -> Iterator[str]:
    """The principal ids that may own ``ingress.<client>``: the client itself, and for a bureau's
    topic (``ingress.market_regulation-610402``, as ``shuangda keys create`` names it) the bureau."""
    yield client
    bureau = ingress_bureau(client)
    if bureau:
        yield "@".join(bureau)
