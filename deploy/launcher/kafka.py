"""Apache Kafka 4.x in KRaft mode: one combined broker + controller (node 1).

* Jars: ``mvn -q -B -f deploy/kafka/pom.xml dependency:copy-dependencies`` into
  ``<cache>/kafka-<version>/libs`` (reused when complete; the version is the
  ``<kafka.version>`` property of ``deploy/kafka/pom.xml``).
* Config: ``<state>/kafka/server.properties`` and ``<state>/kafka/log4j2.properties``
  (INFO to stdout, which goes to ``<state>/logs/kafka.log``), rewritten on each start
  so port overrides apply.
* Storage: formatted once with ``kafka.tools.StorageTool format`` (cluster id kept
  in ``<state>/kafka/cluster.id``); data in ``<state>/kafka/data``.
* Process: ``java -Xms256m -Xmx512m -cp '<libs>/*' kafka.Kafka server.properties`` under
  supervisord (``SHUANGDA_KAFKA_HEAP=384m`` sets another maximum heap).
* Ready when a metadata request through aiokafka returns a broker.

Ports: ``SHUANGDA_KAFKA_PORT`` (9092), ``SHUANGDA_KAFKA_CONTROLLER_PORT`` (9093).
With ``SHUANGDA_KAFKA_BOOTSTRAP`` set, this component is external and never started.
"""
from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Sequence

from deploy.launcher import proc, settings, tools
from deploy.launcher.base import Component
from deploy.launcher.errors import LauncherError

log = logging.getLogger(__name__)

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
HEAP = ("-Xms256m", "-Xmx512m")
JVM_OPTS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)

LOG4J2_PROPERTIES = """\
# Written by the shuangda launcher. Everything goes to stdout, which the
# launcher appends to <state>/logs/kafka.log.
status = warn
name = shuangda-kafka
appender.console.type = Console
appender.console.name = STDOUT
appender.console.target = SYSTEM_OUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
# chatty loggers: one line per partition on every topic create/delete/load, per
# request, per config change. Startup, shutdown, controller and group
# coordinator messages stay at INFO.
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
logger.statechange.name = state.change.logger
logger.statechange.level = warn
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = warn
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = warn
logger.logcleaner.name = kafka.log.LogCleaner
logger.logcleaner.level = warn
logger.storage.name = org.apache.kafka.storage.internals.log
logger.storage.level = warn
logger.logmanager.name = kafka.log.LogManager
logger.logmanager.level = warn
logger.partition.name = kafka.cluster.Partition
logger.partition.level = warn
logger.replication.name = org.apache.kafka.controller.ReplicationControlManager
logger.replication.level = warn
logger.partitionchange.name = org.apache.kafka.controller.PartitionChangeBuilder
logger.partitionchange.level = warn
logger.configcontrol.name = org.apache.kafka.controller.ConfigurationControlManager
logger.configcontrol.level = warn
logger.dynconfig.name = kafka.server.metadata.DynamicConfigPublisher
logger.dynconfig.level = warn
logger.coordruntime.name = org.apache.kafka.coordinator.common.runtime.CoordinatorRuntime
logger.coordruntime.level = warn
logger.replicafetcher.name = kafka.server.ReplicaFetcherManager
logger.replicafetcher.level = warn
logger.replicaalter.name = kafka.server.ReplicaAlterLogDirsManager
logger.replicaalter.level = warn
"""


def pom_path() -> Path:
    return settings.repo_root() / "deploy" / "kafka" / "pom.xml"


def kafka_version() -> str:
    """The ``<kafka.version>`` property of ``deploy/kafka/pom.xml``."""
    text = pom_path().read_text()
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", text)
    if not match:
        raise LauncherError(f"{pom_path()} has no <kafka.version> property")
    return match.group(1)


def libs_dir() -> Path:
    """``<cache>/kafka-<version>/libs``."""
    return settings.cache_dir() / f"kafka-{kafka_version()}" / "libs"


def new_cluster_id() -> str:
    """A random Kafka cluster id: 16 random bytes, URL-safe base64 without padding
    (the form Kafka's ``Uuid`` prints), never starting with ``-``."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class KafkaBroker(Component):
    """The local Kafka broker+controller; see the module docstring."""

    name = "kafka"
    ready_timeout = 120.0
    stop_timeout = 60.0

    # -- paths -----------------------------------------------------------------

    @property
    def home(self) -> Path:
        return settings.state_dir() / "kafka"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def server_properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.home / "log4j2.properties"

    @property
    def cluster_id_file(self) -> Path:
        return self.home / "cluster.id"

    # -- Component ---------------------------------------------------------------

    def external(self) -> str | None:
        return settings.external_kafka()

    def address(self) -> str:
        return settings.local_kafka_bootstrap()

    def matches(self, argv: Sequence[str]) -> bool:
        return MAIN_CLASS in argv and str(self.server_properties) in argv

    def probe(self, timeout: float) -> bool:
        host, port = settings.HOST, settings.port("kafka")
        if not proc.port_open(host, port, timeout=min(timeout, 1.0)):
            return False
        return proc.run_coro(lambda: metadata_ok(f"{host}:{port}", timeout), timeout + 1.0)

    def prepare(self) -> None:
        self._check_ports()
        libs = self.ensure_jars()
        self.write_config()
        self.format_storage(libs)

    startsecs = 5

    def heap(self) -> tuple[str, ...]:
        """``-Xms/-Xmx``: 256m/512m, or ``SHUANGDA_KAFKA_HEAP`` (e.g. ``384m``) as the maximum."""
        raw = os.environ.get("SHUANGDA_KAFKA_HEAP", "").strip()
        if not raw:
            return HEAP
        if not re.fullmatch(r"\d+[mMgG]", raw):
            raise LauncherError(f"SHUANGDA_KAFKA_HEAP={raw!r}: give a size such as 384m or 1g")
        return (f"-Xms{min(256, _mib(raw))}m", f"-Xmx{raw}")

    def command(self) -> list[str]:
        return [
            str(tools.java()),
            *self.heap(),
            *JVM_OPTS,
            f"-Dlog4j2.configurationFile={self.log4j_config}",
            f"-Dkafka.logs.dir={settings.logs_dir()}",
            "-cp",
            f"{libs_dir()}/*",
            MAIN_CLASS,
            str(self.server_properties),
        ]

    def cwd(self) -> Path | None:
        return self.home

    # -- steps ---------------------------------------------------------------------

    def _check_ports(self) -> None:
        for key, var in (("kafka", "SHUANGDA_KAFKA_PORT"), ("kafka_controller", "SHUANGDA_KAFKA_CONTROLLER_PORT")):
            port = settings.port(key)
            if proc.port_open(settings.HOST, port):
                raise LauncherError(
                    f"port {port} is already in use by another process (not a Kafka started by this launcher); "
                    f"stop it, or pick another port with {var}=..., or point at a running broker with "
                    f"SHUANGDA_KAFKA_BOOTSTRAP=host:port"
                )

    def ensure_jars(self) -> Path:
        """Resolve Kafka's runtime jars into the cache unless they are there already."""
        libs = libs_dir()
        marker = libs.parent / ".complete"
        if marker.exists() and any(libs.glob("kafka_2.13-*.jar")):
            return libs
        tools.java()  # fail early, naming java, before a long download
        mvn = tools.maven()
        version = kafka_version()
        staging = libs.parent / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True, exist_ok=True)
        mvn_log = settings.log_file("kafka-maven")
        mvn_log.parent.mkdir(parents=True, exist_ok=True)
        log.info("kafka: resolving Kafka %s jars with Maven into %s (first run only; takes a minute)", version, libs)
        cmd = [str(mvn), "-q", "-B", "-f", str(pom_path()), "dependency:copy-dependencies",
               f"-DoutputDirectory={staging}"]
        with open(mvn_log, "ab") as out:
            out.write(f"\n--- shuangda launcher: {' '.join(cmd)}\n".encode())
            out.flush()
            offset = out.tell()
            result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=str(pom_path().parent))
        if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            tail = proc.tail(mvn_log, 30, since=offset)
            raise LauncherError(f"Maven could not resolve Kafka {version} (log: {mvn_log}):\n{tail}")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        marker.write_text(f"{version}\n")
        return libs

    def render_server_properties(self) -> str:
        host = settings.HOST
        port = settings.port("kafka")
        cport = settings.port("kafka_controller")
        lines = {
            "node.id": "1",
            "process.roles": "broker,controller",
            "controller.quorum.voters": f"1@{host}:{cport}",
            "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "auto.create.topics.enable": "false",
            "num.partitions": "3",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "log.retention.hours": "168",
            "delete.topic.enable": "true",
            # keep the heap (<= 512 MiB) safe with thousands of test partitions: the log cleaner's
            # dedupe buffer defaults to 128 MiB on-heap, and one fetch may default to 55 MiB
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            "log.cleaner.threads": "1",
            "fetch.max.bytes": str(8 * 1024 * 1024),
            "queued.max.requests": "100",
            # smaller segments: less disk and index memory per test partition
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        body = "\n".join(f"{k}={v}" for k, v in lines.items())
        return f"# Written by the shuangda launcher on every start; edit deploy/launcher/kafka.py instead.\n{body}\n"

    def write_config(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.server_properties.write_text(self.render_server_properties())
        self.log4j_config.write_text(LOG4J2_PROPERTIES)

    def is_formatted(self) -> bool:
        return (self.data_dir / "meta.properties").exists()

    def cluster_id(self) -> str:
        try:
            existing = self.cluster_id_file.read_text().strip()
        except FileNotFoundError:
            existing = ""
        if existing:
            return existing
        cid = new_cluster_id()
        self.cluster_id_file.write_text(cid + "\n")
        return cid

    def format_storage(self, libs: Path) -> None:
        """Format the log dir once (``kafka.tools.StorageTool format``)."""
        if self.is_formatted():
            return
        cid = self.cluster_id()
        log.info("kafka: formatting storage in %s (cluster id %s)", self.data_dir, cid)
        cmd = [str(tools.java()), "-Xmx256m", f"-Dlog4j2.configurationFile={self.log4j_config}",
               "-cp", f"{libs}/*", STORAGE_TOOL_CLASS, "format",
               "-t", cid, "-c", str(self.server_properties), "--ignore-formatted"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            out.write(f"\n--- shuangda launcher: {' '.join(cmd)}\n".encode())
            out.flush()
            offset = out.tell()
            result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        if result.returncode != 0 or not self.is_formatted():
            raise LauncherError(f"formatting Kafka storage failed (log: {self.log_path}):\n"
                                f"{proc.tail(self.log_path, 30, since=offset)}")


def _mib(size: str) -> int:
    return int(size[:-1]) * (1024 if size[-1] in "gG" else 1)


async def metadata_ok(bootstrap: str, timeout: float) -> bool:
    """True when a metadata request to ``bootstrap`` returns at least one broker."""
    from aiokafka import AIOKafkaClient  # imported lazily: the CLI's --help stays fast

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=max(1000, int(timeout * 1000)),
                            client_id="shuangda-launcher")
    try:
        await client.bootstrap()
        return bool(client.cluster.brokers())
    except Exception as exc:  # KafkaConnectionError and friends: not ready yet
        log.debug("kafka metadata probe failed: %s", exc)
        return False
    finally:
        await client.close()

