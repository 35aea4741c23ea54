"""The committed OpenAPI documents (docs/openapi/<service>.json): how each is
built, rendered and written, for the one drift test over every service
(tests/unit/test_openapi_documents.py). A service joins by adding its
`openapi_document` function to `DOCUMENTS`.

Regenerate after changing a service's API:
    .venv/bin/python -m tests.support.openapi [SERVICE ...]     (default: every service listed)
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from shared.config import REPO_ROOT

DOCS = REPO_ROOT / "docs" / "openapi"

#: service → "module:function" returning its OpenAPI document, built without any connection
DOCUMENTS: dict[str, str] = {
    "appraisal": "services.appraisal.adapters.http:openapi_document",
    "credit": "services.credit.adapters.http:openapi_document",
    "custody": "services.custody.adapters.http:openapi_document",
    "inspection": "services.inspection.adapters.http:openapi_document",
    "intake": "services.intake.adapters.http:openapi_document",
    "notify": "services.notify.adapters.http:openapi_document",
    "routing": "services.routing.adapters.http:openapi_document",
}


def document(service: str) -> dict[str, Any]:
    module, function = DOCUMENTS[service].split(":")
    return getattr(importlib.import_module(module), function)()


def render(service: str) -> str:
    """The document as committed: sorted keys, two-space indent, UTF-8, a final newline."""
    return json.dumps(document(service), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def committed(service: str) -> Path:
    return DOCS / f"{service}.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("services", nargs="*", choices=[[], *DOCUMENTS], help="default: every service listed")
    args = parser.parse_args(argv)
    for service in args.services or list(DOCUMENTS):
        path = committed(service)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(service), encoding="utf-8")
        sys.stderr.write(f"wrote {path.relative_to(REPO_ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
