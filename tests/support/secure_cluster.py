"""A throwaway multi-node Kafka secured and replicated the way production is.

`SecureCluster(workdir, nodes=3)` starts N KRaft nodes (each a combined
broker + controller, as compose runs them) in a temporary directory, from the
jars the launcher resolved into its cache, on free loopback ports, and stops
them again. It never touches the launcher's broker on 9092.

What is production's, read from ``docker-compose.yml``'s ``x-kafka-env``
(``tests/support/secure_broker.py`` reads it):

* the security settings: listener names, SASL mechanisms per listener, the
  StandardAuthorizer, ``super.users``, deny when no ACL is found;
* the durability settings: default replication factor, ``min.insync.replicas``,
  unclean leader election off, the replication of the offsets, transaction and
  share-state topics (clamped to the number of nodes, so one node still works);
* the SCRAM users and ACLs, created by the project's own
  ``deploy/compose/kafka/acls.sh`` (`run_acl_job`).

What this helper adds or replaces:

* TLS (``tls=True``, the default): every ``SASL_PLAINTEXT`` listener of the
  compose file becomes ``SASL_SSL``. A local CA and one certificate per node
  (SAN ``127.0.0.1`` and ``localhost``) are generated with the ``cryptography``
  package into ``<workdir>/tls`` (`tls_material`); clients verify the CA and the
  host name (``ca_file``), and so do the brokers between themselves.
* addresses and ports, the static quorum, storage, small heaps
  (``SHUANGDA_KAFKA_HEAP``, default 256m per node) and a small offsets topic.

`kill(node)` SIGKILLs one node; `start_node(node)` brings it back on the same
ports and data, for failure tests.

Usage::

    with SecureCluster(tmp_path, nodes=3) as cluster:
        passwords = cluster.run_acl_job(env)            # users + ACLs (acls.sh)
        kafka = cluster.connection("intake", pw)         # a shared.kafka.KafkaConnection
        consumer = kafka.consumer("topic", group_id="intake-x")
"""
from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from deploy.launcher import kafka as launcher_kafka
from deploy.launcher import proc, tools
from shared.kafka import KafkaConnection
from tests.support import secure_broker as sb

HOST = sb.HOST

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


def production_durability_properties(compose_file: Path = sb.COMPOSE_FILE) -> dict[str, str]:
    import yaml

    env = yaml.safe_load(compose_file.read_text()).get("x-kafka-env") or {}
    return {sb.compose_property_name(f"KAFKA_{k}"): str(env[f"KAFKA_{k}"]) for k in DURABILITY_KEYS
            if f"KAFKA_{k}" in env}


def default_heap() -> str:
    """``-Xmx`` of each node: ``SHUANGDA_KAFKA_HEAP`` (e.g. ``256m``), as for the launcher's broker."""
    return os.environ.get("SHUANGDA_KAFKA_HEAP") or "256m"


# -- TLS material ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsMaterial:
    ca_file: Path
    #: node id -> PKCS#12 keystore (key, certificate, CA)
    keystores: dict[int, Path]
    password: str = field(repr=False)


def tls_material(directory: Path, node_ids: list[int]) -> TlsMaterial:
    """A local CA and one server certificate per node (SAN 127.0.0.1 / localhost), made once per directory."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    pw_file = directory / "keystore.password"
    ca_file = directory / "ca.pem"
    keystores = {n: directory / f"node-{n}.p12" for n in node_ids}
    if pw_file.exists() and ca_file.exists() and all(p.exists() for p in keystores.values()):
        return TlsMaterial(ca_file, keystores, pw_file.read_text().strip())
    password = secrets.token_hex(16)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shuangda test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(20000)
                  .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
                  .build(password.encode()))
    for node, path in keystores.items():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kafka-{node}")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        path.write_bytes(pkcs12.serialize_key_and_certificates(
            f"kafka-{node}".encode(), key, cert, [ca_cert], encryption))
        path.chmod(0o600)
    pw_file.write_text(password)
    pw_file.chmod(0o600)
    return TlsMaterial(ca_file, keystores, password)


# -- the cluster -----------------------------------------------------------------------------------


@dataclass
class Node:
    node_id: int
    workdir: Path
    ports: dict[str, int]
    process: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / "kafka.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class SecureClusterError(sb.SecureBrokerError):
    pass


class SecureCluster:
    """N KRaft nodes with production's listeners, authorizer and replication; see the module docstring."""

    def __init__(self, workdir: Path, *, nodes: int = 3, tls: bool = True, heap: str | None = None,
                 ready_timeout: float = 90.0) -> None:
        self.workdir = Path(workdir)
        self.tls = tls
        self.heap = heap or default_heap()
        self.ready_timeout = ready_timeout
        self.security = sb.production_security_properties()
        if tls:
            self.security["listener.security.protocol.map"] = ",".join(
                f"{name}:{_with_tls(protocol)}" for name, protocol in
                (entry.split(":", 1) for entry in self.security["listener.security.protocol.map"].split(",")))
        self.durability = production_durability_properties()
        self.super_user = self._super_user()
        self.admin_password = secrets.token_hex(24)
        self.listener_names = [
            entry.split("://", 1)[0].strip() for entry in self.security["listeners"].split(",") if entry.strip()
        ]
        self.nodes = [Node(i, self.workdir / f"node-{i}", {n: sb.free_port() for n in self.listener_names})
                      for i in range(1, nodes + 1)]
        self.cluster_id = launcher_kafka.new_cluster_id()
        self.libs: Path | None = None
        self.tools_jar: Path | None = None
        self.tls_files: TlsMaterial | None = None
        #: seconds the last `start` took until every node served metadata
        self.start_seconds: float | None = None

    # -- addresses and client options --------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def kafka_home(self) -> Path:
        """Stand-in for ``/opt/kafka``: ``bin/kafka-configs.sh`` and ``bin/kafka-acls.sh``."""
        return self.workdir / "kafka-home"

    @property
    def controller_listeners(self) -> set[str]:
        return {n.strip() for n in self.security.get("controller.listener.names", "").split(",") if n.strip()}

    @property
    def inter_broker_listener(self) -> str:
        return self.security.get("inter.broker.listener.name", "PLAINTEXT")

    @property
    def ca_file(self) -> str | None:
        return str(self.tls_files.ca_file) if self.tls_files else None

    def protocol(self, listener: str) -> str:
        pairs = dict(e.split(":", 1) for e in self.security["listener.security.protocol.map"].split(","))
        return pairs[listener]

    def bootstrap(self, listener: str) -> str:
        """Every node's ``127.0.0.1:<port>`` of the named listener (``CLIENT``, ``EXTERNAL``, ``BROKER`` …)."""
        return ",".join(f"{HOST}:{node.ports[listener]}" for node in self.nodes)

    def mechanisms(self, listener: str) -> list[str]:
        raw = self.security.get(f"listener.name.{listener.lower()}.sasl.enabled.mechanisms",
                                self.security.get("sasl.enabled.mechanisms", "GSSAPI"))
        return [m.strip() for m in raw.split(",") if m.strip()]

    def connection(self, username: str, password: str, *, listener: str = "CLIENT",
                   mechanism: str = "SCRAM-SHA-512") -> KafkaConnection:
        """A `shared.kafka.KafkaConnection` for a SCRAM principal on `listener`."""
        return KafkaConnection(bootstrap=self.bootstrap(listener), security_protocol=self.protocol(listener),
                               sasl_mechanism=mechanism, username=username, password=password, ca_file=self.ca_file)

    def admin_connection(self) -> KafkaConnection:
        """The super user (PLAIN) on the inter-broker listener."""
        return KafkaConnection(bootstrap=self.bootstrap(self.inter_broker_listener),
                               security_protocol=self.protocol(self.inter_broker_listener), sasl_mechanism="PLAIN",
                               username=self.super_user, password=self.admin_password, ca_file=self.ca_file)

    def settings_env(self, username: str, password: str, *, listener: str = "CLIENT") -> dict[str, str]:
        """The ``SHUANGDA_KAFKA_*`` variables a service process needs to reach this cluster as `username`."""
        env = {
            "SHUANGDA_KAFKA_BOOTSTRAP": self.bootstrap(listener),
            "SHUANGDA_KAFKA_SECURITY_PROTOCOL": self.protocol(listener),
            "SHUANGDA_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "SHUANGDA_KAFKA_SASL_USERNAME": username,
            "SHUANGDA_KAFKA_SASL_PASSWORD": password,
            "SHUANGDA_KAFKA_REPLICATION_FACTOR": self.durability.get("default.replication.factor", "1")
            if self.size >= 3 else str(self.size),
        }
        if self.ca_file:
            env["SHUANGDA_KAFKA_SSL_CAFILE"] = self.ca_file
        return env

    def scram_options(self, username: str, password: str, mechanism: str = "SCRAM-SHA-512",
                      listener: str = "CLIENT") -> dict[str, Any]:
        """aiokafka keyword arguments (without the bootstrap) for a SCRAM principal."""
        options = self.connection(username, password, listener=listener, mechanism=mechanism).options()
        options.pop("bootstrap_servers")
        return options

    def admin_options(self) -> dict[str, Any]:
        """aiokafka keyword arguments (without the bootstrap) for the super user (PLAIN)."""
        options = self.admin_connection().options()
        options.pop("bootstrap_servers")
        return options

    # -- configuration ---------------------------------------------------------------------

    def _super_user(self) -> str:
        users = [u.strip() for u in self.security["super.users"].split(";") if u.strip().startswith("User:")]
        if not users:
            raise SecureClusterError("super.users names no User: principal")
        return users[0].removeprefix("User:")

    def server_properties(self, node: Node) -> dict[str, str]:
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
            # 50 partitions x RF 3 of __consumer_offsets cost start-up time and nothing is tested by them
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.num.partitions": "3",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.replica.fetchers": "1",
            "background.threads": "2",
            "log.cleaner.threads": "1",
            "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
        })
        if self.tls_files is not None:
            props.update({
                "ssl.keystore.type": "PKCS12",
                "ssl.keystore.location": str(self.tls_files.keystores[node.node_id]),
                "ssl.keystore.password": self.tls_files.password,
                "ssl.key.password": self.tls_files.password,
                "ssl.truststore.type": "PEM",
                "ssl.truststore.location": str(self.tls_files.ca_file),
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
                    raise SecureClusterError(f"listener {name}: mechanism {mech} is not supported by this helper")
            if modules:
                body = "\n  ".join(dict.fromkeys(modules))
                sections.append(f"{name.lower()}.KafkaServer {{\n  {body}\n}};")
        return "\n".join(sections) + "\n"

    def _write_node_files(self, node: Node) -> None:
        node.workdir.mkdir(parents=True, exist_ok=True)
        body = "\n".join(f"{k}={v}" for k, v in self.server_properties(node).items())
        (node.workdir / "server.properties").write_text(body + "\n")
        (node.workdir / "server.properties").chmod(0o600)
        jaas = node.workdir / "kafka_server_jaas.conf"
        jaas.write_text(self.jaas())
        jaas.chmod(0o600)
        (node.workdir / "log4j2.properties").write_text(launcher_kafka.LOG4J2_PROPERTIES)

    def _write_tool_wrappers(self) -> None:
        assert self.libs is not None and self.tools_jar is not None
        (self.workdir / "tools-log4j2.properties").write_text(sb.TOOLS_LOG4J2)
        bin_dir = self.kafka_home / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        java = tools.java()
        classpath = f"{self.libs}/*:{self.tools_jar}"
        cds_dir = sb.class_data_dir(java, self.libs, self.tools_jar)
        for script, main_class in (("kafka-configs.sh", sb.CONFIG_COMMAND_CLASS),
                                   ("kafka-acls.sh", sb.ACL_COMMAND_CLASS)):
            path = bin_dir / script
            # Like Kafka's bin/kafka-run-class.sh (KAFKA_HEAP_OPTS and KAFKA_OPTS, word-split), plus a
            # class-data-sharing archive made on the first call and reused after, which about halves
            # each call's start-up (acls.sh makes ~30 calls).
            path.write_text(
                "#!/usr/bin/env bash\n"
                f"# {script} stand-in written by tests/support/secure_cluster.py: Kafka's own {main_class}\n"
                f'jsa="{cds_dir}/{main_class}.jsa"\n'
                'cds="-XX:SharedArchiveFile=$jsa"\n'
                '[ -s "$jsa" ] || cds="-XX:ArchiveClassesAtExit=$jsa.$$"\n'
                f'"{java}" ${{KAFKA_HEAP_OPTS:--Xmx256m}} {" ".join(sb.TOOL_JVM_OPTS)} "$cds" '
                '-Xlog:disable -Xlog:all=error:stderr '
                f'-Dlog4j2.configurationFile="{self.workdir / "tools-log4j2.properties"}" ${{KAFKA_OPTS:-}} '
                f'-cp "{classpath}" {main_class} "$@"\n'
                "rc=$?\n"
                'if [ -s "$jsa.$$" ]; then mv -f "$jsa.$$" "$jsa"; else rm -f "$jsa.$$"; fi\n'
                "exit $rc\n"
            )
            path.chmod(0o755)

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> "SecureCluster":
        started = time.monotonic()
        self.libs = launcher_kafka.KafkaBroker().ensure_jars()
        self.tools_jar = sb.ensure_tools_jar()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.tls:
            self.tls_files = tls_material(self.workdir / "tls", [n.node_id for n in self.nodes])
        self._write_tool_wrappers()
        try:
            for node in self.nodes:
                self._write_node_files(node)
                self._format(node)
            for node in self.nodes:
                self._launch(node)
            self.wait_healthy(started + self.ready_timeout)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        return self

    def _format(self, node: Node) -> None:
        java = str(tools.java())
        fmt = subprocess.run(
            [java, "-Xmx128m", *sb.TOOL_JVM_OPTS, f"-Dlog4j2.configurationFile={node.workdir / 'log4j2.properties'}",
             "-cp", f"{self.libs}/*", launcher_kafka.STORAGE_TOOL_CLASS, "format", "-t", self.cluster_id,
             "-c", str(node.workdir / "server.properties"), "--ignore-formatted"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )
        if fmt.returncode != 0:
            raise SecureClusterError(f"kafka-storage format of node {node.node_id} failed:\n{fmt.stdout}\n{fmt.stderr}")

    def _launch(self, node: Node) -> None:
        java = str(tools.java())
        cmd = [java, "-Xms64m", f"-Xmx{self.heap}", *sb.BROKER_JVM_OPTS,
               f"-Dlog4j2.configurationFile={node.workdir / 'log4j2.properties'}",
               f"-Djava.security.auth.login.config={node.workdir / 'kafka_server_jaas.conf'}",
               f"-Dkafka.logs.dir={node.workdir}", "-cp", f"{self.libs}/*", launcher_kafka.MAIN_CLASS,
               str(node.workdir / "server.properties")]
        with open(node.log_path, "ab") as log:
            node.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=node.workdir, start_new_session=True, preexec_fn=sb._die_with_parent)

    def wait_healthy(self, deadline: float | None = None) -> None:
        """Until every node runs and the cluster's metadata lists all of them."""
        deadline = deadline if deadline is not None else time.monotonic() + self.ready_timeout
        while True:
            for node in self.nodes:
                if node.process is None or node.process.poll() is not None:
                    raise SecureClusterError(
                        f"node {node.node_id} exited during start-up:\n{proc.tail(node.log_path, 40)}")
            if all(proc.port_open(HOST, n.ports[self.inter_broker_listener]) for n in self.nodes) and \
                    proc.run_coro(self._broker_count, 15.0) == self.size:
                return
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- node {n.node_id}\n{proc.tail(n.log_path, 25)}" for n in self.nodes)
                raise SecureClusterError(f"the cluster was not healthy in time:\n{tails}")
            time.sleep(0.5)

    async def _broker_count(self) -> int:
        from aiokafka import AIOKafkaClient

        client = AIOKafkaClient(request_timeout_ms=5000, **self.admin_connection().options())
        try:
            await asyncio.wait_for(client.bootstrap(), 10.0)
            return len(client.cluster.brokers())
        except Exception:
            return 0
        finally:
            await client.close()

    async def under_replicated(self, topics: list[str]) -> dict[str, int]:
        """Per topic, how many partitions have fewer in-sync replicas than replicas."""
        admin = self.admin_connection().admin(client_id="shuangda-test-cluster")
        await admin.start()
        try:
            described = await admin.describe_topics(topics)
        finally:
            await admin.close()
        return {t["topic"]: sum(1 for p in t["partitions"] if len(p["isr"]) < len(p["replicas"]))
                for t in described}

    def kill(self, node_id: int) -> None:
        """SIGKILL one node (its process group), as a crashed machine would end it."""
        node = self.nodes[node_id - 1]
        process, node.process = node.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def start_node(self, node_id: int) -> None:
        """Start a killed node again, on its ports and data."""
        node = self.nodes[node_id - 1]
        if not node.running:
            self._write_node_files(node)
            self._launch(node)

    def stop(self) -> None:
        """Kill every node's process group (the data is thrown away)."""
        for node in self.nodes:
            self.kill(node.node_id)

    def __enter__(self) -> "SecureCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the project's ACL job -----------------------------------------------------------------

    def run_acl_job(self, env: Mapping[str, str], *, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
        """Run ``deploy/compose/kafka/acls.sh`` against this cluster (the super user over the
        inter-broker listener, as in compose), with `env` adding the passwords and principal lists."""
        (self.workdir / "tmp").mkdir(exist_ok=True)
        script_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "TMPDIR": str(self.workdir / "tmp"),
            "SHUANGDA_KAFKA_HOME": str(self.kafka_home),
            "SHUANGDA_KAFKA_ADMIN_BOOTSTRAP": self.bootstrap(self.inter_broker_listener),
            "SHUANGDA_KAFKA_ADMIN_PASSWORD": self.admin_password,
            "SHUANGDA_KAFKA_ADMIN_SECURITY_PROTOCOL": self.protocol(self.inter_broker_listener),
            **({"SHUANGDA_KAFKA_SSL_CAFILE": self.ca_file} if self.ca_file else {}),
            **env,
        }
        result = subprocess.run(["bash", str(sb.ACL_SCRIPT)], env=script_env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise SecureClusterError(f"acls.sh exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result


def _with_tls(protocol: str) -> str:
    return {"PLAINTEXT": "SSL", "SASL_PLAINTEXT": "SASL_SSL"}.get(protocol.strip(), protocol.strip())
