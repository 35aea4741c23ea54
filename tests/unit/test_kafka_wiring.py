"""Every Kafka client of every service carries the security settings (issue 10 §1).

Two checks:

* **The wiring walk.** Each service's ``wiring.build`` runs with settings for a secured
  cluster (SASL_SSL, SCRAM-SHA-512, a CA file, RF 3). Nothing connects to Kafka while
  building, so the brokers and password are fake; Postgres is the shared one (a pool
  and the identity directory are opened, nothing is queried). Then everything the
  returned ``Parts`` holds is walked: components, loops, closers, the HTTP app and its
  routes' closures. Every `shared.kafka.KafkaConnection` found must be the one from the
  settings, every aiokafka client built already must use SASL_SSL with the same user and
  a TLS context, and every faust app must carry SASL credentials with a TLS context. The
  consumer and relay must be among them.
* **The static check.** No module under ``services/`` or ``deploy/commands/`` imports
  aiokafka, names an ``AIOKafka*`` class, hands out ``kafka_options``, or reads the raw
  ``kafka_*`` connection settings (``kafka_bootstrap``, ``kafka_sasl_*`` …): only
  ``shared/kafka.py`` turns settings into clients, and ``shared/runtime``, tests and
  bench may use aiokafka directly.
"""
from __future__ import annotations

import ast
import asyncio
import functools
import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shared.kafka import KafkaConnection

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "routing", "notify", "credit")
#: where no Kafka client may be built by hand
GUARDED = ("services", "deploy/commands")
#: settings that only shared/kafka.py (KafkaConnection.from_settings) may read
RAW_KAFKA_SETTINGS = frozenset({
    "kafka_bootstrap", "kafka_options", "kafka_security_protocol", "kafka_sasl_mechanism", "kafka_sasl_username",
    "kafka_sasl_password", "kafka_ssl_cafile", "kafka_ssl_check_hostname",
})
FAKE_BOOTSTRAP = "kafka-1.invalid:9092,kafka-2.invalid:9092,kafka-3.invalid:9092"
FAKE_PASSWORD = "fake-password-" + "x" * 24


# -- the static check -------------------------------------------------------------------------------


def guarded_modules() -> list[Path]:
    return sorted(p for d in GUARDED for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts)


def hand_built_kafka(path: Path, *, raw_settings: bool = True) -> list[str]:
    """What in `path` reaches Kafka other than through `shared.kafka` (``line: what``); with
    `raw_settings`, reading the raw ``kafka_*`` connection settings counts too (services/ only: the CLI
    verbs pass the launcher's endpoints into settings)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] == "aiokafka"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "aiokafka":
            found.append(f"{node.lineno}: from {node.module} import …")
        elif isinstance(node, ast.Name) and node.id.startswith("AIOKafka"):
            found.append(f"{node.lineno}: {node.id}")
        elif isinstance(node, ast.Attribute) and (node.attr.startswith("AIOKafka") or node.attr == "kafka_options"
                                                    or (raw_settings and node.attr in RAW_KAFKA_SETTINGS)):
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.keyword) and node.arg == "kafka_options":
            found.append(f"{node.lineno}: kafka_options=")
    return sorted(set(found), key=lambda s: (int(s.split(":")[0]), s))


def test_the_static_check_finds_a_hand_built_client(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from aiokafka import AIOKafkaProducer\n"
        "import aiokafka.admin\n"
        "p = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, **settings.kafka_options())\n"
        "r = Relay(kafka_options={})\n"
        "ok = settings.kafka.producer(acks='all')\n"
    )
    assert hand_built_kafka(sample) == [
        "1: from aiokafka import …", "2: import aiokafka.admin", "3: .kafka_bootstrap", "3: .kafka_options",
        "3: AIOKafkaProducer", "4: kafka_options=",
    ]


def test_no_service_or_cli_verb_builds_a_kafka_client_by_hand() -> None:
    offenders = {str(p.relative_to(ROOT)): hits for p in guarded_modules()
                 if (hits := hand_built_kafka(p, raw_settings=p.parts[len(ROOT.parts)] == "services"))}
    assert not offenders, (
        "build Kafka clients with settings.kafka (shared.kafka.KafkaConnection: .consumer() .producer() .admin() "
        ".faust_options(), or pass kafka=settings.kafka to EventConsumer/OutboxRelay/ensure_topics):\n"
        + "\n".join(f"  {path}: {', '.join(hits)}" for path, hits in offenders.items())
    )


# -- the wiring walk ----------------------------------------------------------------------------------


@dataclass
class Found:
    connections: list[tuple[str, KafkaConnection]] = field(default_factory=list)
    clients: list[tuple[str, Any]] = field(default_factory=list)
    faust_apps: list[tuple[str, Any]] = field(default_factory=list)


#: packages whose objects are walked into (others — asyncpg, pydantic, the stdlib — are leaves)
_WALKED = ("services", "shared", "aiokafka", "faust", "fastapi", "starlette", "functools")


def walk(root: Any, found: Found, path: str = "parts") -> None:
    """Every KafkaConnection, aiokafka client and faust app reachable from `root`."""
    from aiokafka.client import AIOKafkaClient
    from pydantic import BaseModel

    try:
        import faust
        faust_app: tuple[type, ...] = (faust.App,)
    except ImportError:  # pragma: no cover
        faust_app = ()
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [(path, root)]
    while stack:
        where, obj = stack.pop()
        if obj is None or isinstance(obj, (str, bytes, int, float, bool, type, Path)) or inspect.ismodule(obj):
            continue
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, KafkaConnection):
            found.connections.append((where, obj))
            continue
        if isinstance(obj, AIOKafkaClient):
            found.clients.append((where, obj))
            continue
        if faust_app and isinstance(obj, faust_app):
            found.faust_apps.append((where, obj))
            continue
        if isinstance(obj, BaseModel):  # settings and payloads: the source of values, not clients
            continue
        if isinstance(obj, dict):
            stack += [(f"{where}[{k!r}]", v) for k, v in obj.items()]
            continue
        if isinstance(obj, (list, tuple, set, frozenset)):
            stack += [(f"{where}[{i}]", v) for i, v in enumerate(obj)]
            continue
        if isinstance(obj, functools.partial):
            stack += [(f"{where}.func", obj.func), (f"{where}.args", obj.args), (f"{where}.keywords", obj.keywords)]
            continue
        if inspect.ismethod(obj):
            stack.append((f"{where}.__self__", obj.__self__))
            continue
        if inspect.isfunction(obj) or inspect.iscoroutine(obj) or inspect.isasyncgen(obj):
            code_obj = obj if inspect.isfunction(obj) else None
            if code_obj is not None:
                for name, cell in zip(code_obj.__code__.co_freevars, code_obj.__closure__ or ()):
                    try:
                        stack.append((f"{where}<{name}>", cell.cell_contents))
                    except ValueError:  # an empty cell
                        pass
                stack += [(f"{where}.defaults", code_obj.__defaults__), (f"{where}.kwdefaults", code_obj.__kwdefaults__)]
            else:
                frame = getattr(obj, "cr_frame", None) or getattr(obj, "ag_frame", None)
                if frame is not None:
                    stack += [(f"{where}<{k}>", v) for k, v in frame.f_locals.items()]
            continue
        module = type(obj).__module__ or ""
        if not module.startswith(_WALKED):
            continue
        attrs: dict[str, Any] = {}
        if hasattr(obj, "__dict__"):
            attrs.update(vars(obj))
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if isinstance(slot, str) and hasattr(obj, slot):
                    attrs.setdefault(slot, getattr(obj, slot, None))
        stack += [(f"{where}.{k}", v) for k, v in attrs.items()]


def secured_settings(service: str, ca_file: Path) -> Any:
    from tests.support import stack

    module = importlib.import_module(f"services.{service}.settings")
    cls = next(v for k, v in vars(module).items() if k.lower() == f"{service}settings")
    return cls(
        dev=True, pg_dsn=stack.dsn(), kafka_bootstrap=FAKE_BOOTSTRAP, kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username=service, kafka_sasl_password=FAKE_PASSWORD,
        kafka_ssl_cafile=str(ca_file), kafka_replication_factor=3,
    )


def client_problems(where: str, client: Any, expected: KafkaConnection) -> list[str]:
    problems = []
    if client._security_protocol != expected.security_protocol:
        problems.append(f"{where}: security_protocol {client._security_protocol}")
    if client._sasl_mechanism != expected.sasl_mechanism or client._sasl_plain_username != expected.username:
        problems.append(f"{where}: SASL {client._sasl_mechanism} as {client._sasl_plain_username}")
    if client._ssl_context is None:
        problems.append(f"{where}: no TLS context")
    bootstrap = client._bootstrap_servers
    if isinstance(bootstrap, str):
        bootstrap = bootstrap.split(",")
    if sorted(bootstrap) != sorted(expected.bootstrap.split(",")):
        problems.append(f"{where}: bootstrap {bootstrap}")
    return problems


def faust_problems(where: str, app: Any, expected: KafkaConnection) -> list[str]:
    credentials = app.conf.broker_credentials
    problems = []
    if credentials is None:
        return [f"{where}: a faust app without broker credentials"]
    if getattr(credentials, "username", None) != expected.username:
        problems.append(f"{where}: faust credentials for {getattr(credentials, 'username', None)}")
    if getattr(credentials, "ssl_context", None) is None:
        problems.append(f"{where}: faust credentials without a TLS context")
    brokers = sorted(f"{u.host}:{u.port}" for u in app.conf.broker)
    if brokers != sorted(expected.bootstrap.split(",")):
        problems.append(f"{where}: faust broker {brokers}")
    return problems


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory) -> Path:
    from tests.support.secure_cluster import tls_material

    return tls_material(tmp_path_factory.mktemp("tls"), [1]).ca_file


NOT_YET_SWITCHED: dict[str, str] = {}


@pytest.mark.stack
@pytest.mark.parametrize("service", [
    pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=NOT_YET_SWITCHED[s])) if s in NOT_YET_SWITCHED else s
    for s in SERVICES])
async def test_every_kafka_client_a_service_builds_carries_the_security_settings(service: str, ca_file: Path,
                                                                                unique: str) -> None:
    from shared.db import create_pool
    from shared.runtime.service import build_parts

    wiring = importlib.import_module(f"services.{service}.wiring")
    settings = secured_settings(service, ca_file)
    expected = settings.kafka
    assert expected.security_protocol == "SASL_SSL" and expected.ssl_context() is not None
    pool = await create_pool(settings.dsn, f"{service}_wiring_{unique}", min_size=1, max_size=2)
    try:
        parts = await build_parts(wiring.build, settings, pool)
        try:
            found = Found()
            walk(parts, found)
        finally:
            for close in reversed(parts.closers):
                await close()
    finally:
        await asyncio.wait_for(pool.close(), 10)

    problems = [f"{where}: {conn!r}" for where, conn in found.connections if conn != expected]
    for where, client in found.clients:
        problems += client_problems(where, client, expected)
    for where, app in found.faust_apps:
        problems += faust_problems(where, app, expected)
    assert not problems, f"{service}: Kafka clients without the service's security settings:\n" + "\n".join(problems)
    for name in ("consumer", "relay"):
        assert getattr(parts, name).kafka == expected, f"{service}: parts.{name} does not use settings.kafka"
