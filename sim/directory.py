"""The notify directory of a simulated day: every bureau reached by webhook at
the simulated gateway (one endpoint per bureau type, one for the office), with
fresh signing secrets, and complainants told by SMS.

The demo writes it to ``<state>/demo/directory.yaml`` and starts notify with
``SHUANGDA_NOTIFY_DIRECTORY_PATH`` pointing at it.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from shared.reference import city, directory
from shared.webhooks import generate_secret

COMPLAINANT_EVENTS = [
    "shuangda.case.opened.v1",
    "shuangda.case.merged.v1",
    "shuangda.case.assigned.v1",
    "shuangda.case.acknowledged.v1",
    "shuangda.case.outcome-recorded.v1",
    "shuangda.case.reopened.v1",
]
OFFICE_WATCH = ["shuangda.referral.transferred.v1", "shuangda.referral.refused.v1", "shuangda.referral.accepted.v1"]


def office_bureau(day: dt.date) -> str:
    return f"{directory(at=day).resolve('office')}@{city().code}"


def build_directory(base_url: str, day: dt.date, *, version: str, concurrency: int = 8) -> tuple[dict[str, Any], dict[str, str]]:
    """The directory document and the secrets by endpoint name (the gateway verifies with them)."""
    view = directory(at=day)
    office = office_bureau(day)
    secrets: dict[str, str] = {"office": generate_secret()}
    recipients: list[dict[str, Any]] = [{
        "id": "office", "match": office, "name": "领导小组办公室 (simulated)",
        "webhook": {"url": f"{base_url}/hooks/office", "secret": secrets["office"], "max_concurrency": concurrency},
        "channels": ["webhook"], "watch": OFFICE_WATCH,
    }]
    for bureau_type in sorted(view.active_bureaus() - {office.partition("@")[0]}):
        secrets[bureau_type] = generate_secret()
        recipients.append({
            "id": bureau_type, "match": f"{bureau_type}@*",
            "webhook": {"url": f"{base_url}/hooks/{bureau_type}", "secret": secrets[bureau_type],
                        "max_concurrency": concurrency},
            "channels": ["webhook"],
        })
    document = {
        "version": version,
        "note": "written by the simulator: every target is its loopback gateway (dev mode, inline secrets)",
        "recipients": recipients,
        "complainants": {"channel": "sms", "events": COMPLAINANT_EVENTS},
    }
    return document, secrets


def write_directory(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
    return path
