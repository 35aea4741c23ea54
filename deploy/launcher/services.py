"""The project's own Python services (intake, routing, notify, credit, custody, appraisal,
inspection, console), one or more
instances each.

A service exists when ``services/<name>/__main__.py`` exists. Each instance is one
supervisord program running ``<sys.executable> -m services.<name>`` from the repo root.
Instance 0 is called ``<name>`` (log ``<state>/logs/<name>.log``); instance *i* >= 1 is
``<name>-<i>`` (log ``<name>-<i>.log``) and listens on the service's port + 10·*i*
(intake 8001, 8011, 8021 …; routing 8002, 8012 …). All instances of a service share its
consumer group and schema; the singleton jobs (outbox relay, deadline watch, scheduler)
run in whichever instance holds their advisory lock (shared.runtime.leader).

Its environment: the launcher's ``SHUANGDA_*``/``PYTHON*`` variables (and ``PATH``,
``HOME``, ``VIRTUAL_ENV``, ``JAVA_HOME``, locale) plus:

``SHUANGDA_KAFKA_BOOTSTRAP``, ``SHUANGDA_PG_DSN``
    the endpoints in effect (:func:`deploy.launcher.settings.endpoints`);
``SHUANGDA_STATE_DIR``
    the launcher's state dir;
``SHUANGDA_<NAME>_PORT`` and ``SHUANGDA_<NAME>_HTTP_PORT``
    its HTTP port (intake 8001, routing 8002, notify 8003, credit 8004; + 10·instance);
``SHUANGDA_INSTANCE``
    the instance number (``0``, ``1`` …): leaders name themselves
    ``<service>/<instance>/<job>`` in Postgres (``application_name``), which ``shuangda
    status`` reads;
``SHUANGDA_DEV=true``
    unless already set: the launcher runs a development stack;
``PYTHONUNBUFFERED=1``;
``SHUANGDA_NOTIFY_CONSOLE_PUBLIC_URL`` (notify only, unless already set)
    this stack's console, the address complainants' SMS links point to.

``SHUANGDA_<NAME>_ROLE``
    ``api`` or ``worker`` for a service that runs split (:data:`SPLIT`): intake runs as two
    components, ``intake`` (role ``api``: the HTTP API and the relay, so a complaint is never
    answered behind an ingress batch) and ``intake-worker`` (role ``worker``: the consumers, with
    only the ops routes ``/metrics``, ``/healthz``, ``/readyz`` on its own port, 8009 + 10·*i*,
    ``SHUANGDA_INTAKE_WORKER_PORT``); every other service runs as one process (role ``all``);

Output goes to ``<state>/logs/<name>.log``; ready when ``GET /readyz`` answers 200.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

from deploy.launcher import proc, settings
from deploy.launcher.base import Component
from deploy.launcher.errors import LauncherError


#: ports of instance i: the service's port + PORT_STRIDE * i
PORT_STRIDE = 10

#: variables other than SHUANGDA_* / PYTHON* a service instance is given
PASSED_ENV = ("PATH", "HOME", "VIRTUAL_ENV", "JAVA_HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER",
              "LOGNAME", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
              "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


#: services the launcher runs as an ``api`` and a ``worker`` component (their wiring declares the split)
SPLIT = ("intake",)


def instance_name(service: str, instance: int) -> str:
    return service if instance == 0 else f"{service}-{instance}"


class Service(Component):
    """One instance of a service (or of one role of a split service: ``role`` ``api``/``worker``);
    ``module``/``root``/``port`` exist so tests can point it at a stand-in module."""

    ready_timeout = 60.0
    stop_timeout = 20.0

    def __init__(self, name: str, module: str | None = None, root: Path | None = None,
                 port: int | None = None, instance: int = 0, role: str | None = None) -> None:
        if role not in (None, "api", "worker"):
            raise ValueError(f"role: api, worker or None, not {role!r}")
        self.service = name
        self.role = role
        self.instance = instance
        #: the component's base name: the service's, ``<service>-worker`` for its worker role
        self.component = f"{name}-worker" if role == "worker" else name
        self.name = instance_name(self.component, instance)
        self.module = module or f"services.{name}"
        self._root = root
        self._port = port

    def replica(self, instance: int) -> "Service":
        """Instance ``instance`` of the same service."""
        return Service(self.service, module=self.module, root=self._root, port=self._port, instance=instance,
                       role=self.role)

    @property
    def root(self) -> Path:
        return self._root or settings.repo_root()

    @property
    def main_file(self) -> Path:
        return self.root.joinpath(*self.module.split(".")) / "__main__.py"

    def port(self) -> int:
        if self._port is not None:
            base = self._port
        else:
            base = settings.port(f"{self.service}_worker" if self.role == "worker" else self.service)
        return base + PORT_STRIDE * self.instance

    def exists(self) -> bool:
        return self.main_file.exists()

    def absent_reason(self) -> str:
        try:
            shown = self.main_file.relative_to(settings.repo_root())
        except ValueError:
            shown = self.main_file
        return f"{shown} does not exist"

    def address(self) -> str:
        return f"{settings.http_scheme()}://{settings.HOST}:{self.port()}"

    def matches(self, argv: Sequence[str]) -> bool:
        for i, arg in enumerate(argv[:-1]):
            if arg == "-m" and argv[i + 1] == self.module:
                return True
        return False

    def probe(self, timeout: float) -> bool:
        return proc.http_status(f"{self.address()}/readyz", timeout, cafile=settings.ca_file()) == 200

    def command(self) -> list[str]:
        return [sys.executable, "-m", self.module]

    def cwd(self) -> Path | None:
        return self.root

    def environment(self) -> Mapping[str, str]:
        ep = settings.endpoints()
        env = {k: v for k, v in os.environ.items()
               if k.startswith(("SHUANGDA_", "PYTHON")) or k in PASSED_ENV}
        upper = self.service.upper()
        env.update({
            "SHUANGDA_KAFKA_BOOTSTRAP": ep.kafka_bootstrap,
            "SHUANGDA_PG_DSN": ep.pg_dsn,
            "SHUANGDA_STATE_DIR": str(settings.state_dir()),
            f"SHUANGDA_{upper}_PORT": str(self.port()),
            f"SHUANGDA_{upper}_HTTP_PORT": str(self.port()),
            "SHUANGDA_INSTANCE": str(self.instance),
            "PYTHONUNBUFFERED": "1",
        })
        if self.role is not None:
            env[f"SHUANGDA_{upper}_ROLE"] = self.role
        env.setdefault("SHUANGDA_DEV", "true")
        from deploy.launcher import profile

        if profile.is_secure():
            env.update(self.secure_environment())
        if self.service == "notify":  # complainants' SMS link to this stack's own console (its port may be moved)
            scheme = "https" if profile.is_secure() else "http"
            env.setdefault("SHUANGDA_NOTIFY_CONSOLE_PUBLIC_URL", f"{scheme}://{settings.HOST}:{settings.port('console')}")
        return env

    def secure_environment(self) -> dict[str, str]:
        """The secure profile's settings of this service, in its own ``SHUANGDA_<NAME>_`` variables
        (they win over the project-wide ones a caller may have exported): its own Kafka SCRAM
        principal on SASL_SSL, its own Postgres login role, HTTPS with the local CA's certificate,
        and that CA trusted by its HTTP clients (``SSL_CERT_FILE``: the system's CAs plus the local one)."""
        from deploy.launcher import profile, secure

        upper = self.service.upper()
        creds = profile.credentials()
        material = secure.tls()
        env: dict[str, str] = {"SSL_CERT_FILE": str(material.trust_bundle)}
        if not settings.external_kafka():
            config = secure.cluster()
            principal = self.service if self.service in creds.kafka else None
            if principal is not None:
                client = config.client_env(principal, creds.kafka[principal])
            else:  # a service without a principal of its own in acls.sh: no Kafka rights at all
                client = config.client_env(self.service, "no-principal-" + "0" * 16)
            env.update(client)
            env.update({k.replace("SHUANGDA_", f"SHUANGDA_{upper}_", 1): v for k, v in client.items()})
        if not settings.external_pg() and self.service in creds.pg:
            env[f"SHUANGDA_{upper}_PG_DSN"] = settings.local_pg_dsn(self.service)
        env[f"SHUANGDA_{upper}_HTTP_TLS_CERTFILE"] = str(material.server_cert)
        env[f"SHUANGDA_{upper}_HTTP_TLS_KEYFILE"] = str(material.server_key)
        if self.service == "console":
            env["SHUANGDA_CONSOLE_ROUTING_URL"] = f"https://{settings.HOST}:{settings.port('routing')}"
            env["SHUANGDA_CONSOLE_INTAKE_URL"] = f"https://{settings.HOST}:{settings.port('intake')}"
            env["SHUANGDA_CONSOLE_CREDIT_URL"] = f"https://{settings.HOST}:{settings.port('credit')}"
            for called in ("notify", "custody", "appraisal", "inspection"):
                env[f"SHUANGDA_CONSOLE_{called.upper()}_URL"] = f"https://{settings.HOST}:{settings.port(called)}"
        return env

    def prepare(self) -> None:
        if not self.exists():
            raise LauncherError(f"{self.name} cannot be started: {self.absent_reason()}")
        if proc.port_open(settings.HOST, self.port()):
            raise LauncherError(
                f"port {self.port()} is already in use by another process (not the {self.name} service started "
                f"by this launcher); stop it or pick another port with SHUANGDA_{self.service.upper()}_PORT=..."
            )
