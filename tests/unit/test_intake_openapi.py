"""The committed OpenAPI document of intake matches the app (regenerate with
``.venv/bin/python -m services.intake.openapi``)."""
from __future__ import annotations

import json

from services.intake.openapi import DOC, render


def test_the_committed_openapi_document_matches_the_app() -> None:
    assert DOC.exists(), "docs/openapi/intake.json is missing: run python -m services.intake.openapi"
    assert json.loads(DOC.read_text(encoding="utf-8")) == json.loads(render()), (
        "docs/openapi/intake.json is stale: run python -m services.intake.openapi and commit it")


def test_the_openapi_document_declares_both_ways_to_send_the_api_key() -> None:
    doc = json.loads(render())
    schemes = doc["components"]["securitySchemes"]
    assert {s.get("scheme") or s.get("name") for s in schemes.values()} == {"bearer", "X-API-Key"}
    for path in ("/v1/complaints", "/v1/leads:batch", "/open311/v2/requests.json"):
        assert doc["paths"][path]["post"]["security"], path


def test_every_operation_documents_problem_documents_for_auth_failures() -> None:
    doc = json.loads(render())
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if op.get("security"):
                assert "application/problem+json" in op["responses"]["401"]["content"], (method, path)
