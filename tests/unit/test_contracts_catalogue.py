"""The published event catalogue matches the models, and the models follow the contract's rules."""
from __future__ import annotations

import re

from shared.contracts import catalogue
from shared.contracts.asyncapi import drift

TYPE_PATTERN = re.compile(r"^shuangda\.[a-z]+(\.[a-z][a-z-]*)+\.v[0-9]+$")


def test_the_committed_asyncapi_document_and_schemas_match_the_models() -> None:
    problems = drift()
    assert not problems, "regenerate with `python -m shared.contracts.asyncapi --write`: " + ", ".join(problems)


def test_every_event_type_is_namespaced_and_versioned() -> None:
    for etype in catalogue():
        assert TYPE_PATTERN.match(etype), etype


def test_no_contract_carries_money_as_a_float() -> None:
    for etype, c in catalogue().items():
        for name, field in c.model.model_fields.items():
            if any(k in name for k in ("amount", "fine", "turnover", "gains", "sales", "value")):
                assert float not in (field.annotation, *getattr(field.annotation, "__args__", ())), (
                    f"{etype}.{name} is a float; money is Decimal"
                )
