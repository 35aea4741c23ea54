"""The launcher's secure profile as configuration: what it records, what each broker and each
service process is given (deploy/launcher/profile.py, secure.py, services.py). No processes."""
from __future__ import annotations

import json
import ssl
import stat
from pathlib import Path

import pytest

from deploy.launcher import components, profile, secure, settings
from deploy.launcher.errors import LauncherError
from deploy.launcher.services import Service


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHUANGDA_STATE_DIR", str(tmp_path))
    for var in ("SHUANGDA_PG_DSN", "SHUANGDA_KAFKA_BOOTSTRAP", "SHUANGDA_KAFKA_PORT", "SHUANGDA_PG_PORT",
                "SHUANGDA_INTAKE_PORT", "SHUANGDA_INTAKE_HTTP_PORT", "SHUANGDA_ROUTING_PORT", "SHUANGDA_ROUTING_HTTP_PORT"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_a_fresh_state_dir_is_on_the_dev_profile_and_keeps_the_secure_one_once_chosen(state: Path) -> None:
    assert profile.current() == "dev" and not profile.is_secure()
    assert profile.choose("secure") == "secure"
    assert (state / "profile").read_text().strip() == "secure"
    assert profile.choose(None) == "secure" and profile.is_secure()
    with pytest.raises(LauncherError, match="state dir of its own"):
        profile.choose("dev")


def test_a_state_dir_holding_a_dev_stack_refuses_the_secure_profile(state: Path) -> None:
    (state / "kafka").mkdir()
    with pytest.raises(LauncherError, match="holds a dev stack"):
        profile.choose("secure")


def test_the_secure_profiles_passwords_are_generated_once_and_kept_private(state: Path) -> None:
    profile.choose("secure")
    first = profile.credentials()
    assert profile.credentials() == first
    mode = stat.S_IMODE(profile.credentials_file().stat().st_mode)
    assert mode == 0o600
    every_service = {"intake", "routing", "notify", "credit", "custody", "appraisal", "inspection", "console"}
    assert set(first.kafka) == every_service | {"migrate"}
    assert set(first.pg) == every_service
    every = [first.kafka_admin, first.pg_owner, *first.kafka.values(), *first.pg.values()]
    assert len(set(every)) == len(every) and all(len(pw) >= 16 and pw.isalnum() for pw in every)
    assert first.acl_env()["SHUANGDA_KAFKA_ROUTING_PASSWORD"] == first.kafka["routing"]
    assert first.roles_env()["SHUANGDA_PG_ROUTING_PASSWORD"] == first.pg["routing"]


def test_the_acl_job_runs_again_when_the_principals_change_and_not_otherwise(state: Path) -> None:
    profile.choose("secure")
    secure.home().mkdir(parents=True, exist_ok=True)
    assert not secure.acls_current()
    (secure.home() / "acls.done").write_text(secure.acls_fingerprint() + "\nkafka-acls: done\n")
    assert secure.acls_current()
    raw = json.loads(profile.credentials_file().read_text())
    raw["kafka"]["newservice"] = "n" * 24
    profile.credentials_file().write_text(json.dumps(raw))
    assert not secure.acls_current()


def test_migrations_reach_the_secure_cluster_as_the_migrate_principal(state: Path) -> None:
    from deploy.launcher import settings

    assert settings.migrate_client_env() == {}
    profile.choose("secure")
    env = settings.migrate_client_env()
    assert env["SHUANGDA_KAFKA_SASL_USERNAME"] == "migrate"
    assert env["SHUANGDA_KAFKA_SASL_PASSWORD"] == profile.credentials().kafka["migrate"]
    assert env["SHUANGDA_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"


def test_each_broker_runs_productions_durability_with_tls_on_every_listener(state: Path) -> None:
    profile.choose("secure")
    config = secure.cluster()
    assert config.size == 3
    ports = [p for node in config.nodes for p in node.ports.values()]
    assert len(set(ports)) == len(ports) == 12
    for node in config.nodes:
        props = config.server_properties(node)
        assert props["default.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["unclean.leader.election.enable"] == "false"
        assert props["offsets.topic.replication.factor"] == "3"
        protocols = dict(e.split(":") for e in props["listener.security.protocol.map"].split(","))
        assert set(protocols.values()) == {"SASL_SSL"}
        assert props["ssl.endpoint.identification.algorithm"] == "https"
        assert props["ssl.keystore.location"].endswith(f"node-{node.node_id}.p12")
        assert props["authorizer.class.name"].endswith("StandardAuthorizer")
        assert props["allow.everyone.if.no.acl.found"] == "false"
        assert props["controller.quorum.voters"].count("@") == 3
    assert "ScramLoginModule" in config.jaas() and "PlainLoginModule" in config.jaas()


def test_the_nodes_share_one_ca_which_signs_the_services_https_certificate_for_loopback(state: Path) -> None:
    from cryptography import x509

    profile.choose("secure")
    material = secure.tls()
    assert secure.tls() == material
    cert = x509.load_pem_x509_certificate(material.server_cert.read_bytes())
    ca = x509.load_pem_x509_certificate(material.ca_file.read_bytes())
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert stat.S_IMODE(material.server_key.stat().st_mode) == 0o600
    assert material.ca_file.read_bytes() in material.trust_bundle.read_bytes()
    ctx = ssl.create_default_context(cafile=str(material.ca_file))
    ctx.load_cert_chain(str(material.server_cert), str(material.server_key))  # key and certificate belong together


def test_each_service_process_gets_its_own_kafka_principal_postgres_role_and_https(state: Path) -> None:
    profile.choose("secure")
    creds = profile.credentials()
    env = Service("routing").environment()
    assert env["SHUANGDA_ROUTING_KAFKA_SASL_USERNAME"] == "routing"
    assert env["SHUANGDA_ROUTING_KAFKA_SASL_PASSWORD"] == creds.kafka["routing"]
    assert env["SHUANGDA_ROUTING_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["SHUANGDA_ROUTING_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["SHUANGDA_ROUTING_KAFKA_REPLICATION_FACTOR"] == "3"
    assert env["SHUANGDA_ROUTING_KAFKA_BOOTSTRAP"].count(",") == 2
    assert env["SHUANGDA_ROUTING_KAFKA_SSL_CAFILE"] == str(secure.tls().ca_file)
    assert env["SHUANGDA_ROUTING_PG_DSN"].startswith(f"postgresql://routing:{creds.pg['routing']}@")
    assert env["SHUANGDA_ROUTING_HTTP_TLS_CERTFILE"] == str(secure.tls().server_cert)
    assert env["SHUANGDA_ROUTING_HTTP_TLS_KEYFILE"] == str(secure.tls().server_key)
    assert env["SSL_CERT_FILE"] == str(secure.tls().trust_bundle)
    assert Service("routing").address().startswith("https://127.0.0.1:")
    console = Service("console").environment()
    assert console["SHUANGDA_CONSOLE_ROUTING_URL"].startswith("https://")


def test_the_dev_profile_keeps_one_plaintext_broker_and_plain_http(state: Path) -> None:
    assert [c.name for c in components.kafka_components()] == ["kafka"]
    assert components.cluster_status() is None
    assert Service("intake").address().startswith("http://127.0.0.1:")
    assert "SHUANGDA_INTAKE_KAFKA_SASL_USERNAME" not in Service("intake").environment()
    assert settings.client_env() == {}


def test_on_the_secure_profile_kafka_names_the_three_brokers(state: Path) -> None:
    profile.choose("secure")
    assert [c.name for c in components.select(["kafka", "postgres"])] == ["postgres", "kafka-1", "kafka-2", "kafka-3"]
    assert components.get("kafka-2").name == "kafka-2"
    assert settings.endpoints().profile == "secure"
    assert settings.endpoints().services["intake"].startswith("https://")
    env = settings.client_env()
    assert env["SHUANGDA_KAFKA_SASL_USERNAME"] == "admin" and env["SHUANGDA_KAFKA_SASL_MECHANISM"] == "PLAIN"
    assert json.loads(profile.credentials_file().read_text())["kafka_admin"] == env["SHUANGDA_KAFKA_SASL_PASSWORD"]


def test_a_recorded_outside_client_joins_the_acl_jobs_clients_with_its_own_password_and_reruns_the_job(
        state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUANGDA_KAFKA_INGRESS_CLIENTS", "hotline-12345")
    monkeypatch.setenv("SHUANGDA_KAFKA_PASSWORD_HOTLINE_12345", "h" * 24)
    profile.choose("secure")
    secure.home().mkdir(parents=True, exist_ok=True)
    (secure.home() / "acls.done").write_text(secure.acls_fingerprint() + "\nkafka-acls: done\n")
    password = profile.outside_client("monitor-bigdata")
    assert profile.outside_client("monitor-bigdata") == password and len(password) >= 16 and password.isalnum()
    assert stat.S_IMODE(profile.credentials_file().stat().st_mode) == 0o600
    env = secure.outsiders_env()
    assert env["SHUANGDA_KAFKA_INGRESS_CLIENTS"] == "hotline-12345,monitor-bigdata"
    assert env["SHUANGDA_KAFKA_PASSWORD_MONITOR_BIGDATA"] == password
    assert env["SHUANGDA_KAFKA_PASSWORD_HOTLINE_12345"] == "h" * 24
    assert not secure.acls_current(), "a newly recorded client needs the ACL job once more"
    assert profile.credentials().kafka_admin  # the other credentials are kept beside the clients
