"""A throwaway single-node Kafka secured the way production is, for ACL tests.

`SecureBroker` starts a SECOND Kafka (never the launcher's on 9092) in a
temporary directory, from the jars the launcher resolved into the cache
(``deploy.launcher.kafka``), on free loopback ports, and stops it again.

Its security settings are not written here: they are read from the
``x-kafka-env`` block of ``docker-compose.yml`` (listener names and protocols,
SASL mechanisms per listener, the authorizer, ``super.users``,
``allow.everyone.if.no.acl.found``), so a test against this broker checks the
production configuration. Only what cannot hold on one loopback node is
replaced: addresses and ports, the quorum, replication (1) and storage. As in
``deploy/compose/kafka/entrypoint.sh``, the broker's JAAS file gives listeners
with PLAIN the super user (``admin``) and listeners with SCRAM the SCRAM login
module, whose users live in the cluster metadata.

SCRAM users and ACLs are not created here. `SecureBroker.run_acl_job` runs the
project's own ``deploy/compose/kafka/acls.sh`` against this broker: the script
calls ``$SHUANGDA_KAFKA_HOME/bin/kafka-configs.sh`` and ``kafka-acls.sh``,
which this helper provides as small wrappers that run Kafka's own command
classes (``kafka.admin.ConfigCommand`` from the broker jars and
``org.apache.kafka.tools.AclCommand`` from the ``kafka-tools`` jar, which the
launcher's pom does not include; it is copied next to the cached jars with
Maven on first use, from the local Maven repository when it is there).

Usage::

    with SecureBroker(tmp_path) as broker:
        broker.run_acl_job(env)                       # users + ACLs
        opts = broker.scram_options("alice", "pw")     # aiokafka kwargs
        AIOKafkaConsumer(bootstrap_servers=broker.bootstrap("EXTERNAL"), **opts)
"""
from __future__ import annotations

import asyncio
import ctypes
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Mapping

import yaml

from deploy.launcher import kafka as launcher_kafka
from deploy.launcher import proc, settings, tools

HOST = "127.0.0.1"
COMPOSE_FILE = settings.repo_root() / "docker-compose.yml"
ACL_SCRIPT = settings.repo_root() / "deploy" / "compose" / "kafka" / "acls.sh"

ACL_COMMAND_CLASS = "org.apache.kafka.tools.AclCommand"
CONFIG_COMMAND_CLASS = "kafka.admin.ConfigCommand"
#: the broker's heap (it idles at well under half of this)
BROKER_HEAP = ("-Xms128m", "-Xmx384m")
#: a throwaway broker on a small machine: C1 only and the serial collector leave CPU to the test
BROKER_JVM_OPTS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError",
                   "-Djava.awt.headless=true")
#: short-lived command-line JVMs: start fast rather than run fast
TOOL_JVM_OPTS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-Djava.awt.headless=true")

#: compose variables (``KAFKA_`` removed) that make up the security configuration
_SECURITY_KEYS = re.compile(
    r"^(LISTENERS|LISTENER_SECURITY_PROTOCOL_MAP|CONTROLLER_LISTENER_NAMES|INTER_BROKER_LISTENER_NAME"
    r"|SASL_.*|LISTENER_NAME_.*|AUTHORIZER_CLASS_NAME|SUPER_USERS|ALLOW_EVERYONE_IF_NO_ACL_FOUND"
    r"|AUTO_CREATE_TOPICS_ENABLE)$"
)

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


class SecureBrokerError(RuntimeError):
    pass


def compose_property_name(var: str) -> str:
    """``KAFKA_LISTENER_NAME_X_SASL_ENABLED_MECHANISMS`` -> ``listener.name.x.sasl.enabled.mechanisms``
    (the apache/kafka image's rule: ``___`` is ``-``, ``__`` is ``_``, ``_`` is ``.``)."""
    name = var.removeprefix("KAFKA_").lower()
    return re.sub(r"_{1,3}", lambda m: {1: ".", 2: "_", 3: "-"}[len(m.group())], name)


def production_security_properties(compose_file: Path = COMPOSE_FILE) -> dict[str, str]:
    """The security-related broker properties of the compose file's ``x-kafka-env``."""
    env = yaml.safe_load(compose_file.read_text()).get("x-kafka-env") or {}
    props = {
        compose_property_name(key): str(value)
        for key, value in env.items()
        if key.startswith("KAFKA_") and _SECURITY_KEYS.match(key.removeprefix("KAFKA_"))
    }
    if "listeners" not in props or "super.users" not in props:
        raise SecureBrokerError(f"{compose_file}: x-kafka-env has no KAFKA_LISTENERS or KAFKA_SUPER_USERS")
    return props


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the test process dies without stopping it (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


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
        raise SecureBrokerError(f"Maven could not copy org.apache.kafka:kafka-tools:{version}:\n{output[-3000:]}")
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


class SecureBroker:
    """One KRaft node (broker + controller) with the production listeners; see the module docstring."""

    def __init__(self, workdir: Path, *, ready_timeout: float = 60.0) -> None:
        self.workdir = Path(workdir)
        self.ready_timeout = ready_timeout
        self.security = production_security_properties()
        self.super_user = self._super_user()
        self.admin_password = secrets.token_hex(24)
        self.listener_names = [
            entry.split("://", 1)[0].strip() for entry in self.security["listeners"].split(",") if entry.strip()
        ]
        self.ports = {name: free_port() for name in self.listener_names}
        self.process: subprocess.Popen[bytes] | None = None
        self.libs: Path | None = None
        self.tools_jar: Path | None = None

    # -- paths and addresses ---------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / "kafka.log"

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

    def bootstrap(self, listener: str) -> str:
        """``127.0.0.1:<port>`` of the named listener (``CLIENT``, ``EXTERNAL``, ``BROKER`` …)."""
        return f"{HOST}:{self.ports[listener]}"

    def mechanisms(self, listener: str) -> list[str]:
        raw = self.security.get(f"listener.name.{listener.lower()}.sasl.enabled.mechanisms",
                                 self.security.get("sasl.enabled.mechanisms", "GSSAPI"))
        return [m.strip() for m in raw.split(",") if m.strip()]

    def scram_options(self, username: str, password: str, mechanism: str = "SCRAM-SHA-512") -> dict[str, Any]:
        """aiokafka keyword arguments for a SCRAM principal."""
        return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": mechanism,
                "sasl_plain_username": username, "sasl_plain_password": password}

    def admin_options(self) -> dict[str, Any]:
        """aiokafka keyword arguments for the super user (PLAIN, inter-broker listener)."""
        return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
                "sasl_plain_username": self.super_user, "sasl_plain_password": self.admin_password}

    # -- configuration -----------------------------------------------------------

    def _super_user(self) -> str:
        users = [u.strip() for u in self.security["super.users"].split(";") if u.strip().startswith("User:")]
        if not users:
            raise SecureBrokerError("super.users names no User: principal")
        return users[0].removeprefix("User:")

    def server_properties(self) -> dict[str, str]:
        props = dict(self.security)
        controllers = self.controller_listeners
        props.update({
            "node.id": "1",
            "process.roles": "broker,controller",
            "controller.quorum.voters": ",".join(f"1@{HOST}:{self.ports[c]}" for c in sorted(controllers)),
            "listeners": ",".join(f"{n}://{HOST}:{self.ports[n]}" for n in self.listener_names),
            "advertised.listeners": ",".join(
                f"{n}://{HOST}:{self.ports[n]}" for n in self.listener_names if n not in controllers),
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
        })
        return props

    def jaas(self) -> str:
        """One ``<listener>.KafkaServer`` section per SASL listener, as entrypoint.sh writes them."""
        pw = self.admin_password
        user = self.super_user
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
                    raise SecureBrokerError(f"listener {name}: mechanism {mech} is not supported by this helper")
            if modules:
                body = "\n  ".join(dict.fromkeys(modules))
                sections.append(f"{name.lower()}.KafkaServer {{\n  {body}\n}};")
        return "\n".join(sections) + "\n"

    def _write_files(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        body = "\n".join(f"{k}={v}" for k, v in self.server_properties().items())
        (self.workdir / "server.properties").write_text(body + "\n")
        jaas = self.workdir / "kafka_server_jaas.conf"
        jaas.write_text(self.jaas())
        jaas.chmod(0o600)
        (self.workdir / "log4j2.properties").write_text(launcher_kafka.LOG4J2_PROPERTIES)
        (self.workdir / "tools-log4j2.properties").write_text(TOOLS_LOG4J2)
        self._write_tool_wrappers()

    def _write_tool_wrappers(self) -> None:
        assert self.libs is not None and self.tools_jar is not None
        bin_dir = self.kafka_home / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        java = tools.java()
        classpath = f"{self.libs}/*:{self.tools_jar}"
        cds_dir = class_data_dir(java, self.libs, self.tools_jar)
        for script, main_class in (("kafka-configs.sh", CONFIG_COMMAND_CLASS), ("kafka-acls.sh", ACL_COMMAND_CLASS)):
            path = bin_dir / script
            # Like Kafka's bin/kafka-run-class.sh (KAFKA_HEAP_OPTS and KAFKA_OPTS, word-split), plus a
            # class-data-sharing archive made on the first call and reused after, which about halves
            # each call's start-up (acls.sh makes ~30 calls).
            path.write_text(
                "#!/usr/bin/env bash\n"
                f"# {script} stand-in written by tests/support/secure_broker.py: Kafka's own {main_class}\n"
                f'jsa="{cds_dir}/{main_class}.jsa"\n'
                'cds="-XX:SharedArchiveFile=$jsa"\n'
                '[ -s "$jsa" ] || cds="-XX:ArchiveClassesAtExit=$jsa.$$"\n'
                f'"{java}" ${{KAFKA_HEAP_OPTS:--Xmx256m}} {" ".join(TOOL_JVM_OPTS)} "$cds" '
                '-Xlog:disable -Xlog:all=error:stderr '
                f'-Dlog4j2.configurationFile="{self.workdir / "tools-log4j2.properties"}" ${{KAFKA_OPTS:-}} '
                f'-cp "{classpath}" {main_class} "$@"\n'
                "rc=$?\n"
                'if [ -s "$jsa.$$" ]; then mv -f "$jsa.$$" "$jsa"; else rm -f "$jsa.$$"; fi\n'
                "exit $rc\n"
            )
            path.chmod(0o755)

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> "SecureBroker":
        self.libs = launcher_kafka.KafkaBroker().ensure_jars()
        self.tools_jar = ensure_tools_jar()
        self._write_files()
        java = str(tools.java())
        log4j = f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}"
        fmt = subprocess.run(
            [java, "-Xmx128m", *TOOL_JVM_OPTS, log4j, "-cp", f"{self.libs}/*", launcher_kafka.STORAGE_TOOL_CLASS,
             "format", "-t", launcher_kafka.new_cluster_id(), "-c", str(self.workdir / "server.properties"),
             "--ignore-formatted"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )
        if fmt.returncode != 0:
            raise SecureBrokerError(f"kafka-storage format failed:\n{fmt.stdout}\n{fmt.stderr}")
        cmd = [java, *BROKER_HEAP, *BROKER_JVM_OPTS, log4j,
               f"-Djava.security.auth.login.config={self.workdir / 'kafka_server_jaas.conf'}",
               f"-Dkafka.logs.dir={self.workdir}", "-cp", f"{self.libs}/*", launcher_kafka.MAIN_CLASS,
               str(self.workdir / "server.properties")]
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=self.workdir, start_new_session=True, preexec_fn=_die_with_parent)
        try:
            self._wait_ready(started + self.ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, deadline: float) -> None:
        bootstrap = self.bootstrap(self.inter_broker_listener)
        while True:
            if self.process is None or self.process.poll() is not None:
                raise SecureBrokerError(f"the secure broker exited during start-up:\n{proc.tail(self.log_path, 40)}")
            if proc.port_open(HOST, self.ports[self.inter_broker_listener]) and proc.run_coro(
                    lambda: self._metadata_ok(bootstrap), 10.0):
                return
            if time.monotonic() > deadline:
                raise SecureBrokerError(f"the secure broker was not ready in {self.ready_timeout:.0f}s:\n"
                                        f"{proc.tail(self.log_path, 40)}")
            time.sleep(0.3)

    async def _metadata_ok(self, bootstrap: str) -> bool:
        from aiokafka import AIOKafkaClient

        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, **self.admin_options())
        try:
            await asyncio.wait_for(client.bootstrap(), 5.0)
            return bool(client.cluster.brokers())
        except Exception:
            return False
        finally:
            await client.close()

    def stop(self, *, graceful: bool = False, timeout: float = 15.0) -> None:
        """Kill the broker's process group. Its data is thrown away, so by default without the
        ~10 s controlled shutdown; ``graceful=True`` sends SIGTERM first and waits up to ``timeout`` s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        if graceful:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                pass
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def __enter__(self) -> "SecureBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the project's ACL job --------------------------------------------------------

    def run_acl_job(self, env: Mapping[str, str], *, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        """Run ``deploy/compose/kafka/acls.sh`` against this broker (admin over the inter-broker
        listener, as in compose) with ``env`` adding the passwords and principal lists."""
        script_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "TMPDIR": str(self.workdir / "tmp"),
            "SHUANGDA_KAFKA_HOME": str(self.kafka_home),
            "SHUANGDA_KAFKA_ADMIN_BOOTSTRAP": self.bootstrap(self.inter_broker_listener),
            "SHUANGDA_KAFKA_ADMIN_PASSWORD": self.admin_password,
            **env,
        }
        (self.workdir / "tmp").mkdir(exist_ok=True)
        result = subprocess.run(["bash", str(ACL_SCRIPT)], env=script_env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise SecureBrokerError(f"acls.sh exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result
