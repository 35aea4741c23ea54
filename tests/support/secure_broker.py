"""A throwaway single-node Kafka secured the way production is, for ACL tests.

One node of `tests.support.secure_cluster.SecureCluster` (the launcher's configuration,
``deploy/launcher/secure.py``) without TLS: production's listeners with ``SASL_PLAINTEXT``,
as ``docker-compose.yml`` declares them, the StandardAuthorizer denying by default, the super
user on PLAIN and SCRAM users and ACLs made by ``deploy/compose/kafka/acls.sh`` (`run_acl_job`).

Usage::

    with SecureBroker(tmp_path) as broker:
        broker.run_acl_job(env)                       # users + ACLs
        opts = broker.scram_options("alice", "pw")     # aiokafka kwargs
        AIOKafkaConsumer(bootstrap_servers=broker.bootstrap("EXTERNAL"), **opts)
"""
from __future__ import annotations

from pathlib import Path

from deploy.launcher.secure import ACL_SCRIPT, COMPOSE_FILE, HOST, SecureClusterError, compose_property_name  # noqa: F401
from deploy.launcher.secure import production_security_properties  # noqa: F401
from tests.support.secure_cluster import SecureCluster

SecureBrokerError = SecureClusterError


class SecureBroker(SecureCluster):
    """One KRaft node (broker + controller) with the production listeners, without TLS."""

    def __init__(self, workdir: Path, *, ready_timeout: float = 60.0) -> None:
        super().__init__(workdir, nodes=1, tls=False, ready_timeout=ready_timeout)

    @property
    def ports(self) -> dict[str, int]:
        return self.nodes[0].ports

    @property
    def process(self):  # noqa: ANN201
        return self.nodes[0].process
