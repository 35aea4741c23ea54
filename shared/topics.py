"""The topic catalogue: every topic the system uses, with its key and DLQ twin.

Internal topics are named by family (``case.``, ``referral.``, ``credit.`` …).
Outside systems publish on their own ``ingress.<client>`` topic (the topic
names the actor, since a consumer cannot see who produced a record) and each
bureau reads only its own ``egress.<bureau>`` topic. Every consumed topic has
a ``<name>.dlq`` twin for poison messages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from shared.kafka import KafkaConnection

DLQ_SUFFIX = ".dlq"
#: the priority lane of a case topic is the topic's name with this suffix (``case.intake.priority``)
PRIORITY_SUFFIX = ".priority"
_CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")
_DAY_MS = 24 * 3600 * 1000
_TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str  # what the record key is (the aggregate id)
    description: str
    partitions: int = 3
    retention_ms: int = 14 * _DAY_MS
    compacted: bool = False
    has_dlq: bool = True
    config: dict[str, str] = field(default_factory=dict)

    @property
    def dlq(self) -> "TopicSpec":
        return TopicSpec(
            name=self.name + DLQ_SUFFIX,
            key=self.key,
            description=f"poison messages from {self.name}, with reason headers",
            partitions=1,
            retention_ms=90 * _DAY_MS,
            has_dlq=False,
        )

    def kafka_config(self) -> dict[str, str]:
        cfg = {"retention.ms": str(self.retention_ms)}
        if self.compacted:
            cfg["cleanup.policy"] = "compact"
        cfg.update(self.config)
        return cfg

    def with_partitions(self, n: int) -> "TopicSpec":
        return replace(self, partitions=n)


def dlq_name(topic: str) -> str:
    return topic + DLQ_SUFFIX


def validate_client_id(client: str) -> str:
    if not _CLIENT_ID.match(client):
        raise ValueError(f"client id {client!r}: use 2-63 of a-z, 0-9, '-', '_' (it becomes a topic name)")
    return client


#: ``ingress.<type>-<division>``: the client of a bureau's ingress topic, as ``shuangda keys create`` names it
_BUREAU_CLIENT = re.compile(r"^([a-z][a-z0-9_]*)-([0-9]{6})$")


def ingress_bureau(client: str) -> tuple[str, str] | None:
    """The bureau (type, division) that owns ``ingress.<client>`` when the client names one
    (``market_regulation-610402`` → ("market_regulation", "610402"), principal
    ``market_regulation@610402``), else None: the one topic → owner rule (intake, credit)."""
    m = _BUREAU_CLIENT.match(client)
    return (m.group(1), m.group(2)) if m else None


def ingress(client: str) -> TopicSpec:
    """The topic only `client`'s principal may write (commands and reports from outside)."""
    return TopicSpec(
        name=f"ingress.{validate_client_id(client)}",
        key="case id, source id or credit code",
        description=f"records published by outside client {client}",
    )


def egress(bureau: str) -> TopicSpec:
    """The topic only `bureau`'s principal may read (events of cases assigned to it)."""
    return TopicSpec(
        name=f"egress.{validate_client_id(bureau.replace('@', '.').replace('.', '-'))}",
        key="case id",
        description=f"events of the cases assigned to bureau {bureau}",
        has_dlq=False,
    )


#: the prefix of the appraisal providers' own topics (``egress.appraisal.<provider>``): apart from the
#: bureaus' ``egress.<bureau>``, so the ACLs let appraisal write these and no bureau's
PROVIDER_EGRESS_PREFIX = "egress.appraisal."


def provider_egress(provider: str) -> TopicSpec:
    """The topic only appraisal provider `provider`'s principal may read (its appraisal requests)."""
    return TopicSpec(
        name=PROVIDER_EGRESS_PREFIX + validate_client_id(provider),
        key="appraisal id",
        description=f"appraisal requests to provider {provider}, their steps and results",
        has_dlq=False,
    )


#: origins that are a person's complaint or report (a lead comes from a platform, monitoring or a bureau feed)
_PEOPLE = frozenset({"complaint", "report"})


def filed_by_person(origin: str | None, channel: str | None) -> bool:
    """Whether a case was filed by a person — a complaint or report by its origin, unless it came in
    through a bulk Kafka ingress feed: the one rule for the priority lane (issue 11 §4) and notify's
    complaint priority."""
    return origin in _PEOPLE and channel != "kafka"


def priority_lane(topic: str) -> str:
    """The priority lane of case topic `topic` (``case.intake`` → ``case.intake.priority``): where the
    events of a case filed by a person go, so they never queue behind a bulk backlog."""
    if is_priority_lane(topic):
        raise ValueError(f"{topic!r} is a priority lane already")
    return topic + PRIORITY_SUFFIX


def is_priority_lane(topic: str) -> bool:
    return topic.endswith(PRIORITY_SUFFIX)


def lane(topic: str, *, priority: bool) -> str:
    """`topic` or its priority lane: a case's events all go to the lane the case started on."""
    return priority_lane(topic) if priority else topic


def both_lanes(topic: str) -> tuple[str, str]:
    """`topic` and its priority lane: what every reader of a case topic reads (a case's events are all on
    one of the two, so each case stays in order while lane cases never queue behind the bulk topic)."""
    return topic, priority_lane(topic)


def with_lanes(specs: Iterable[TopicSpec]) -> list[TopicSpec]:
    """Each spec followed by its priority lane (same key, partitions and retention): what topic creation makes."""
    return [s for spec in specs for s in (spec, lane_spec(spec))]


def lane_spec(spec: TopicSpec, name: str | None = None) -> TopicSpec:
    """The priority lane of `spec` (under its configured `name`), with the same key, partitions and retention."""
    return replace(spec, name=priority_lane(name or spec.name),
                   description=f"{spec.description} — cases filed by a person (priority lane)")


# Internal topics, by family. Services reference these constants, never literals.
CASE_INTAKE = TopicSpec("case.intake", "case id", "case.opened / case.merged from intake", partitions=6)
CASE_ROUTING = TopicSpec("case.routing", "case id", "assignment, acknowledgement, transfer, outcome, deadline events", partitions=6)
REFERRAL = TopicSpec("referral.lifecycle", "case id", "administrative → criminal referral steps")
ALERT = TopicSpec("alert.hotspot", "county/category", "early warnings for the leading-group office")
PENALTY = TopicSpec("penalty.decisions", "credit code", "accepted penalty decisions and revocations", partitions=6)
CREDIT = TopicSpec("credit.records", "credit code", "credit records, blacklist, disclosure", partitions=6)
NOTIFICATION = TopicSpec("notification.status", "recipient", "notification delivered / failed")
CUSTODY = TopicSpec("custody.lifecycle", "lot id", "seized goods: registered, handed over, received, decided, disposed")
APPRAISAL = TopicSpec("appraisal.lifecycle", "appraisal id", "rapid appraisal: requested, accepted, samples, result, refused")
INSPECTION = TopicSpec("inspection.lifecycle", "plan id", "random inspections: plans, draws, tasks, results, publication")

CASE_INTAKE_PRIORITY = lane_spec(CASE_INTAKE)
CASE_ROUTING_PRIORITY = lane_spec(CASE_ROUTING)

INTERNAL: tuple[TopicSpec, ...] = (CASE_INTAKE, CASE_ROUTING, REFERRAL, ALERT, PENALTY, CREDIT, NOTIFICATION,
                                   CASE_INTAKE_PRIORITY, CASE_ROUTING_PRIORITY)


def with_dlqs(specs: Iterable[TopicSpec]) -> list[TopicSpec]:
    out: list[TopicSpec] = []
    for spec in specs:
        out.append(spec)
        if spec.has_dlq:
            out.append(spec.dlq)
    return out


async def ensure_topics(
    kafka: "KafkaConnection | str", specs: Iterable[TopicSpec], *, replication_factor: int = 1, **kafka_options: Any
) -> list[str]:
    """Create the topics (and their DLQ twins) that do not exist yet; return the created names.
    `kafka` is the connection (or a bootstrap string, with security `kafka_options`)."""
    from aiokafka.admin import NewTopic

    from shared.kafka import KafkaConnection

    wanted = {s.name: s for s in with_dlqs(specs)}
    admin = KafkaConnection.of(kafka, kafka_options).admin(client_id="shuangda-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for name, s in wanted.items() if name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name=s.name,
                        num_partitions=s.partitions,
                        replication_factor=replication_factor,
                        topic_configs=s.kafka_config(),
                    )
                    for s in missing
                ]
            )
            for topic_error in response.topic_errors:
                name, code = topic_error[0], topic_error[1]
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    detail = topic_error[2] if len(topic_error) > 2 else ""
                    raise RuntimeError(f"creating topic {name} failed: error code {code} {detail}")
        return [s.name for s in missing]
    finally:
        await admin.close()
