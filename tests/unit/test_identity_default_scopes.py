"""Default scopes by kind match what the services require of that kind's commands."""
from __future__ import annotations

import inspect

from shared.identity.model import DEFAULT_SCOPES


def test_an_office_key_with_the_default_scopes_may_act_on_the_cases_the_office_directs() -> None:
    from services.routing.adapters import http

    source = inspect.getsource(http.build_router)
    assert 'scope: str = "cases:act"' in source, "routing's case commands require cases:act"
    assert "cases:act" in DEFAULT_SCOPES["office"]
    assert "cases:read-all" in DEFAULT_SCOPES["office"]


def test_the_procuratorate_and_public_callers_cannot_act_on_cases_by_default() -> None:
    assert "cases:act" not in DEFAULT_SCOPES["procuratorate"]
    assert "cases:act" not in DEFAULT_SCOPES["public_api"]
