"""Production's Kafka on one machine: N KRaft nodes on SASL_SSL, one local CA, the project's ACLs.

This is the one implementation of the secure cluster. The launcher's secure profile
(``shuangda up --profile secure``) runs three :class:`KafkaNode` components under supervisord;
the test harnesses (``tests/support/secure_cluster.py``, ``secure_broker.py``) start the same
configuration as throwaway processes.

What is production's, read from ``docker-compose.yml``'s ``x-kafka-env`` (so compose and this
cannot drift apart):

* the security settings (:func:`production_security_properties`): listener names, SASL
  mechanisms per listener, the StandardAuthorizer, ``super.users``, deny when no ACL is found;
* the durability settings (:func:`production_durability_properties`): replication factor 3,
  ``min.insync.replicas=2``, unclean leader election off, the internal topics' replication
  (clamped to the number of nodes, so one node still works);
* the SCRAM users and ACLs, created by ``deploy/compose/kafka/acls.sh`` (:func:`run_acl_job`)
  with Kafka's own ``ConfigCommand``/``AclCommand`` behind ``<home>/bin/kafka-*.sh`` wrappers.

What this adds: TLS on every listener (``SASL_PLAINTEXT`` becomes ``SASL_SSL``) with a CA and
per-node certificates made with the ``cryptography`` package (:func:`tls_material`; SAN
``127.0.0.1`` and ``localhost``, hostnames verified by clients and between brokers), loopback
addresses and ports, the static quorum, small heaps and small internal topics.

Ports of the launcher's nodes: node *i* (1..3), listener *j* (CLIENT, CONTROLLER, BROKER,
EXTERNAL) listens on ``SHUANGDA_KAFKA_PORT`` (9092) + 10·*i* + *j*: 9102-9105, 9112-9115, 9122-9125.
"""
from __future__ import annotations

import asyncio
import ctypes
import datetime as dt
import hashlib
import ipaddress
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from deploy.launcher import proc, settings, tools
from deploy.launcher import kafka as launcher_kafka
from deploy.launcher.base import Component
from deploy.launcher.errors import LauncherError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
COMPOSE_FILE = settings.repo_root() / "docker-compose.yml"
ACL_SCRIPT = settings.repo_root() / "deploy" / "compose" / "kafka" / "acls.sh"

ACL_COMMAND_CLASS = "org.apache.kafka.tools.AclCommand"
CONFIG_COMMAND_CLASS = "kafka.admin.ConfigCommand"
#: a broker on a small machine: C1 only and the serial collector leave CPU to everything else
BROKER_JVM_OPTS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError",
                   "-Djava.awt.headless=true")
#: short-lived command-line JVMs: start fast rather than run fast
TOOL_JVM_OPTS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-Djava.awt.headless=true")
#: node count of the secure profile
NODES = 3
#: default maximum heap per node (SHUANGDA_KAFKA_HEAP overrides; the issue's bound is 512 MiB)
DEFAULT_HEAP = "320m"

#: compose variables (``KAFKA_`` removed) that make up the security configuration
_SECURITY_KEYS = re.compile(
    r"^(LISTENERS|LISTENER_SECURITY_PROTOCOL_MAP|CONTROLLER_LISTENER_NAMES|INTER_BROKER_LISTENER_NAME"
    r"|SASL_.*|LISTENER_NAME_.*|AUTHORIZER_CLASS_NAME|SUPER_USERS|ALLOW_EVERYONE_IF_NO_ACL_FOUND"
    r"|AUTO_CREATE_TOPICS_ENABLE)$"
)
#: compose variables (``KAFKA_`` removed) that make up the durability configuration
DURABILITY_KEYS = (
    "DEFAULT_REPLICATION_FACTOR", "MIN_INSYNC_REPLICAS", "UNCLEAN_LEADER_ELECTION_ENABLE",
    "OFFSETS_TOPIC_REPLICATION_FACTOR", "TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
    "TRANSACTION_STATE_LOG_MIN_ISR", "SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
    "SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "NUM_PARTITIONS",
)
_REPLICATION = {"default.replication.factor", "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor", "share.coordinator.state.topic.replication.factor"}
_MIN_ISR = {"min.insync.replicas", "transaction.state.log.min.isr", "share.coordinator.state.topic.min.isr"}

TOOLS_LOG4J2 = """\
status = warn
name = shuangda-kafka-tools
appender.console.type = Console
appender.console.name = STDERR
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = STDERR
"""


class SecureClusterError(LauncherError):
    pass


# -- production's configuration, read from the compose file -------------------------------------


def compose_property_name(var: str) -> str:
    """``KAFKA_LISTENER_NAME_X_SASL_ENABLED_MECHANISMS`` -> ``listener.name.x.sasl.enabled.mechanisms``
    (the apache/kafka image's rule: ``___`` is ``-``, ``__`` is ``_``, ``_`` is ``.``)."""
    name = var.removeprefix("KAFKA_").lower()
    return re.sub(r"_{1,3}", lambda m: {1: ".", 2: "_", 3: "-"}[len(m.group())], name)


def _compose_kafka_env(compose_file: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(compose_file.read_text()).get("x-kafka-env") or {}


def production_security_properties(compose_file: Path = COMPOSE_FILE, *, tls: bool = False) -> dict[str, str]:
    """The security-related broker properties of the compose file's ``x-kafka-env``; with
    ``tls`` every ``SASL_PLAINTEXT`` listener becomes ``SASL_SSL`` (``PLAINTEXT``: ``SSL``)."""
    env = _compose_kafka_env(compose_file)
    props = {
        compose_property_name(key): str(value)
        for key, value in env.items()
        if key.startswith("KAFKA_") and _SECURITY_KEYS.match(key.removeprefix("KAFKA_"))
    }
    if "listeners" not in props or "super.users" not in props:
        raise SecureClusterError(f"{compose_file}: x-kafka-env has no KAFKA_LISTENERS or KAFKA_SUPER_USERS")
    if tls:
        props["listener.security.protocol.map"] = ",".join(
            f"{name}:{with_tls(protocol)}" for name, protocol in
            (entry.split(":", 1) for entry in props["listener.security.protocol.map"].split(",")))
    return props


def production_durability_properties(compose_file: Path = COMPOSE_FILE) -> dict[str, str]:
    env = _compose_kafka_env(compose_file)
    return {compose_property_name(f"KAFKA_{k}"): str(env[f"KAFKA_{k}"]) for k in DURABILITY_KEYS
            if f"KAFKA_{k}" in env}


def with_tls(protocol: str) -> str:
    return {"PLAINTEXT": "SSL", "SASL_PLAINTEXT": "SASL_SSL"}.get(protocol.strip(), protocol.strip())


# -- TLS material ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsMaterial:
    ca_file: Path
    #: node id -> PKCS#12 keystore (key, certificate, CA)
    keystores: dict[int, Path]
    password: str = field(repr=False)
    #: PEM certificate and unencrypted key for the services' HTTPS (SAN 127.0.0.1 / localhost)
    server_cert: Path | None = None
    server_key: Path | None = None
    #: the system's CA bundle plus the local CA (``SSL_CERT_FILE`` of the services' processes)
    trust_bundle: Path | None = None


def _system_bundle() -> bytes:
    paths = ssl.get_default_verify_paths()
    for candidate in (os.environ.get("SSL_CERT_FILE"), paths.cafile, paths.openssl_cafile,
                      "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_bytes()
    try:
        import certifi

        return Path(certifi.where()).read_bytes()
    except ImportError:
        return b""


def tls_material(directory: Path, node_ids: Sequence[int], *, days: int = 30) -> TlsMaterial:
    """A local CA, one PKCS#12 keystore per Kafka node and one PEM server certificate for HTTPS
    (all with SAN 127.0.0.1 / localhost), made once per directory (kept while complete)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    pw_file = directory / "keystore.password"
    ca_file = directory / "ca.pem"
    ca_key_file = directory / "ca.key"
    keystores = {n: directory / f"node-{n}.p12" for n in node_ids}
    server_cert, server_key, bundle = directory / "server.pem", directory / "server.key", directory / "trust.pem"
    wanted = [pw_file, ca_file, ca_key_file, server_cert, server_key, bundle, *keystores.values()]
    if all(p.exists() for p in wanted):
        return TlsMaterial(ca_file, keystores, pw_file.read_text().strip(), server_cert, server_key, bundle)
    now = dt.datetime.now(dt.timezone.utc)
    if ca_file.exists() and ca_key_file.exists() and pw_file.exists():
        password = pw_file.read_text().strip()  # more nodes than before: same CA
        ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(ca_file.read_bytes())
        ca_name = ca_cert.subject
    else:
        password = secrets.token_hex(16)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shuangda local CA")])
        ca_cert = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(ca_key_file, ca_key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
        ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        _write_private(pw_file, password.encode())

    def leaf(common_name: str):  # noqa: ANN202
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return key, cert

    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(20000)
                  .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
                  .build(password.encode()))
    for node, path in keystores.items():
        if path.exists():
            continue
        key, cert = leaf(f"kafka-{node}")
        _write_private(path, pkcs12.serialize_key_and_certificates(
            f"kafka-{node}".encode(), key, cert, [ca_cert], encryption))
    if not (server_cert.exists() and server_key.exists()):
        key, cert = leaf("shuangda-services")
        _write_private(server_key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
        server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM) +
                                ca_cert.public_bytes(serialization.Encoding.PEM))
    bundle.write_bytes(_system_bundle().rstrip(b"\n") + b"\n" + ca_file.read_bytes())
    return TlsMaterial(ca_file, keystores, password, server_cert, server_key, bundle)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def client_ssl_context(ca_file: str | Path | None) -> ssl.SSLContext | bool:
    """What an HTTP client verifies a service against: the local CA (hostnames checked), or the
    system's store when there is none."""
    if not ca_file:
        return True
    return ssl.create_default_context(cafile=str(ca_file))


# -- Kafka's command-line tools (acls.sh calls them) -------------------------------------------------


def ensure_tools_jar() -> Path:
    """The ``kafka-tools`` jar of the launcher's Kafka version (holds ``AclCommand``), copied with
    Maven into ``<cache>/kafka-<version>/tools`` on first use (offline first)."""
    version = launcher_kafka.kafka_version()
    jar_name = f"kafka-tools-{version}.jar"
    libs = launcher_kafka.libs_dir()
    if (libs / jar_name).exists():
        return libs / jar_name
    target = libs.parent / "tools"
    if (target / jar_name).exists():
        return target / jar_name
    staging = libs.parent / "tools.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    base = [str(tools.maven()), "-q", "-B", "-f", str(launcher_kafka.pom_path()), "dependency:copy",
            f"-Dartifact=org.apache.kafka:kafka-tools:{version}", f"-DoutputDirectory={staging}"]
    output = ""
    for offline in (True, False):
        result = subprocess.run(base + (["-o"] if offline else []), stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=300)
        output = result.stdout + result.stderr
        if result.returncode == 0 and (staging / jar_name).exists():
            break
    else:
        raise SecureClusterError(f"Maven could not copy org.apache.kafka:kafka-tools:{version}:\n{output[-3000:]}")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target / jar_name


def class_data_dir(java: Path, *jars: Path) -> Path:
    """``<cache>/kafka-<version>/tools/cds-<key>``: the tools' class-data-sharing archives, keyed by the
    java binary, its version and the jars (name, size, mtime), so a changed JVM or jar never meets a stale one."""
    version = subprocess.run([str(java), "-version"], capture_output=True, text=True).stderr
    files = sorted(p for jar in jars for p in (jar.glob("*.jar") if jar.is_dir() else [jar]))
    key = hashlib.sha256("\n".join(
        [str(java.resolve()), version] + [f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
    ).encode()).hexdigest()[:16]
    path = launcher_kafka.libs_dir().parent / "tools" / f"cds-{key}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_tool_wrappers(kafka_home: Path, libs: Path, tools_jar: Path) -> None:
    """``<kafka_home>/bin/kafka-configs.sh`` and ``kafka-acls.sh``: Kafka's own command classes,
    standing in for ``/opt/kafka`` of the apache/kafka image that acls.sh expects."""
    bin_dir = kafka_home / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    log4j = kafka_home / "tools-log4j2.properties"
    log4j.write_text(TOOLS_LOG4J2)
    java = tools.java()
    classpath = f"{libs}/*:{tools_jar}"
    cds_dir = class_data_dir(java, libs, tools_jar)
    for script, main_class in (("kafka-configs.sh", CONFIG_COMMAND_CLASS), ("kafka-acls.sh", ACL_COMMAND_CLASS)):
        # Like Kafka's bin/kafka-run-class.sh (KAFKA_HEAP_OPTS and KAFKA_OPTS, word-split), plus a
        # class-data-sharing archive made on the first call and reused after, which about halves
        # each call's start-up (acls.sh makes ~30 calls).
        (bin_dir / script).write_text(
            "#!/usr/bin/env bash\n"
            f"# {script} stand-in written by deploy/launcher/secure.py: Kafka's own {main_class}\n"
            f'jsa="{cds_dir}/{main_class}.jsa"\n'
            'cds="-XX:SharedArchiveFile=$jsa"\n'
            '[ -s "$jsa" ] || cds="-XX:ArchiveClassesAtExit=$jsa.$$"\n'
            f'"{java}" ${{KAFKA_HEAP_OPTS:--Xmx256m}} {" ".join(TOOL_JVM_OPTS)} "$cds" '
            '-Xlog:disable -Xlog:all=error:stderr '
            f'-Dlog4j2.configurationFile="{log4j}" ${{KAFKA_OPTS:-}} '
            f'-cp "{classpath}" {main_class} "$@"\n'
            "rc=$?\n"
            'if [ -s "$jsa.$$" ]; then mv -f "$jsa.$$" "$jsa"; else rm -f "$jsa.$$"; fi\n'
            "exit $rc\n"
        )
        (bin_dir / script).chmod(0o755)


# -- the cluster's configuration ---------------------------------------------------------------------


@dataclass
class NodeSpec:
    node_id: int
    workdir: Path
    #: listener name -> port
    ports: dict[str, int]

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / "kafka.log"


class ClusterConfig:
    """Production's listeners, authorizer and replication for N loopback nodes: every file a node
    needs, the client settings of each principal, the ACL job. No processes (see :class:`KafkaNode`
    and ``tests/support/secure_cluster.py`` for those)."""

    def __init__(self, nodes: Sequence[NodeSpec], *, admin_password: str, tls: TlsMaterial | None,
                 durability: bool = True, tuning: Mapping[str, str] | None = None) -> None:
        self.nodes = list(nodes)
        self.tls = tls
        self.admin_password = admin_password
        self.security = production_security_properties(tls=tls is not None)
        self.durability = production_durability_properties() if durability else {}
        self.tuning = dict(tuning or {})
        users = [u.strip() for u in self.security["super.users"].split(";") if u.strip().startswith("User:")]
        if not users:
            raise SecureClusterError("super.users names no User: principal")
        self.super_user = users[0].removeprefix("User:")

    @staticmethod
    def listener_names_of(security: Mapping[str, str]) -> list[str]:
        return [e.split("://", 1)[0].strip() for e in security["listeners"].split(",") if e.strip()]

    @property
    def listener_names(self) -> list[str]:
        return self.listener_names_of(self.security)

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def controller_listeners(self) -> set[str]:
        return {n.strip() for n in self.security.get("controller.listener.names", "").split(",") if n.strip()}

    @property
    def inter_broker_listener(self) -> str:
        return self.security.get("inter.broker.listener.name", "PLAINTEXT")

    @property
    def ca_file(self) -> str | None:
        return str(self.tls.ca_file) if self.tls else None

    def protocol(self, listener: str) -> str:
        return dict(e.split(":", 1) for e in self.security["listener.security.protocol.map"].split(","))[listener]

    def bootstrap(self, listener: str, nodes: Sequence[NodeSpec] | None = None) -> str:
        """``127.0.0.1:<port>`` of the named listener on every node (``CLIENT``, ``EXTERNAL``, ``BROKER`` …)."""
        return ",".join(f"{HOST}:{n.ports[listener]}" for n in (nodes or self.nodes))

    def mechanisms(self, listener: str) -> list[str]:
        raw = self.security.get(f"listener.name.{listener.lower()}.sasl.enabled.mechanisms",
                                self.security.get("sasl.enabled.mechanisms", "GSSAPI"))
        return [m.strip() for m in raw.split(",") if m.strip()]

    def replication_factor(self) -> int:
        return min(int(self.durability.get("default.replication.factor", "1")), self.size)

    # -- clients ---------------------------------------------------------------------------------

    def connection(self, username: str, password: str, *, listener: str = "CLIENT",
                   mechanism: str = "SCRAM-SHA-512", nodes: Sequence[NodeSpec] | None = None):  # noqa: ANN201
        """A `shared.kafka.KafkaConnection` for a SCRAM principal on `listener`."""
        from shared.kafka import KafkaConnection

        return KafkaConnection(bootstrap=self.bootstrap(listener, nodes), security_protocol=self.protocol(listener),
                               sasl_mechanism=mechanism, username=username, password=password, ca_file=self.ca_file)

    def admin_connection(self, nodes: Sequence[NodeSpec] | None = None):  # noqa: ANN201
        """The super user (PLAIN) on the inter-broker listener."""
        return self.connection(self.super_user, self.admin_password, listener=self.inter_broker_listener,
                               mechanism="PLAIN", nodes=nodes)

    def client_env(self, username: str, password: str, *, listener: str = "CLIENT", mechanism: str = "SCRAM-SHA-512",
                   prefix: str = "SHUANGDA_") -> dict[str, str]:
        """The ``SHUANGDA_KAFKA_*`` variables a process needs to reach this cluster as `username`
        (``prefix="SHUANGDA_INTAKE_"``: the service's own variables, which win over the project's)."""
        env = {
            f"{prefix}KAFKA_BOOTSTRAP": self.bootstrap(listener),
            f"{prefix}KAFKA_SECURITY_PROTOCOL": self.protocol(listener),
            f"{prefix}KAFKA_SASL_MECHANISM": mechanism,
            f"{prefix}KAFKA_SASL_USERNAME": username,
            f"{prefix}KAFKA_SASL_PASSWORD": password,
            f"{prefix}KAFKA_REPLICATION_FACTOR": str(self.replication_factor()),
        }
        if self.ca_file:
            env[f"{prefix}KAFKA_SSL_CAFILE"] = self.ca_file
        return env

    def admin_env(self) -> dict[str, str]:
        return self.client_env(self.super_user, self.admin_password, listener=self.inter_broker_listener,
                               mechanism="PLAIN")

    # -- files -------------------------------------------------------------------------------------

    def server_properties(self, node: NodeSpec) -> dict[str, str]:
        props = dict(self.security)
        for key, value in self.durability.items():
            if key in _REPLICATION:
                value = str(min(int(value), self.size))
            elif key in _MIN_ISR:
                value = str(min(int(value), max(1, self.size - 1)))
            props[key] = value
        controllers = self.controller_listeners
        props.update({
            "node.id": str(node.node_id),
            "process.roles": "broker,controller",
            "controller.quorum.voters": ",".join(
                f"{n.node_id}@{HOST}:{n.ports[c]}" for n in self.nodes for c in sorted(controllers)),
            "listeners": ",".join(f"{name}://{HOST}:{node.ports[name]}" for name in self.listener_names),
            "advertised.listeners": ",".join(
                f"{name}://{HOST}:{node.ports[name]}" for name in self.listener_names if name not in controllers),
            "log.dirs": str(node.data_dir),
            # 50 partitions x RF 3 of __consumer_offsets cost start-up time and memory on a small machine
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.num.partitions": "3",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.replica.fetchers": "1",
            "background.threads": "2",
            "log.cleaner.threads": "1",
            "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
            "log.segment.bytes": str(32 * 1024 * 1024),
            "fetch.max.bytes": str(8 * 1024 * 1024),
            "queued.max.requests": "100",
            "delete.topic.enable": "true",
            **self.tuning,
        })
        if self.tls is not None:
            props.update({
                "ssl.keystore.type": "PKCS12",
                "ssl.keystore.location": str(self.tls.keystores[node.node_id]),
                "ssl.keystore.password": self.tls.password,
                "ssl.key.password": self.tls.password,
                "ssl.truststore.type": "PEM",
                "ssl.truststore.location": str(self.tls.ca_file),
                "ssl.endpoint.identification.algorithm": "https",
            })
        return props

    def jaas(self) -> str:
        """One ``<listener>.KafkaServer`` section per SASL listener, as entrypoint.sh writes them."""
        pw, user = self.admin_password, self.super_user
        sections = []
        for name in self.listener_names:
            modules = []
            for mech in self.mechanisms(name):
                if mech == "PLAIN":
                    modules.append(f'org.apache.kafka.common.security.plain.PlainLoginModule required '
                                   f'username="{user}" password="{pw}" user_{user}="{pw}";')
                elif mech.startswith("SCRAM-"):
                    modules.append("org.apache.kafka.common.security.scram.ScramLoginModule required;")
                else:
                    raise SecureClusterError(f"listener {name}: mechanism {mech} is not supported here")
            if modules:
                body = "\n  ".join(dict.fromkeys(modules))
                sections.append(f"{name.lower()}.KafkaServer {{\n  {body}\n}};")
        return "\n".join(sections) + "\n"

    def write_node_files(self, node: NodeSpec) -> Path:
        """``server.properties``, the JAAS file and log4j config in the node's workdir (mode 600
        where they hold passwords); returns the properties file."""
        node.workdir.mkdir(parents=True, exist_ok=True)
        body = "\n".join(f"{k}={v}" for k, v in self.server_properties(node).items())
        properties = node.workdir / "server.properties"
        _write_private(properties, (
            "# Written by the shuangda launcher on every start (deploy/launcher/secure.py).\n" + body + "\n").encode())
        _write_private(node.workdir / "kafka_server_jaas.conf", self.jaas().encode())
        (node.workdir / "log4j2.properties").write_text(launcher_kafka.LOG4J2_PROPERTIES)
        return properties

    def format_command(self, node: NodeSpec, libs: Path, cluster_id: str) -> list[str]:
        return [str(tools.java()), "-Xmx128m", *TOOL_JVM_OPTS,
                f"-Dlog4j2.configurationFile={node.workdir / 'log4j2.properties'}", "-cp", f"{libs}/*",
                launcher_kafka.STORAGE_TOOL_CLASS, "format", "-t", cluster_id,
                "-c", str(node.workdir / "server.properties"), "--ignore-formatted"]

    def format(self, node: NodeSpec, libs: Path, cluster_id: str) -> None:
        """Format the node's storage once (``kafka.tools.StorageTool format``)."""
        if (node.data_dir / "meta.properties").exists():
            return
        fmt = subprocess.run(self.format_command(node, libs, cluster_id), stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=120)
        if fmt.returncode != 0:
            raise SecureClusterError(f"kafka-storage format of node {node.node_id} failed:\n{fmt.stdout}\n{fmt.stderr}")

    def command(self, node: NodeSpec, libs: Path, heap: str) -> list[str]:
        return [str(tools.java()), "-Xms64m", f"-Xmx{heap}", *BROKER_JVM_OPTS,
                f"-Dlog4j2.configurationFile={node.workdir / 'log4j2.properties'}",
                f"-Djava.security.auth.login.config={node.workdir / 'kafka_server_jaas.conf'}",
                f"-Dkafka.logs.dir={node.workdir}", "-cp", f"{libs}/*", launcher_kafka.MAIN_CLASS,
                str(node.workdir / "server.properties")]

    # -- health ------------------------------------------------------------------------------------

    async def broker_count(self, nodes: Sequence[NodeSpec] | None = None, timeout: float = 10.0) -> int:
        """Brokers in the cluster's metadata, asked through `nodes` (default: all); 0 when none answers."""
        from aiokafka import AIOKafkaClient

        client = AIOKafkaClient(request_timeout_ms=int(timeout * 1000), client_id="shuangda-launcher",
                                **self.admin_connection(nodes).options())
        try:
            await asyncio.wait_for(client.bootstrap(), timeout)
            return len(client.cluster.brokers())
        except Exception as exc:
            log.debug("secure kafka metadata probe failed: %s", exc)
            return 0
        finally:
            await client.close()

    async def health(self, timeout: float = 10.0) -> "ClusterHealth":
        """Brokers in the metadata and partitions with fewer in-sync replicas than replicas."""
        admin = self.admin_connection().admin(client_id="shuangda-launcher", request_timeout_ms=int(timeout * 1000))
        try:
            await asyncio.wait_for(admin.start(), timeout)
            topics = await asyncio.wait_for(admin.list_topics(), timeout)
            described = await asyncio.wait_for(admin.describe_topics(list(topics)), timeout) if topics else []
            brokers = await asyncio.wait_for(admin.describe_cluster(), timeout)
        finally:
            await admin.close()
        under = {}
        offline = 0
        for t in described:
            n = sum(1 for p in t["partitions"] if len(p["isr"]) < len(p["replicas"]))
            offline += sum(1 for p in t["partitions"] if p.get("leader", -1) in (-1, None))
            if n:
                under[t["topic"]] = n
        ids = sorted(int(b["node_id"]) for b in brokers.get("brokers", []))
        # each node asked on its own: the metadata keeps a killed broker until its session expires
        counts = await asyncio.gather(*(self.broker_count([n], min(timeout, 5.0)) for n in self.nodes))
        answering = [n.node_id for n, c in zip(self.nodes, counts) if c > 0]
        return ClusterHealth(brokers=ids, expected=self.size, under_replicated=under, offline_partitions=offline,
                             answering=answering)

    # -- the project's ACL job -----------------------------------------------------------------------

    def run_acl_job(self, kafka_home: Path, env: Mapping[str, str], *, workdir: Path,
                    timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run ``deploy/compose/kafka/acls.sh`` against this cluster (the super user over the
        inter-broker listener, as in compose), with `env` adding the passwords and principal lists."""
        tmp = workdir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        script_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir),
            "TMPDIR": str(tmp),
            "SHUANGDA_KAFKA_HOME": str(kafka_home),
            "SHUANGDA_KAFKA_ADMIN_BOOTSTRAP": self.bootstrap(self.inter_broker_listener),
            "SHUANGDA_KAFKA_ADMIN_PASSWORD": self.admin_password,
            "SHUANGDA_KAFKA_ADMIN_SECURITY_PROTOCOL": self.protocol(self.inter_broker_listener),
            **({"SHUANGDA_KAFKA_SSL_CAFILE": self.ca_file} if self.ca_file else {}),
            **env,
        }
        result = subprocess.run(["bash", str(ACL_SCRIPT)], env=script_env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise SecureClusterError(f"acls.sh exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result


@dataclass(frozen=True)
class ClusterHealth:
    brokers: list[int]
    expected: int
    #: topic -> partitions whose ISR is smaller than their replica set
    under_replicated: dict[str, int]
    offline_partitions: int = 0
    #: nodes that answer a metadata request on their own listener
    answering: list[int] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return (len(self.brokers) >= self.expected and len(self.answering) >= self.expected
                and not self.under_replicated and not self.offline_partitions)

    def describe(self) -> str:
        parts = [f"{len(self.brokers)}/{self.expected} brokers in the metadata",
                 f"{len(self.answering)}/{self.expected} answering"]
        parts.append(f"{sum(self.under_replicated.values())} under-replicated partition(s)")
        if self.offline_partitions:
            parts.append(f"{self.offline_partitions} offline partition(s)")
        return ", ".join(parts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the parent dies without stopping it (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# -- the launcher's secure profile ------------------------------------------------------------------


def home() -> Path:
    """``<state>/secure``: the CA and certificates (``tls/``), credentials, the cluster id, the
    tool wrappers (``kafka-home/``)."""
    return settings.state_dir() / "secure"


def heap() -> str:
    raw = os.environ.get("SHUANGDA_KAFKA_HEAP", "").strip() or DEFAULT_HEAP
    if not re.fullmatch(r"\d+[mMgG]", raw):
        raise LauncherError(f"SHUANGDA_KAFKA_HEAP={raw!r}: give a size such as 384m")
    return raw


def node_ports(node_id: int, listeners: Sequence[str]) -> dict[str, int]:
    base = settings.port("kafka")
    return {name: base + 10 * node_id + j for j, name in enumerate(listeners)}


def tls() -> TlsMaterial:
    """The secure profile's CA and certificates (made on first use; valid 825 days)."""
    return tls_material(home() / "tls", list(range(1, NODES + 1)), days=825)


def node_specs() -> list[NodeSpec]:
    listeners = ClusterConfig.listener_names_of(production_security_properties())
    return [NodeSpec(i, settings.state_dir() / f"kafka-{i}", node_ports(i, listeners)) for i in range(1, NODES + 1)]


def cluster() -> ClusterConfig:
    """The launcher's secure cluster as configured in this state dir."""
    from deploy.launcher import profile

    return ClusterConfig(node_specs(), admin_password=profile.credentials().kafka_admin, tls=tls())


def cluster_id() -> str:
    path = home() / "cluster.id"
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    cid = launcher_kafka.new_cluster_id()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cid + "\n")
    return cid


def kafka_home() -> Path:
    return home() / "kafka-home"


def apply_acls(config: ClusterConfig | None = None) -> subprocess.CompletedProcess[str]:
    """Users and ACLs of the secure profile by acls.sh (idempotent), with the operator's
    ``SHUANGDA_KAFKA_INGRESS_CLIENTS``/``EGRESS_BUREAUS`` and their passwords when set."""
    from deploy.launcher import profile

    config = config or cluster()
    libs = launcher_kafka.KafkaBroker().ensure_jars()
    write_tool_wrappers(kafka_home(), libs, ensure_tools_jar())
    env = {**profile.credentials().acl_env(), **outsiders_env()}
    result = config.run_acl_job(kafka_home(), env, workdir=home())
    (home() / "acls.done").write_text(acls_fingerprint() + "\n" + result.stdout)
    return result


def acls_fingerprint() -> str:
    """What the ACL job was run with: acls.sh itself, the principals it was given passwords for and
    the operator's clients and bureaus. ``up`` runs the job again when this changes (a service added,
    a client declared), not on every start: it costs ~30 JVM calls."""
    from deploy.launcher import profile

    digest = hashlib.sha256(ACL_SCRIPT.read_bytes())
    for name in sorted(profile.credentials().kafka):
        digest.update(b"principal:" + name.encode())
    outsiders = outsiders_env()
    for var in ("SHUANGDA_KAFKA_INGRESS_CLIENTS", "SHUANGDA_KAFKA_EGRESS_BUREAUS", "SHUANGDA_KAFKA_APPRAISAL_PROVIDERS"):
        digest.update(f"{var}={outsiders.get(var, '')}".encode())
    return "fingerprint " + digest.hexdigest()


def password_var(name: str) -> str:
    """acls.sh's password variable of an outside client or bureau (its ``password_var``)."""
    return "SHUANGDA_KAFKA_PASSWORD_" + name.upper().replace("-", "_").replace(".", "_")


def outsiders_env() -> dict[str, str]:
    """acls.sh's outside clients and bureaus: the operator's ``SHUANGDA_KAFKA_INGRESS_CLIENTS`` /
    ``EGRESS_BUREAUS`` and ``SHUANGDA_KAFKA_PASSWORD_*``, plus the clients recorded in the state dir
    (:func:`deploy.launcher.profile.outside_clients`, e.g. the demo's simulated monitor)."""
    from deploy.launcher import profile

    env = {var: value for var, value in os.environ.items() if var.startswith("SHUANGDA_KAFKA_PASSWORD_")}
    clients = [c for c in re.split(r"[\s,]+", os.environ.get("SHUANGDA_KAFKA_INGRESS_CLIENTS", "")) if c]
    for name, password in sorted(profile.outside_clients().items()):
        if name not in clients:
            clients.append(name)
        env.setdefault(password_var(name), password)
    if clients:
        env["SHUANGDA_KAFKA_INGRESS_CLIENTS"] = ",".join(clients)
    for var in ("SHUANGDA_KAFKA_EGRESS_BUREAUS", "SHUANGDA_KAFKA_APPRAISAL_PROVIDERS"):
        if os.environ.get(var):
            env[var] = os.environ[var]
    return env


def acls_current() -> bool:
    """True when the ACL job completed in this state dir with what :func:`acls_fingerprint` says now."""
    try:
        first = (home() / "acls.done").read_text().splitlines()[:1]
    except FileNotFoundError:
        return False
    return first == [acls_fingerprint()]


class KafkaNode(Component):
    """Node ``i`` of the secure profile's cluster (broker + controller), under supervisord."""

    ready_timeout = 150.0
    stop_timeout = 60.0
    startsecs = 5

    def __init__(self, node_id: int) -> None:
        self.node_id = node_id
        self.name = f"kafka-{node_id}"

    def spec(self) -> NodeSpec:
        return node_specs()[self.node_id - 1]

    def external(self) -> str | None:
        return settings.external_kafka()

    def address(self) -> str:
        spec = self.spec()
        return f"{HOST}:{spec.ports['CLIENT']} (SASL_SSL)" if "CLIENT" in spec.ports else \
            f"{HOST}:{next(iter(spec.ports.values()))}"

    def matches(self, argv: Sequence[str]) -> bool:
        return launcher_kafka.MAIN_CLASS in argv and str(self.spec().workdir / "server.properties") in argv

    def probe(self, timeout: float) -> bool:
        config = cluster()
        spec = config.nodes[self.node_id - 1]
        port = spec.ports[config.inter_broker_listener]
        if not proc.port_open(HOST, port, timeout=min(timeout, 1.0)):
            return False
        return proc.run_coro(lambda: config.broker_count([spec], timeout), timeout + 2.0) > 0

    def prepare(self) -> None:
        config = cluster()
        spec = config.nodes[self.node_id - 1]
        for port in spec.ports.values():
            if proc.port_open(HOST, port):
                raise LauncherError(f"port {port} (kafka node {self.node_id}) is already in use by another process; "
                                    f"pick another range with SHUANGDA_KAFKA_PORT=...")
        libs = launcher_kafka.KafkaBroker().ensure_jars()
        config.write_node_files(spec)
        config.format(spec, libs, cluster_id())

    def command(self) -> list[str]:
        config = cluster()
        return config.command(config.nodes[self.node_id - 1], launcher_kafka.libs_dir(), heap())

    def cwd(self) -> Path | None:
        return self.spec().workdir

    @property
    def log_path(self) -> Path:
        return settings.log_file(self.name)
