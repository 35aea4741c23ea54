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
    (``intake`` 8001, ``routing`` 8002, ``notify`` 8003, ``credit`` 8004, ``console`` 8005, ``custody`` 8006), each
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
}

#: The services, in start order (the console last: it calls the others).
SERVICE_NAMES: tuple[str, ...] = ("intake", "routing", "notify", "credit", "custody", "console")

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


def external_kafka() -> str | None:
    """``$SHUANGDA_KAFKA_BOOTSTRAP`` when set: the launcher then starts no Kafka."""
    return os.environ.get("SHUANGDA_KAFKA_BOOTSTRAP") or None


def external_pg() -> str | None:
    """``$SHUANGDA_PG_DSN`` when set: the launcher then starts no Postgres."""
    return os.environ.get("SHUANGDA_PG_DSN") or None


def local_kafka_bootstrap() -> str:
    return f"{HOST}:{port('kafka')}"


def local_pg_dsn() -> str:
    return f"postgresql://{PG_USER}:{PG_PASSWORD}@{HOST}:{port('pg')}/{PG_DATABASE}"


def prometheus_url() -> str:
    return f"http://{HOST}:{port('prometheus')}"


def service_url(name: str) -> str:
    return f"http://{HOST}:{port(name)}"


@dataclass(frozen=True)
class Endpoints:
    """The addresses in effect (external ones when the environment names them)."""

    kafka_bootstrap: str
    pg_dsn: str
    prometheus_url: str
    #: service name -> base URL (``http://127.0.0.1:8001`` …)
    services: dict[str, str] = field(default_factory=dict)
    kafka_external: bool = False
    pg_external: bool = False


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
    )
