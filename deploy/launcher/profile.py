"""The stack's profile: ``dev`` (the default) or ``secure``, kept in the state dir.

``shuangda up --profile secure`` records ``secure`` in ``<state>/profile``; every later verb
(``status``, ``down``, ``chaos``, ``demo``, ``keys``, ``migrate``, ``logs``) reads it from there,
so the flag is given once. A state dir holds one profile: switching an existing stack is refused
(use another ``SHUANGDA_STATE_DIR``).

dev
    One PLAINTEXT broker, the Postgres superuser ``shuangda``/``shuangda`` for everything, plain
    HTTP on loopback.
secure
    Production's shape on one machine (:mod:`deploy.launcher.secure`): three KRaft brokers on
    SASL_SSL with SCRAM-SHA-512 users and the ACLs of ``deploy/compose/kafka/acls.sh``, one
    Postgres login role per service and the console (``deploy/compose/postgres/init-roles.sh``), every service's HTTP
    API over TLS, all certificates from one local CA. Migrations reach Kafka as the ``migrate``
    principal (topic creation only), as compose's ``migrate`` job does. Passwords are generated on first use into
    ``<state>/secure/credentials.json`` (mode 600) and never printed.

Public API: ``current() -> str``, ``is_secure() -> bool``, ``choose(name)`` (record, refusing a
switch), ``credentials() -> Credentials``, ``outside_client(name) -> str`` / ``outside_clients()``
(outside Kafka publishers recorded in the state dir, granted by the ACL job).
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from deploy.launcher import settings
from deploy.launcher.errors import LauncherError

DEV = "dev"
SECURE = "secure"
PROFILES = (DEV, SECURE)

#: Kafka SCRAM principals acls.sh creates for the services and the console, plus ``migrate``
KAFKA_SERVICE_PRINCIPALS = ("intake", "routing", "notify", "credit", "custody", "appraisal", "inspection", "console")
#: services with a Postgres login role of their own (deploy/compose/postgres/init-roles.sh)
PG_SERVICE_ROLES = ("intake", "routing", "notify", "credit", "custody", "appraisal", "inspection", "console")


def profile_file() -> Path:
    return settings.state_dir() / "profile"


def current() -> str:
    """The state dir's profile (``dev`` when none was recorded)."""
    try:
        name = profile_file().read_text().strip()
    except FileNotFoundError:
        return DEV
    return name if name in PROFILES else DEV


def is_secure() -> bool:
    return current() == SECURE


def _has_stack() -> bool:
    state = settings.state_dir()
    return any((state / d).exists() for d in ("kafka", "kafka-1", "pg"))


def choose(name: str | None) -> str:
    """Record ``name`` as this state dir's profile (None: keep what is recorded). A state dir
    that already holds a stack of the other profile is refused."""
    if name is None:
        return current()
    if name not in PROFILES:
        raise LauncherError(f"--profile {name!r}: one of {', '.join(PROFILES)}")
    recorded = current() if profile_file().exists() else None
    if recorded == name:
        return name
    if (recorded is not None or _has_stack()) and (recorded or DEV) != name:
        raise LauncherError(
            f"{settings.state_dir()} holds a {recorded or DEV} stack; the {name} profile needs a state dir of its own "
            f"(SHUANGDA_STATE_DIR=...), or `shuangda down` and remove {settings.state_dir()} first")
    profile_file().parent.mkdir(parents=True, exist_ok=True)
    profile_file().write_text(name + "\n")
    return name


# -- credentials -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """The secure profile's passwords (16+ characters of [A-Za-z0-9], as compose demands)."""

    kafka_admin: str
    #: Kafka SCRAM password per principal (services and ``migrate``)
    kafka: dict[str, str]
    #: the Postgres owner role ``shuangda`` (migrations, operators)
    pg_owner: str
    #: Postgres login role password per service
    pg: dict[str, str]

    def acl_env(self) -> dict[str, str]:
        """The variables acls.sh reads (as compose's ``kafka-acls`` service passes them)."""
        env = {f"SHUANGDA_KAFKA_{p.upper()}_PASSWORD": pw for p, pw in self.kafka.items()}
        env["SHUANGDA_KAFKA_ADMIN_PASSWORD"] = self.kafka_admin
        return env

    def roles_env(self) -> dict[str, str]:
        """The variables the roles script reads (as compose's ``postgres`` service passes them)."""
        return {f"SHUANGDA_PG_{s.upper()}_PASSWORD": pw for s, pw in self.pg.items()}


def credentials_file() -> Path:
    return settings.state_dir() / "secure" / "credentials.json"


def _new() -> str:
    return secrets.token_hex(24)


def credentials() -> Credentials:
    """The secure profile's passwords, generated once into ``<state>/secure/credentials.json``."""
    path = credentials_file()
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raw = {}
    changed = False
    raw.setdefault("kafka_admin", None)
    if not raw["kafka_admin"]:
        raw["kafka_admin"], changed = _new(), True
    for group, names in (("kafka", (*KAFKA_SERVICE_PRINCIPALS, "migrate")), ("pg", PG_SERVICE_ROLES)):
        table = raw.setdefault(group, {})
        for n in names:
            if not table.get(n):
                table[n], changed = _new(), True
    if not raw.get("pg_owner"):
        raw["pg_owner"], changed = _new(), True
    if changed:
        _write(path, raw)
    return Credentials(raw["kafka_admin"], dict(raw["kafka"]), raw["pg_owner"], dict(raw["pg"]))


def _write(path: Path, raw: dict) -> None:  # type: ignore[type-arg]
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(raw, fh, indent=1, sort_keys=True)
    tmp.replace(path)


def outside_clients() -> dict[str, str]:
    """The outside Kafka publishers recorded in this state dir (``shuangda demo``'s simulated monitor),
    name → SCRAM password: acls.sh gives each one its own ``ingress.<name>`` (deploy.launcher.secure)."""
    try:
        raw = json.loads(credentials_file().read_text())
    except FileNotFoundError:
        return {}
    return dict(raw.get("clients") or {})


def outside_client(name: str) -> str:
    """The SCRAM password of outside client `name`, recorded (mode 600, with the other credentials)
    on first use, so every later ``up`` grants it its ingress topic (the ACL job runs again once)."""
    credentials()  # the file exists, with its mode
    path = credentials_file()
    raw = json.loads(path.read_text())
    clients = raw.setdefault("clients", {})
    if not clients.get(name):
        clients[name] = _new()
        _write(path, raw)
    return str(clients[name])
