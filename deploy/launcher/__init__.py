"""The local launcher: runs Kafka (KRaft), PostgreSQL, Prometheus and the four
services (one or more instances each) as plain local processes under a supervisord
of its own (:mod:`~deploy.launcher.supervisor`), which restarts whatever dies — no Docker.

Public API
----------
Endpoints (read from the environment on every call)::

    from deploy.launcher import endpoints
    ep = endpoints()          # Endpoints(kafka_bootstrap, pg_dsn, prometheus_url, services, …)
    ep.kafka_bootstrap        # "127.0.0.1:9092" or $SHUANGDA_KAFKA_BOOTSTRAP
    ep.pg_dsn                 # "postgresql://shuangda:shuangda@127.0.0.1:55432/shuangda" or $SHUANGDA_PG_DSN
    ep.prometheus_url         # "http://127.0.0.1:9090"
    ep.services["intake"]     # "http://127.0.0.1:8001"

Whole stack (what ``shuangda up/down/status`` do)::

    from deploy.launcher import up, down, status, ensure_infra
    up(infra_only=True)       # idempotent; list[UpResult]
    up(only=["kafka", "postgres"])
    up(replicas=2)            # two instances per service (ports +10), kept for later ups
    down()                    # stops what the launcher started (every instance), then supervisord
    status(leaders=True)      # list[Status(component, address, state, pid, detail, restarts, leads)]
    ensure_infra()            # up(infra_only=True), then endpoints()

One component (chaos tests)::

    from deploy.launcher import components
    components.POSTGRES.stop(); components.POSTGRES.start()
    components.KAFKA.kill()                                   # SIGKILL; supervisord restarts it
    components.KAFKA.start()                                  # waits until it is ready again
    components.get("intake-1")                                # instance 1 of intake
    components.KAFKA.restart(); components.KAFKA.is_running(); components.KAFKA.pid()
    await components.KAFKA.arestart()                         # async façades: astart/astop/akill/arestart

Profiles (:mod:`~deploy.launcher.profile`): ``dev`` (default: one PLAINTEXT broker, plain
HTTP) or ``secure`` (``up --profile secure``, recorded in the state dir: three SASL_SSL brokers
``kafka-1..3`` with compose's ACLs, one Postgres role per service, HTTPS from a local CA —
:mod:`~deploy.launcher.secure`). ``components.kafka_components()`` / ``infra()`` give the
profile's components; ``settings.client_env()`` what an operator's process needs to reach it.

Modules: :mod:`~deploy.launcher.settings` (paths, ports, endpoints),
:mod:`~deploy.launcher.base` (the component life cycle),
:mod:`~deploy.launcher.kafka`, :mod:`~deploy.launcher.postgres`,
:mod:`~deploy.launcher.prometheus`, :mod:`~deploy.launcher.services`,
:mod:`~deploy.launcher.components` (singletons and stack operations),
:mod:`~deploy.launcher.proc` (process plumbing), :mod:`~deploy.launcher.tools`
(finding/installing programs). Library code logs through :mod:`logging`
(logger names ``deploy.launcher.*``) and never prints.

Environment: ``SHUANGDA_STATE_DIR``, ``SHUANGDA_CACHE_DIR``, ``SHUANGDA_KAFKA_BOOTSTRAP``,
``SHUANGDA_PG_DSN``, ``SHUANGDA_KAFKA_PORT``, ``SHUANGDA_KAFKA_CONTROLLER_PORT``,
``SHUANGDA_PG_PORT``, ``SHUANGDA_PROMETHEUS_PORT``, ``SHUANGDA_<SERVICE>_PORT``,
``SHUANGDA_KAFKA_HEAP`` (the broker's maximum heap, default 512m).
"""
from __future__ import annotations

from deploy.launcher.errors import LauncherError, MissingTool, NotReady
from deploy.launcher.settings import Endpoints, endpoints, state_dir
from deploy.launcher.base import Status
from deploy.launcher import components
from deploy.launcher.components import UpResult, down, ensure_infra, status, up

__all__ = [
    "Endpoints",
    "LauncherError",
    "MissingTool",
    "NotReady",
    "Status",
    "UpResult",
    "components",
    "down",
    "endpoints",
    "ensure_infra",
    "state_dir",
    "status",
    "up",
]
