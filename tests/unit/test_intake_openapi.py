"""What intake's OpenAPI document promises (its drift against docs/openapi/intake.json is
checked with every service's in tests/unit/test_openapi_documents.py; regenerate with
``.venv/bin/python -m tests.support.openapi intake``)."""
from __future__ import annotations

from tests.support.openapi import document


def test_the_openapi_document_declares_both_ways_to_send_the_api_key() -> None:
    doc = document("intake")
    schemes = doc["components"]["securitySchemes"]
    assert {s.get("scheme") or s.get("name") for s in schemes.values()} == {"bearer", "X-API-Key"}
    for path in ("/v1/complaints", "/v1/leads:batch", "/open311/v2/requests.json"):
        assert doc["paths"][path]["post"]["security"], path


def test_every_operation_documents_problem_documents_for_auth_failures() -> None:
    doc = document("intake")
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if op.get("security"):
                assert "application/problem+json" in op["responses"]["401"]["content"], (method, path)
