"""The pure parts stay pure: custody's, appraisal's and inspection's domain/ modules, and the shared
modules they import (`shared.watched_deadline`, `shared.refusals`), load no I/O or web module — run
in a fresh interpreter, so nothing another test imported counts."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IO_MODULES = ("asyncpg", "aiokafka", "httpx", "fastapi", "starlette", "uvicorn", "shared.deadline_watch", "shared.db",
              "shared.kafka", "shared.runtime", "shared.http")
PURE = sorted(f"services.{p.parent.parent.name}.domain.{p.stem}" for service in ("custody", "appraisal", "inspection")
              for p in (ROOT / "services" / service / "domain").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("module", PURE + ["shared.watched_deadline", "shared.refusals"])
def test_a_pure_module_loads_no_io_module(module: str) -> None:
    code = (f"import sys, {module}\n"
            f"bad = sorted(m for m in sys.modules if any(m == b or m.startswith(b + '.') for b in {IO_MODULES!r}))\n"
            "print(' '.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "", f"{module} loads {out.strip()}"
