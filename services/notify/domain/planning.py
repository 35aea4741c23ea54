"""From a notice and the directory to delivery rows: one per (event, recipient,
channel), the preferred channel pending and the others on standby as fallbacks
(activated in order when the one before fails for good). Non-critical notices
for a recipient with a digest interval become digest items instead.

Content is rendered here, once, so every retry sends the same bytes (the
webhook body a receiver verifies is stable; only the timestamp and signature
of each attempt differ). Rendering itself is passed in (`Render`), keeping
templates out of the domain.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

from shared.contracts.cases import Sealed
from shared.envelope import uuid5_hex
from services.notify.domain.directory import Channel, Directory, Entry, endpoint_key
from services.notify.domain.notices import DIGEST_TYPE, PRIORITY_BULK, Notice, public_event_data

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "shuangda:notify")


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


#: render(template name (an event type), channel, context) → subject and body; raises `TemplateError`
Render = Callable[[str, Channel, Mapping[str, Any]], Rendered]


class TemplateError(RuntimeError):
    """A template is missing or does not render for its event (raised by a `Render`)."""


@dataclass(frozen=True)
class Complainant:
    """A complainant of a case as notify keeps it: an opaque id and the sealed phone (never opened here)."""

    recipient_id: str
    phone: Sealed
    tracking_no: str | None = None


def complainant_id(phone: Sealed) -> str:
    """An opaque, stable recipient id for a sealed phone (a digest of the ciphertext, not of the number)."""
    digest = hashlib.sha256(f"{phone.kid}.{phone.nonce}.{phone.ciphertext}".encode()).hexdigest()
    return "complainant:" + digest[:20]


def message_id(event_id: str, recipient: str, channel: str) -> str:
    """The delivery's id (the ``webhook-id``): derived from the unique key, so it never changes."""
    return "msg_" + uuid5_hex(_NAMESPACE, f"{event_id}/{recipient}/{channel}")


def digest_event_id(recipient: str, window_start: datetime) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"digest/{recipient}/{window_start.astimezone(timezone.utc).isoformat()}"))


@dataclass(frozen=True)
class Recipient:
    id: str
    name: str | None
    entry: Entry | None = None
    complainant: Complainant | None = None
    #: why: "addressed" (named by the event), "broadcast", "watch", "complainant"
    role: str = "addressed"


@dataclass(frozen=True)
class PlannedDelivery:
    message_id: str
    event_id: str
    event_type: str
    event_time: datetime
    case_id: str | None
    recipient: str
    channel: Channel
    rank: int
    critical: bool
    endpoint: str
    address: str
    subject: str
    body: str
    event_ids: tuple[str, ...] = ()
    #: claim lane (domain.notices.PRIORITY_*): lower is claimed first
    priority: int = PRIORITY_BULK

    @property
    def initial_state(self) -> str:
        return "pending" if self.rank == 0 else "standby"


@dataclass(frozen=True)
class DigestItem:
    recipient: str
    event_id: str
    event_type: str
    case_id: str | None
    event_time: datetime
    interval_seconds: float
    item: dict[str, Any]


@dataclass
class Plan:
    deliveries: list[PlannedDelivery] = field(default_factory=list)
    digest_items: list[DigestItem] = field(default_factory=list)
    #: addressed bureaus no directory entry serves (counted and logged by the caller)
    unmatched: list[str] = field(default_factory=list)


def recipients_for(notice: Notice, directory: Directory, complainants: Sequence[Complainant] = ()) -> tuple[list[Recipient], list[str]]:
    """Who is told of `notice` (deduplicated by recipient id), and the addressed bureaus nobody serves."""
    out: dict[str, Recipient] = {}
    unmatched: list[str] = []
    for bureau in notice.addressed:
        entry = directory.entry_for(bureau)
        if entry is None:
            unmatched.append(bureau)
            continue
        if entry.subscribes(notice.event_type) and bureau not in out:
            out[bureau] = Recipient(bureau, entry.name, entry, role="addressed")
    for entry in directory.entries if notice.broadcast else directory.watchers:
        if entry.id in out:
            continue
        if notice.broadcast and entry.subscribes(notice.event_type):
            out[entry.id] = Recipient(entry.id, entry.name, entry, role="broadcast")
        elif entry.watches(notice.event_type):
            out[entry.id] = Recipient(entry.id, entry.name, entry, role="watch")
    if notice.complainants != "none" and directory.complainants_subscribe(notice.event_type):
        for c in complainants:
            out.setdefault(c.recipient_id, Recipient(c.recipient_id, None, complainant=c, role="complainant"))
    return list(out.values()), unmatched


def context(notice: Notice, recipient: Recipient) -> dict[str, Any]:
    """What templates see: the validated event model as ``e``, the notice and the recipient."""
    return {
        "e": notice.event,
        "event_type": notice.event_type,
        "event_id": notice.event_id,
        "event_time": notice.event_time,
        "case_id": notice.case_id,
        "critical": notice.critical,
        "recipient": {"id": recipient.id, "name": recipient.name, "role": recipient.role},
        "tracking_no": recipient.complainant.tracking_no if recipient.complainant else None,
    }


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def webhook_body(*, msg_id: str, event_type: str, event_time: datetime, data: dict[str, Any]) -> str:
    """The JSON a webhook receives (Standard Webhooks payload shape: type, timestamp, data)."""
    return json.dumps(
        {"type": event_type, "timestamp": _iso(event_time), "data": {"id": msg_id, **data}},
        ensure_ascii=False, separators=(",", ":"),
    )


def channel_targets(entry: Entry) -> list[tuple[Channel, str, str]]:
    """(channel, endpoint key, address) for each of the entry's channels, in preference order."""
    out: list[tuple[Channel, str, str]] = []
    for ch in entry.channels:
        if ch == "webhook" and entry.webhook is not None:
            out.append((ch, entry.webhook.endpoint, entry.webhook.url))
        elif ch == "email" and entry.email:
            out.append((ch, endpoint_key("email"), ",".join(entry.email)))
        elif ch == "sms" and entry.sms:
            out.append((ch, endpoint_key("sms"), ",".join(entry.sms)))
    return out


def plan(notice: Notice, directory: Directory, render: Render, complainants: Sequence[Complainant] = ()) -> Plan:
    """The deliveries (and digest items) for one notice."""
    result = Plan()
    recipients, result.unmatched = recipients_for(notice, directory, complainants)
    for r in recipients:
        ctx = context(notice, r)
        if r.complainant is not None:
            rendered = render(notice.event_type, "sms", ctx)
            result.deliveries.append(PlannedDelivery(
                message_id=message_id(notice.event_id, r.id, "sms"), event_id=notice.event_id,
                event_type=notice.event_type, event_time=notice.event_time, case_id=notice.case_id, recipient=r.id,
                channel="sms", rank=0, critical=notice.critical, endpoint=endpoint_key("sms"),
                address=r.complainant.phone.model_dump_json(), subject="", body=rendered.body,
                priority=notice.priority(to_complainant=True),
            ))
            continue
        assert r.entry is not None
        if r.entry.digest_seconds > 0 and not notice.critical:
            rendered = render(notice.event_type, "webhook", ctx)
            result.digest_items.append(DigestItem(
                recipient=r.id, event_id=notice.event_id, event_type=notice.event_type, case_id=notice.case_id,
                event_time=notice.event_time, interval_seconds=r.entry.digest_seconds,
                item={"event_id": notice.event_id, "event_type": notice.event_type, "case_id": notice.case_id,
                      "event_time": _iso(notice.event_time), "title": rendered.subject, "text": rendered.body,
                      "event": public_event_data(notice.event)},
            ))
            continue
        for rank, (channel, endpoint, address) in enumerate(channel_targets(r.entry)):
            mid = message_id(notice.event_id, r.id, channel)
            rendered = render(notice.event_type, channel, ctx)
            body = rendered.body
            if channel == "webhook":
                body = webhook_body(msg_id=mid, event_type=notice.event_type, event_time=notice.event_time, data={
                    "event_id": notice.event_id, "case_id": notice.case_id, "recipient": r.id,
                    "critical": notice.critical, "title": rendered.subject, "text": rendered.body,
                    "event": public_event_data(notice.event),
                })
            result.deliveries.append(PlannedDelivery(
                message_id=mid, event_id=notice.event_id, event_type=notice.event_type, event_time=notice.event_time,
                case_id=notice.case_id, recipient=r.id, channel=channel, rank=rank, critical=notice.critical,
                endpoint=endpoint, address=address, subject=rendered.subject, body=body,
                priority=notice.priority(),
            ))
    return result


def plan_digest(
    *, recipient: str, entry: Entry, window_start: datetime, window_end: datetime,
    items: Sequence[Mapping[str, Any]], render: Render,
) -> list[PlannedDelivery]:
    """One delivery per channel of `entry` carrying every item of a digest window."""
    event_id = digest_event_id(recipient, window_start)
    event_ids = tuple(str(i["event_id"]) for i in items)
    times = [datetime.fromisoformat(str(i["event_time"]).replace("Z", "+00:00")) for i in items]
    first = min(times) if times else window_start
    ctx = {"recipient": {"id": recipient, "name": entry.name, "role": "digest"}, "items": list(items),
           "window_start": window_start, "window_end": window_end, "count": len(items)}
    out: list[PlannedDelivery] = []
    for rank, (channel, endpoint, address) in enumerate(channel_targets(entry)):
        mid = message_id(event_id, recipient, channel)
        rendered = render(DIGEST_TYPE, channel, ctx)
        body = rendered.body
        if channel == "webhook":
            body = webhook_body(msg_id=mid, event_type=DIGEST_TYPE, event_time=window_end, data={
                "event_id": event_id, "recipient": recipient, "critical": False, "title": rendered.subject,
                "text": rendered.body, "items": list(items),
            })
        out.append(PlannedDelivery(
            message_id=mid, event_id=event_id, event_type=DIGEST_TYPE, event_time=first, case_id=None,
            recipient=recipient, channel=channel, rank=rank, critical=False, endpoint=endpoint, address=address,
            subject=rendered.subject, body=body, event_ids=event_ids,
        ))
    return out
