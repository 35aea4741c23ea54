"""A throwaway multi-node Kafka secured and replicated the way production is.

`SecureCluster(workdir, nodes=3)` starts N KRaft nodes in a temporary directory, on free
loopback ports, and stops them again. It never touches a launcher's brokers.

Everything about the cluster's configuration is the launcher's (``deploy/launcher/secure.py``,
the one implementation, which the secure profile ``shuangda up --profile secure`` runs under
supervisord): production's security and durability settings read from ``docker-compose.yml``,
TLS material from a local CA (``tls=True``, the default; every ``SASL_PLAINTEXT`` listener
becomes ``SASL_SSL``), the JAAS file, the tool wrappers, and the SCRAM users and ACLs made by
``deploy/compose/kafka/acls.sh`` (`run_acl_job`). Only the processes are this harness's: plain
children that die with the test process, so a failed test leaves nothing running.

`kill(node)` SIGKILLs one node; `start_node(node)` brings it back on the same ports and data.

Usage::

    with SecureCluster(tmp_path, nodes=3) as cluster:
        cluster.run_acl_job(env)                          # users + ACLs (acls.sh)
        kafka = cluster.connection("intake", pw)          # a shared.kafka.KafkaConnection
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Mapping

from deploy.launcher import kafka as launcher_kafka
from deploy.launcher import proc
from deploy.launcher.secure import (HOST, ClusterConfig, NodeSpec, SecureClusterError, TlsMaterial,  # noqa: F401
                                    die_with_parent, ensure_tools_jar, free_port, production_durability_properties,
                                    production_security_properties, tls_material, write_tool_wrappers)
from shared.kafka import KafkaConnection

__all__ = ["HOST", "SecureCluster", "SecureClusterError", "TlsMaterial", "tls_material"]


def default_heap() -> str:
    """``-Xmx`` of each node: ``SHUANGDA_KAFKA_HEAP`` (e.g. ``256m``), default 256m."""
    return os.environ.get("SHUANGDA_KAFKA_HEAP") or "256m"


class Node(NodeSpec):
    process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class SecureCluster:
    """N KRaft nodes with production's listeners, authorizer and replication; see the module docstring."""

    def __init__(self, workdir: Path, *, nodes: int = 3, tls: bool = True, heap: str | None = None,
                 ready_timeout: float = 90.0) -> None:
        self.workdir = Path(workdir)
        self.heap = heap or default_heap()
        self.ready_timeout = ready_timeout
        self.use_tls = tls
        listeners = ClusterConfig.listener_names_of(production_security_properties())
        self.nodes = [Node(i, self.workdir / f"node-{i}", {n: free_port() for n in listeners})
                      for i in range(1, nodes + 1)]
        self.admin_password = secrets.token_hex(24)
        self.config = ClusterConfig(self.nodes, admin_password=self.admin_password, tls=None)
        self.cluster_id = launcher_kafka.new_cluster_id()
        self.libs: Path | None = None
        #: seconds the last `start` took until every node served metadata
        self.start_seconds: float | None = None

    # -- the configuration (the launcher's) -------------------------------------------------------

    @property
    def security(self) -> dict[str, str]:
        return self.config.security

    @property
    def durability(self) -> dict[str, str]:
        return self.config.durability

    @property
    def listener_names(self) -> list[str]:
        return self.config.listener_names

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def kafka_home(self) -> Path:
        return self.workdir / "kafka-home"

    @property
    def inter_broker_listener(self) -> str:
        return self.config.inter_broker_listener

    @property
    def ca_file(self) -> str | None:
        return self.config.ca_file

    def protocol(self, listener: str) -> str:
        return self.config.protocol(listener)

    def bootstrap(self, listener: str) -> str:
        return self.config.bootstrap(listener)

    def mechanisms(self, listener: str) -> list[str]:
        return self.config.mechanisms(listener)

    def server_properties(self, node: Node) -> dict[str, str]:
        return self.config.server_properties(node)

    def connection(self, username: str, password: str, *, listener: str = "CLIENT",
                   mechanism: str = "SCRAM-SHA-512") -> KafkaConnection:
        return self.config.connection(username, password, listener=listener, mechanism=mechanism)

    def admin_connection(self) -> KafkaConnection:
        return self.config.admin_connection()

    def settings_env(self, username: str, password: str, *, listener: str = "CLIENT") -> dict[str, str]:
        """The ``SHUANGDA_KAFKA_*`` variables a service process needs to reach this cluster as `username`."""
        return self.config.client_env(username, password, listener=listener)

    def scram_options(self, username: str, password: str, mechanism: str = "SCRAM-SHA-512",
                      listener: str = "CLIENT") -> dict[str, Any]:
        """aiokafka keyword arguments (without the bootstrap) for a SCRAM principal."""
        options = self.connection(username, password, listener=listener, mechanism=mechanism).options()
        options.pop("bootstrap_servers")
        return options

    def admin_options(self) -> dict[str, Any]:
        options = self.admin_connection().options()
        options.pop("bootstrap_servers")
        return options

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> "SecureCluster":
        started = time.monotonic()
        self.libs = launcher_kafka.KafkaBroker().ensure_jars()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.use_tls:
            self.config = ClusterConfig(self.nodes, admin_password=self.admin_password,
                                        tls=tls_material(self.workdir / "tls", [n.node_id for n in self.nodes]))
        write_tool_wrappers(self.kafka_home, self.libs, ensure_tools_jar())
        try:
            for node in self.nodes:
                self.config.write_node_files(node)
                self.config.format(node, self.libs, self.cluster_id)
            for node in self.nodes:
                self._launch(node)
            self.wait_healthy(started + self.ready_timeout)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        return self

    def _launch(self, node: Node) -> None:
        assert self.libs is not None
        with open(node.log_path, "ab") as log:
            node.process = subprocess.Popen(self.config.command(node, self.libs, self.heap), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, cwd=node.workdir,
                                            start_new_session=True, preexec_fn=die_with_parent)

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
        return await self.config.broker_count()

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
            self.config.write_node_files(node)
            self._launch(node)

    def stop(self, *, graceful: bool = False, timeout: float = 15.0) -> None:
        """Kill every node's process group (the data is thrown away); ``graceful``: SIGTERM first."""
        for node in self.nodes:
            if graceful and node.running:
                assert node.process is not None
                os.killpg(node.process.pid, signal.SIGTERM)
                try:
                    node.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
            self.kill(node.node_id)

    def __enter__(self) -> "SecureCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the project's ACL job -----------------------------------------------------------------

    def run_acl_job(self, env: Mapping[str, str], *, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
        """Run ``deploy/compose/kafka/acls.sh`` against this cluster (the launcher's ACL job)."""
        return self.config.run_acl_job(self.kafka_home, env, workdir=self.workdir, timeout=timeout)
