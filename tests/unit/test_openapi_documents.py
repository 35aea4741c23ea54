"""Every service's committed OpenAPI document matches its app, lists its operations,
declares how to send the API key and documents its problem responses
(regenerate with ``.venv/bin/python -m tests.support.openapi SERVICE``)."""
from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from tests.support.openapi import DOCUMENTS, committed, document, render

SERVICES = sorted(DOCUMENTS)


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method in ("get", "put", "post", "delete", "patch"):
                yield method, path, op


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


@pytest.mark.parametrize("service", SERVICES)
def test_the_committed_openapi_document_matches_the_app(service: str) -> None:
    path = committed(service)
    assert path.exists(), f"{path.name} is missing: run python -m tests.support.openapi {service}"
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(render(service)), (
        f"docs/openapi/{path.name} is stale: run python -m tests.support.openapi {service} and commit it")


@pytest.mark.parametrize("service", SERVICES)
def test_the_document_lists_operations_and_each_authenticated_one_names_a_declared_scheme(service: str) -> None:
    doc = document(service)
    ops = list(operations(doc))
    assert ops, "the document lists no operation"
    schemes = doc["components"]["securitySchemes"]
    assert {s.get("scheme") or s.get("name") for s in schemes.values()} >= {"bearer", "X-API-Key"}
    for method, path, op in ops:
        for requirement in op.get("security", []):
            assert set(requirement) <= set(schemes), (method, path, requirement)


@pytest.mark.parametrize("service", SERVICES)
def test_every_authenticated_operation_documents_its_refusals_as_problem_documents(service: str) -> None:
    for method, path, op in operations(document(service)):
        if op.get("security"):
            for status in ("401", "403"):
                assert "application/problem+json" in op["responses"][status]["content"], (method, path, status)


@pytest.mark.parametrize("service", SERVICES)
def test_every_reference_in_the_document_resolves(service: str) -> None:
    doc = document(service)
    schemas = doc.get("components", {}).get("schemas", {})
    dangling = {r for r in refs(doc) if r.startswith("#/components/schemas/") and r.rsplit("/", 1)[1] not in schemas}
    assert not dangling


def test_every_notify_operation_needs_an_api_key_and_documents_invalid_parameters() -> None:
    for method, path, op in operations(document("notify")):
        assert op.get("security"), (method, path)
        if op.get("parameters"):
            assert "application/problem+json" in op["responses"]["422"]["content"], (method, path)
