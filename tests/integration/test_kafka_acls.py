"""Kafka ACLs on a real SASL/SCRAM broker set up like production.

A throwaway single-node Kafka (``tests/support/secure_broker.py``) gets its listener,
SASL and authorizer settings from ``docker-compose.yml``. The project's own
``deploy/compose/kafka/acls.sh`` then creates the SCRAM users and ACLs with Kafka's
own command classes. The ``migrate`` principal creates the topics and ``routing``
publishes on the egress topics, as in production. Outside clients and bureaus then
connect with aiokafka (SASL_PLAINTEXT, SCRAM-SHA-512) on the EXTERNAL listener,
the services on the CLIENT listener.

The shared Kafka on 9092 and Postgres are not used.
"""
from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    UnsupportedSaslMechanismError,
)

from deploy.launcher import proc
from shared.topics import egress, ensure_topics, ingress, provider_egress
from tests.support.secure_broker import HOST, SecureBroker

pytestmark = pytest.mark.stack

#: seconds for any one client operation against the broker under test
STEP = 20.0
SERVICES = ("intake", "routing", "notify", "credit", "custody", "appraisal", "inspection", "console", "migrate")
#: outside publishers: each writes ingress.<client>
CLIENTS = ("hotline-12315", "ecommerce-watch")
#: bureaus as routing names them; each reads egress.<name>, and its principal is that name
BUREAUS = ("market_regulation@610402", "public_security@610402")
#: appraisal providers (the centre, a rights holder's identification service); each reads egress.appraisal.<id>
PROVIDERS = ("appraisal-centre", "brand-identification")


def principal_of_bureau(bureau: str) -> str:
    return egress(bureau).name.removeprefix("egress.")


def password_var(name: str) -> str:
    """The variable acls.sh reads for an outside principal's password."""
    return "SHUANGDA_KAFKA_PASSWORD_" + name.upper().replace("-", "_").replace(".", "_")


@dataclass
class Cluster:
    broker: SecureBroker
    passwords: dict[str, str]
    acl_job_output: str

    def options(self, principal: str, password: str | None = None) -> dict[str, Any]:
        return self.broker.scram_options(principal, self.passwords[principal] if password is None else password)

    @property
    def external(self) -> str:
        """The listener outside clients and bureaus use."""
        return self.broker.bootstrap("EXTERNAL")

    @property
    def internal(self) -> str:
        """The listener the services use."""
        return self.broker.bootstrap("CLIENT")


async def bounded(awaitable, what: str, timeout: float = STEP):
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"{what}: no answer from the broker under test within {timeout}s") from None


@pytest.fixture(scope="module")
def secure_cluster(tmp_path_factory) -> Cluster:
    """The broker, with users and ACLs created by acls.sh, for the whole module."""
    started = time.monotonic()
    broker = SecureBroker(tmp_path_factory.mktemp("secure-kafka"))
    broker.start()
    try:
        ready = time.monotonic()
        bureau_principals = [principal_of_bureau(b) for b in BUREAUS]
        passwords = {name: secrets.token_hex(24) for name in (*SERVICES, *CLIENTS, *bureau_principals, *PROVIDERS)}
        env = {f"SHUANGDA_KAFKA_{svc.upper()}_PASSWORD": passwords[svc] for svc in SERVICES}
        env.update({password_var(name): passwords[name] for name in (*CLIENTS, *bureau_principals, *PROVIDERS)})
        env["SHUANGDA_KAFKA_INGRESS_CLIENTS"] = ",".join(CLIENTS)
        env["SHUANGDA_KAFKA_EGRESS_BUREAUS"] = ",".join(bureau_principals)
        env["SHUANGDA_KAFKA_APPRAISAL_PROVIDERS"] = ",".join(PROVIDERS)
        job = broker.run_acl_job(env)
        print(f"secure broker ready in {ready - started:.1f}s; acls.sh took {time.monotonic() - ready:.1f}s")
        yield Cluster(broker, passwords, job.stdout)
    finally:
        broker.stop()


@pytest.fixture(scope="module")
async def cluster(secure_cluster: Cluster) -> Cluster:
    """Topics created by `migrate`; one case event published by `routing` on each bureau's egress topic."""
    c = secure_cluster
    await bounded(ensure_topics(c.internal, [*(ingress(n) for n in CLIENTS), *(egress(b) for b in BUREAUS)],
                                **c.options("migrate")), "migrate creating the topics")
    producer = AIOKafkaProducer(bootstrap_servers=c.internal, acks="all", enable_idempotence=True,
                                request_timeout_ms=10_000, **c.options("routing"))
    try:
        await bounded(producer.start(), "routing connecting")
        for bureau in BUREAUS:
            topic = egress(bureau).name
            await bounded(producer.send_and_wait(topic, key=b"case-1", value=f"case for {bureau}".encode()),
                          f"routing publishing on {topic}")
    finally:
        await producer.stop()
    return c


async def first_record(cluster: Cluster, principal: str, topic: str, group: str, *, listener: str | None = None):
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=listener or cluster.external, group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                request_timeout_ms=10_000, **cluster.options(principal))
    try:
        await bounded(consumer.start(), f"{principal} connecting")
        return await bounded(consumer.getone(), f"{principal} reading {topic}")
    finally:
        await consumer.stop()


async def publish(cluster: Cluster, principal: str, topic: str, value: bytes):
    producer = AIOKafkaProducer(bootstrap_servers=cluster.external, acks="all", enable_idempotence=True,
                                request_timeout_ms=10_000, **cluster.options(principal))
    try:
        await bounded(producer.start(), f"{principal} connecting")
        return await bounded(producer.send_and_wait(topic, key=b"k", value=value), f"{principal} writing {topic}")
    finally:
        await producer.stop()


# -- the set-up is production's --------------------------------------------------------------


def test_the_broker_under_test_denies_by_default_with_the_standard_authorizer_and_the_admin_as_super_user(
        secure_cluster):
    security = secure_cluster.broker.security
    assert security["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert security["allow.everyone.if.no.acl.found"] == "false"
    assert security["super.users"] == "User:admin"
    assert secure_cluster.broker.mechanisms("EXTERNAL") == ["SCRAM-SHA-512"]
    assert secure_cluster.broker.mechanisms("CLIENT") == ["SCRAM-SHA-512"]


def test_the_acl_job_ran_against_it_and_created_every_principal(secure_cluster):
    out = secure_cluster.acl_job_output
    for name in secure_cluster.passwords:
        assert f"SCRAM-SHA-512 credentials for User:{name}\n" in out
    assert f"done (7 services and the console, {len(CLIENTS)} ingress clients, {len(BUREAUS)} bureaus)" in out


# -- bureaus: each reads its own egress topic and nothing else -------------------------------------


async def test_a_bureau_reads_the_cases_routed_to_its_own_egress_topic(cluster):
    bureau = BUREAUS[0]
    me = principal_of_bureau(bureau)
    record = await first_record(cluster, me, egress(bureau).name, group=f"{me}-inbox")
    assert record.value == f"case for {bureau}".encode()


async def test_a_bureau_cannot_read_another_bureaus_egress_topic(cluster):
    me, other = principal_of_bureau(BUREAUS[0]), egress(BUREAUS[1]).name
    with pytest.raises(TopicAuthorizationFailedError) as denied:
        await first_record(cluster, me, other, group=f"{me}-inbox")
    assert other in str(denied.value)


async def test_a_bureau_cannot_join_another_bureaus_consumer_group(cluster):
    me, other = principal_of_bureau(BUREAUS[0]), principal_of_bureau(BUREAUS[1])
    with pytest.raises(GroupAuthorizationFailedError) as denied:
        await first_record(cluster, me, egress(BUREAUS[0]).name, group=f"{other}-inbox")
    assert f"{other}-inbox" in str(denied.value)


async def test_appraisal_creates_and_writes_a_providers_own_topic_which_only_that_provider_reads(cluster):
    centre, brand = PROVIDERS
    topic = provider_egress(centre).name
    await bounded(ensure_topics(cluster.internal, [provider_egress(centre)], **cluster.options("appraisal")),
                  "appraisal creating the centre's topic")
    producer = AIOKafkaProducer(bootstrap_servers=cluster.internal, acks="all", enable_idempotence=True,
                                request_timeout_ms=10_000, **cluster.options("appraisal"))
    try:
        await bounded(producer.start(), "appraisal connecting")
        await bounded(producer.send_and_wait(topic, key=b"apr-1", value=b"request for the centre"), "appraisal writing")
        with pytest.raises(TopicAuthorizationFailedError):  # a bureau's egress topic is routing's alone
            await bounded(producer.send_and_wait(egress(BUREAUS[0]).name, key=b"x", value=b"x"), "appraisal on egress")
    finally:
        await producer.stop()
    record = await first_record(cluster, centre, topic, group=f"{centre}-requests")
    assert record.value == b"request for the centre"
    with pytest.raises(TopicAuthorizationFailedError) as denied:
        await first_record(cluster, brand, topic, group=f"{brand}-requests")
    assert topic in str(denied.value)


async def test_a_bureau_sees_no_topic_but_its_own(cluster):
    bureau = BUREAUS[0]
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.external, request_timeout_ms=10_000,
                                **cluster.options(principal_of_bureau(bureau)))
    try:
        await bounded(admin.start(), "bureau connecting")
        topics = await bounded(admin.list_topics(), "bureau listing topics")
    finally:
        await admin.close()
    assert set(topics) == {egress(bureau).name}


# -- outside clients: each writes its own ingress topic and nothing else -----------------------------


async def test_a_client_writes_its_own_ingress_topic_and_intake_reads_it(cluster):
    client = CLIENTS[0]
    topic = ingress(client).name
    sent = await publish(cluster, client, topic, b"report from " + client.encode())
    assert sent.topic == topic
    record = await first_record(cluster, "intake", topic, group="intake-acl-test", listener=cluster.internal)
    assert record.value == b"report from " + client.encode()


async def test_a_client_cannot_write_another_clients_ingress_topic(cluster):
    me, other = CLIENTS[0], ingress(CLIENTS[1]).name
    with pytest.raises(TopicAuthorizationFailedError) as denied:
        await publish(cluster, me, other, b"forged report")
    assert other in str(denied.value)


# -- authentication --------------------------------------------------------------------------------


async def test_a_connection_without_sasl_is_refused(cluster):
    port = int(cluster.external.rsplit(":", 1)[1])
    assert proc.port_open(HOST, port), "the listener itself must be up for this test to mean anything"
    consumer = AIOKafkaConsumer(bootstrap_servers=cluster.external, security_protocol="PLAINTEXT",
                                request_timeout_ms=5_000)
    try:
        with pytest.raises(KafkaConnectionError):
            await bounded(consumer.start(), "a PLAINTEXT client connecting")
    finally:
        await consumer.stop()


@pytest.mark.parametrize(
    ("case", "login", "refusal"),
    [
        ("a wrong password", lambda c: c.options(principal_of_bureau(BUREAUS[0]), password="not-" + "x" * 40),
         SaslAuthenticationFailed),
        ("an unknown user", lambda c: c.broker.scram_options("mallory", "x" * 48), SaslAuthenticationFailed),
        ("the super user's PLAIN login", lambda c: c.broker.admin_options(), UnsupportedSaslMechanismError),
    ],
    ids=["wrong-password", "unknown-user", "plain-mechanism"],
)
async def test_a_login_is_refused_on_the_external_listener_for(cluster, case, login, refusal):
    host, port = cluster.external.rsplit(":", 1)
    with pytest.raises(refusal):
        conn = await bounded(create_conn(host, int(port), **login(cluster)), f"{case} connecting")
        conn.close()
    # what an application sees: the client cannot bootstrap at all
    consumer = AIOKafkaConsumer(bootstrap_servers=cluster.external, request_timeout_ms=5_000, **login(cluster))
    try:
        with pytest.raises(KafkaConnectionError):
            await bounded(consumer.start(), f"{case} connecting")
    finally:
        await consumer.stop()
