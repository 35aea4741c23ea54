"""What intake's OpenAPI document promises (its drift against docs/openapi/intake.json is
checked with every service's in tests/unit/test_openapi_documents.py; regenerate with
``.venv/bin/python -m tests.support.openapi intake``)."""
from __future__ import annotations

from tests.support.openapi import document


def test_the_openapi_document_declares_both_ways_to_send_the_api_key() -> None:
    doc = document("intake")
    schemes = doc["components"]["securitySchemes"]
    assert {s.get("scheme") or s.get("name") for s in schemes.values()} == {"bearer", "X-API-Key"}
    for path in ("/v1/complaints", "/v1/leads:batch"):
        assert doc["paths"][path]["post"]["security"], path
    # Open311 clients send the key as the api_key body field (GeoReport v2), or a header
    for path in ("/open311/v2/requests.json", "/open311/v2/requests.xml"):
        body = doc["paths"][path]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        assert "api_key" in body["properties"], path


def test_every_operation_documents_problem_documents_for_auth_failures() -> None:
    doc = document("intake")
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if op.get("security"):
                assert "application/problem+json" in op["responses"]["401"]["content"], (method, path)
