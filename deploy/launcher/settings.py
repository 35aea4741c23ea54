"""Where things live and which addresses are in effect.

Everything here is read from the environment on every call, so a test or a CLI
verb that changes ``os.environ`` sees the change at once.

Public API
----------
``repo_root() -> Path``
    The repository root (the folder holding ``pyproject.toml``).
``state_dir() -> Path``
    ``$SHUANGDA_STATE_DIR`` or ``<repo>/.shuangda``. Holds ``kafka/``, ``pg/``,
    ``prometheus/``, ``logs/<component>.log`` and ``run/<component>.pid``.
``cache_dir() -> Path``
    ``$SHUANGDA_CACHE_DIR`` or ``~/.cache/shuangda``; Kafka's jars go to
    ``<cache>/kafka-<version>/libs``.
``port(name) -> int``
    The port of ``kafka``, ``kafka_controller``, ``pg``, ``prometheus`` or a service
    (``intake`` 8001, ``routing`` 8002, ``notify`` 8003, ``credit`` 8004, ``console`` 8005, ``custody`` 8006,
    ``appraisal`` 8007, ``inspection`` 8008) or ``intake_worker`` (8009, intake's worker process), each
    overridable by ``SHUANGDA_<NAME>_PORT`` (for services also
    ``SHUANGDA_<NAME>_HTTP_PORT``, the variable the services' own settings read).
``replicas() -> int`` / ``instance_port(name, i) -> int``
    Instances per service (``up --replicas N`` records it in ``<state>/run/replicas``) and
    instance *i*'s port (the service's port + 10·*i*).
``endpoints() -> Endpoints``
    The Kafka bootstrap, Postgres DSN, Prometheus URL and service URLs in effect:
    ``SHUANGDA_KAFKA_BOOTSTRAP`` / ``SHUANGDA_PG_DSN`` when set (external), else
    the local launcher's.
``external_kafka() / external_pg() -> str | None``
    The external endpoint when the environment names one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from deploy.launcher.errors import LauncherError

HOST = "127.0.0.1"

#: Default local ports (DESIGN.md, "Conventions").
DEFAULT_PORTS: dict[str, int] = {
    "kafka": 9092,
    "kafka_controller": 9093,
    "pg": 55432,
    "prometheus": 9090,
    "intake": 8001,
    "routing": 8002,
    "notify": 8003,
    "credit": 8004,
    "console": 8005,
    "custody": 8006,
    "appraisal": 8007,
    "inspection": 8008,
    #: intake's worker process (role worker: consumers; only /metrics, /healthz, /readyz)
    "intake_worker": 8009,
}

#: The services, in start order (the console last: it calls the others).
SERVICE_NAMES: tuple[str, ...] = ("intake", "routing", "notify", "credit", "custody", "appraisal", "inspection",
                                  "console")

#: Dev-mode credentials of the local cluster (never used outside dev mode).
PG_USER = "shuangda"
PG_PASSWORD = "shuangda"
PG_DATABASE = "shuangda"


def repo_root() -> Path:
    """The repository root: two levels above this package (``deploy/launcher``)."""
    return Path(__file__).resolve().parent.parent.parent


def state_dir() -> Path:
    """``$SHUANGDA_STATE_DIR`` or ``<repo>/.shuangda``, as an absolute path."""
    raw = os.environ.get("SHUANGDA_STATE_DIR")
    path = Path(raw).expanduser() if raw else repo_root() / ".shuangda"
    return path.absolute()


def cache_dir() -> Path:
    """``$SHUANGDA_CACHE_DIR`` or ``~/.cache/shuangda``."""
    raw = os.environ.get("SHUANGDA_CACHE_DIR")
    path = Path(raw).expanduser() if raw else Path.home() / ".cache" / "shuangda"
    return path.absolute()


def logs_dir() -> Path:
    return state_dir() / "logs"


def run_dir() -> Path:
    return state_dir() / "run"


def log_file(component: str) -> Path:
    """``<state>/logs/<component>.log``."""
    return logs_dir() / f"{component}.log"


def pid_file(component: str) -> Path:
    """``<state>/run/<component>.pid``."""
    return run_dir() / f"{component}.pid"


def replicas() -> int:
    """Instances per service (``<state>/run/replicas``, written by ``up --replicas N``; default 1)."""
    try:
        return max(1, int((run_dir() / "replicas").read_text().strip()))
    except (FileNotFoundError, ValueError):
        return 1


def set_replicas(n: int) -> None:
    run_dir().mkdir(parents=True, exist_ok=True)
    (run_dir() / "replicas").write_text(f"{n}\n")


def instance_port(name: str, instance: int) -> int:
    """A service instance's port: the service's port + 10·instance."""
    return port(name) + 10 * instance


def port(name: str) -> int:
    """The port for ``name`` (see :data:`DEFAULT_PORTS`), honouring env overrides."""
    if name not in DEFAULT_PORTS:
        raise KeyError(name)
    candidates = [f"SHUANGDA_{name.upper()}_PORT"]
    if name in SERVICE_NAMES:
        candidates.append(f"SHUANGDA_{name.upper()}_HTTP_PORT")
    for var in candidates:
        raw = os.environ.get(var)
        if raw:
            try:
                value = int(raw)
            except ValueError:
                raise LauncherError(f"{var}={raw!r} is not a port number") from None
            if not 0 < value < 65536:
                raise LauncherError(f"{var}={raw!r} is not a port number")
            return value
    return DEFAULT_PORTS[name]


#: what :func:`apply_client_env` put into this process's environment (not an external stack)
_APPLIED: dict[str, str] = {}


def external_kafka() -> str | None:
    """``$SHUANGDA_KAFKA_BOOTSTRAP`` when set (and not by :func:`apply_client_env`): the launcher then
    starts no Kafka."""
    value = os.environ.get("SHUANGDA_KAFKA_BOOTSTRAP") or None
    if value is not None and _APPLIED.get("SHUANGDA_KAFKA_BOOTSTRAP") == value:
        return None
    return value


def external_pg() -> str | None:
    """``$SHUANGDA_PG_DSN`` when set: the launcher then starts no Postgres."""
    return os.environ.get("SHUANGDA_PG_DSN") or None


def pg_owner_password() -> str:
    """The owner role's password: ``shuangda`` on the dev profile, generated on the secure one."""
    from deploy.launcher import profile

    return profile.credentials().pg_owner if profile.is_secure() else PG_PASSWORD


def local_pg_dsn(role: str | None = None) -> str:
    """The launcher's Postgres as the owner role, or (secure profile) as a service's login role."""
    if role is not None:
        from deploy.launcher import profile

        return f"postgresql://{role}:{profile.credentials().pg[role]}@{HOST}:{port('pg')}/{PG_DATABASE}"
    return f"postgresql://{PG_USER}:{pg_owner_password()}@{HOST}:{port('pg')}/{PG_DATABASE}"


def local_kafka_bootstrap() -> str:
    """The bootstrap of the launcher's Kafka: the one broker (dev), or the operator's listener of
    every node (secure: the super user's SASL_SSL listener, see :func:`client_env`)."""
    from deploy.launcher import profile

    if profile.is_secure():
        from deploy.launcher import secure

        config = secure.cluster()
        return config.bootstrap(config.inter_broker_listener)
    return f"{HOST}:{port('kafka')}"


def http_scheme() -> str:
    from deploy.launcher import profile

    return "https" if profile.is_secure() else "http"


def ca_file() -> str | None:
    """The CA an HTTP or Kafka client verifies the launcher's stack against (secure profile)."""
    from deploy.launcher import profile

    if not profile.is_secure():
        return None
    from deploy.launcher import secure

    return str(secure.tls().ca_file)


def client_env() -> dict[str, str]:
    """What an operator's process (a CLI verb, the chaos run, a test) needs in its environment
    to reach the launcher's stack: nothing on the dev profile; on the secure one the Kafka super
    user's ``SHUANGDA_KAFKA_*`` settings (SASL_SSL, the CA) and the replication factor."""
    from deploy.launcher import profile

    if not profile.is_secure() or external_kafka():
        return {}
    from deploy.launcher import secure

    return secure.cluster().admin_env()


def migrate_client_env() -> dict[str, str]:
    """The ``SHUANGDA_KAFKA_*`` settings migrations reach Kafka with: nothing on the dev profile
    (or an external broker); on the secure one the ``migrate`` SCRAM principal on the services'
    listener, which acls.sh lets create and configure topics and nothing else (compose's
    ``migrate`` job uses the same principal)."""
    from deploy.launcher import profile

    if not profile.is_secure() or external_kafka():
        return {}
    from deploy.launcher import secure

    return secure.cluster().client_env("migrate", profile.credentials().kafka["migrate"])


def apply_client_env() -> dict[str, str]:
    """Put :func:`client_env` into ``os.environ`` (the CLI does, for every verb), so that what this
    process builds from ``shared.config.StackSettings`` reaches the secure stack."""
    env = client_env()
    os.environ.update(env)
    _APPLIED.update(env)
    return env


def prometheus_url() -> str:
    return f"http://{HOST}:{port('prometheus')}"


def service_url(name: str) -> str:
    return f"{http_scheme()}://{HOST}:{port(name)}"


@dataclass(frozen=True)
class Endpoints:
    """The addresses in effect (external ones when the environment names them)."""

    kafka_bootstrap: str
    pg_dsn: str
    prometheus_url: str
    #: service name -> base URL (``http://127.0.0.1:8001`` …; ``https://`` on the secure profile)
    services: dict[str, str] = field(default_factory=dict)
    kafka_external: bool = False
    pg_external: bool = False
    #: ``dev`` or ``secure`` (deploy.launcher.profile)
    profile: str = "dev"
    #: the CA the stack's TLS certificates are checked against (secure profile)
    ca_file: str | None = None


def endpoints() -> Endpoints:
    """Return the endpoints in effect; see the module docstring."""
    kafka = external_kafka()
    pg = external_pg()
    return Endpoints(
        kafka_bootstrap=kafka or local_kafka_bootstrap(),
        pg_dsn=pg or local_pg_dsn(),
        prometheus_url=prometheus_url(),
        services={name: service_url(name) for name in SERVICE_NAMES},
        kafka_external=kafka is not None,
        pg_external=pg is not None,
        profile=_profile(),
        ca_file=ca_file(),
    )


def _profile() -> str:
    from deploy.launcher import profile

    return profile.current()
