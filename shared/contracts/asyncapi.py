"""Generate the published event catalogue: an AsyncAPI 3.0 document and one
JSON Schema per event type, from the registered pydantic models.

    python -m shared.contracts.asyncapi --write   # regenerate docs/contracts/
    python -m shared.contracts.asyncapi --check   # exit 1 when the committed files drift

A test runs the check, so a model change without regenerated documents fails.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shared.config import REPO_ROOT
from shared.contracts import Contract, catalogue
from shared.topics import CASE_INTAKE, CASE_ROUTING, priority_lane

OUT_DIR = REPO_ROOT / "docs" / "contracts"


def _schema(contract: Contract) -> dict[str, Any]:
    schema = contract.model.model_json_schema(mode="serialization")
    schema["$id"] = f"https://shuangda.example/schemas/{contract.type}.json"
    schema["x-event-type"] = contract.type
    schema["x-topic"] = contract.topic
    schema["x-kind"] = contract.kind
    return schema


#: the case topics with a priority lane (shared.topics.priority_lane)
LANED_TOPICS = (CASE_INTAKE.name, CASE_ROUTING.name)


def _channel_id(topic: str) -> str:
    return topic.replace(".", "_").replace("<", "").replace(">", "")


def build() -> dict[str, str]:
    """Every generated file, as {relative path: text}."""
    contracts = catalogue()
    files: dict[str, str] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for etype, c in contracts.items():
        files[f"schemas/{etype}.json"] = _dump(_schema(c))
        message_id = etype.replace(".", "_").replace("-", "_")
        messages[message_id] = {
            "name": etype,
            "title": c.model.__name__,
            "summary": c.summary,
            "contentType": "application/json",
            "payload": {"$ref": f"schemas/{etype}.json"},
            "bindings": {"kafka": {"key": {"type": "string", "description": c.key}}},
            "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
        }
        channel_id = _channel_id(c.topic)
        channel = channels.setdefault(channel_id, {"address": c.topic, "messages": {}})
        channel["messages"][message_id] = {"$ref": f"#/components/messages/{message_id}"}
    for topic in LANED_TOPICS:  # a case a person filed has all its events on the lane instead (issue 11 §4)
        bulk = channels.get(_channel_id(topic))
        if bulk is not None:
            lane = priority_lane(topic)
            channels[_channel_id(lane)] = {
                "address": lane, "messages": dict(bulk["messages"]),
                "description": f"the priority lane of {topic}: the same events, for the cases a person filed "
                               "(every event of one case is on one of the two topics)"}
    for channel_id, channel in channels.items():
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in channel["messages"]],
        }
    doc = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Shuangda events",
            "version": "1",
            "description": "CloudEvents 1.0 in Kafka binary mode (attributes as ce_* headers); key = aggregate id. "
            "Types are versioned and never renamed.",
        },
        "defaultContentType": "application/json",
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {
            "messages": dict(sorted(messages.items())),
            "schemas": {"CloudEventsHeaders": _headers_schema()},
        },
    }
    files["asyncapi.json"] = _dump(doc)
    return files


def _headers_schema() -> dict[str, Any]:
    attrs = ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time"]
    optional = ["ce_subject", "ce_correlationid", "ce_causationid", "ce_traceparent", "ce_actor", "content-type"]
    return {
        "type": "object",
        "required": attrs,
        "properties": {name: {"type": "string"} for name in attrs + optional},
    }


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def drift(out_dir: Path = OUT_DIR) -> list[str]:
    """Relative paths whose committed text differs from what the models generate (or is missing/extra)."""
    wanted = build()
    problems = [p for p, text in wanted.items() if not (out_dir / p).exists() or (out_dir / p).read_text(encoding="utf-8") != text]
    if (out_dir / "schemas").is_dir():
        problems += [f"schemas/{p.name} (no longer generated)" for p in (out_dir / "schemas").glob("*.json") if f"schemas/{p.name}" not in wanted]
    return sorted(problems)


def write(out_dir: Path = OUT_DIR) -> int:
    files = build()
    (out_dir / "schemas").mkdir(parents=True, exist_ok=True)
    for stale in (out_dir / "schemas").glob("*.json"):
        if f"schemas/{stale.name}" not in files:
            stale.unlink()
    for rel, text in files.items():
        (out_dir / rel).write_text(text, encoding="utf-8")
    return len(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if args.write:
        n = write()
        sys.stdout.write(f"wrote {n} files to {OUT_DIR}\n")
        return 0
    problems = drift()
    for p in problems:
        sys.stdout.write(f"drift: {p}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
