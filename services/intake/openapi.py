"""Write (or check) the committed OpenAPI document: ``python -m services.intake.openapi [--check]``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from services.intake.adapters.http import openapi_document

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi" / "intake.json"


def render() -> str:
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed document differs")
    args = parser.parse_args()
    text = render()
    if args.check:
        same = DOC.exists() and DOC.read_text(encoding="utf-8") == text
        sys.stderr.write("docs/openapi/intake.json is current\n" if same else "docs/openapi/intake.json is stale\n")
        return 0 if same else 1
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {DOC}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
