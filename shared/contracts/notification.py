"""Notification status events (topic `notification.status`, key: the recipient),
emitted by notify for the leading-group office and the audit trail.

One `NotificationDelivered` per delivery that reached its receiver (a 2xx
webhook answer, an SMTP server's acceptance, a 2xx from the SMS gateway);
one `NotificationFailed` per delivery notify gave up on (retries exhausted,
the endpoint answered 410 Gone, a permanent rejection), naming the channel it
falls back to, if any. Each is emitted once per delivery: its id is derived
from the delivery's id.

A delivery is one (event, recipient, channel); a digest delivery carries
several events (`event_ids`). The recipient is a bureau id
(``market_regulation@610402``), a directory entry id for broadcasts, or
``complainant:<opaque id>`` — never a phone number or an address.
"""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts import EventModel, contract
from shared.topics import NOTIFICATION
from shared.text import CaseId

_KEY = "recipient"

NotificationChannel = Literal["webhook", "email", "sms"]
#: Why notify gave up on a delivery (bounded: it is a metric label).
FailureReason = Literal[
    "retries_exhausted",   # every attempt of the retry schedule failed
    "endpoint_disabled",   # the endpoint answered 410 Gone (now, or earlier): it is not called again
    "rejected",            # a permanent refusal (e.g. an SMTP 5xx for the recipient, an unopenable phone)
    "expired",             # the endpoint stayed unreachable (circuit open) past the whole retry window
    "no_target",           # the directory no longer gives this recipient the channel
]


@contract(topic=NOTIFICATION.name, key=_KEY)
class NotificationDelivered(EventModel):
    """A notice reached its recipient over one channel."""

    EVENT_TYPE: ClassVar[str] = "shuangda.notification.delivered.v1"
    delivery_id: str = Field(description="the message id (webhook-id), stable across retries")
    event_id: str = Field(description="the event notified, or the digest's id")
    event_type: str
    event_ids: list[str] = Field(default_factory=list, description="for a digest: the events it carried")
    case_id: CaseId | None = None
    recipient: str
    channel: NotificationChannel
    attempts: int = Field(ge=1)
    fallback: bool = Field(description="sent over a fallback channel after the preferred one failed")
    digest: bool = False
    delivered_at: datetime
    latency_seconds: float = Field(description="from the event's time to the receiver's acceptance")


@contract(topic=NOTIFICATION.name, key=_KEY)
class NotificationFailed(EventModel):
    """Notify gave up on delivering a notice over one channel."""

    EVENT_TYPE: ClassVar[str] = "shuangda.notification.failed.v1"
    delivery_id: str
    event_id: str
    event_type: str
    event_ids: list[str] = Field(default_factory=list)
    case_id: CaseId | None = None
    recipient: str
    channel: NotificationChannel
    attempts: int = Field(ge=0)
    reason: FailureReason
    detail: str = Field(default="", description="the last error (status code or error class), never content or addresses")
    fallback_channel: NotificationChannel | None = Field(default=None, description="the channel tried next, if any")
    failed_at: datetime
