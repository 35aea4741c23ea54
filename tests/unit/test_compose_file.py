"""The production compose stack, read as YAML (no Docker engine is needed).

What is checked: a 3-node KRaft cluster that replicates three ways and never
loses acknowledged writes; SASL/SCRAM with deny-by-default ACLs; pinned
images; healthchecks and conditional start order; secrets only from the
environment; one image for the services and the console; resource limits; a non-root
image; and the ACL job's grants, run against stand-in Kafka tools.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_DIR = ROOT / "deploy" / "compose"
ENV_EXAMPLE = COMPOSE_DIR / "shuangda.env.example"
KAFKA_SCRIPTS = COMPOSE_DIR / "kafka"

SERVICES = {"intake": 8001, "routing": 8002, "notify": 8003, "credit": 8004, "custody": 8006, "appraisal": 8007,
            "inspection": 8008}
#: every long-running container built from the repo: the services and the web console
RUNNING = {**SERVICES, "console": 8005}
ONE_SHOTS = {"kafka-acls", "migrate"}
KAFKA_NODES = ("kafka-1", "kafka-2", "kafka-3")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY\b|_KEY_|TOKEN|PII_KEY")
VAR_REF = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[?\-])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def strings_in(node) -> list[str]:
    """Every string value in the parsed compose file (comments excluded)."""
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in strings_in(key) + strings_in(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings_in(item)]
    return [node] if isinstance(node, str) else []


def variable_refs(compose: dict) -> list[tuple[str, str, str]]:
    return [ref for text in strings_in(compose) for ref in VAR_REF.findall(text)]


def default_of(value: str) -> str:
    """`${VAR:-default}` -> default, leaving plain text alone."""
    return VAR_REF.sub(lambda m: m.group(3) if m.group(2) in (":-", "-") else "", value)


def kafka_setting(env: dict[str, str], prop: str) -> str:
    return env["KAFKA_" + prop.upper().replace(".", "_")]


# --- Kafka ---------------------------------------------------------------------


def test_kafka_runs_as_three_combined_kraft_nodes(services):
    nodes = [name for name, svc in services.items() if str(svc.get("image", "")).startswith("apache/kafka:") and name not in ONE_SHOTS]
    assert sorted(nodes) == list(KAFKA_NODES)
    ids = set()
    voters = set()
    for name in KAFKA_NODES:
        env = env_of(services[name])
        assert kafka_setting(env, "process.roles") == "broker,controller"
        ids.add(kafka_setting(env, "node.id"))
        voters.add(kafka_setting(env, "controller.quorum.voters"))
        assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert ids == {"1", "2", "3"}
    assert voters == {"1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"}


def test_kafka_uses_the_official_image_at_a_pinned_4x_release(services):
    for name in (*KAFKA_NODES, "kafka-acls"):
        image = services[name]["image"]
        assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", image), image


@pytest.mark.parametrize("node", KAFKA_NODES)
def test_kafka_replicates_three_ways_needs_two_in_sync_and_never_elects_an_unclean_leader(services, node):
    env = env_of(services[node])
    assert kafka_setting(env, "default.replication.factor") == "3"
    assert kafka_setting(env, "min.insync.replicas") == "2"
    assert kafka_setting(env, "unclean.leader.election.enable") == "false"
    assert kafka_setting(env, "auto.create.topics.enable") == "false"
    assert kafka_setting(env, "offsets.topic.replication.factor") == "3"
    assert kafka_setting(env, "transaction.state.log.replication.factor") == "3"
    assert kafka_setting(env, "transaction.state.log.min.isr") == "2"


@pytest.mark.parametrize("node", KAFKA_NODES)
def test_kafka_clients_authenticate_with_scram_and_acls_deny_by_default(services, node):
    env = env_of(services[node])
    protocols = dict(pair.split(":") for pair in kafka_setting(env, "listener.security.protocol.map").split(","))
    assert set(protocols.values()) == {"SASL_PLAINTEXT"}, "every listener must authenticate"
    assert env["KAFKA_LISTENER_NAME_CLIENT_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_LISTENER_NAME_EXTERNAL_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert kafka_setting(env, "allow.everyone.if.no.acl.found") == "false"
    assert kafka_setting(env, "authorizer.class.name") == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert kafka_setting(env, "super.users") == "User:admin"
    advertised = kafka_setting(env, "advertised.listeners")
    assert f"CLIENT://{node}:9092" in advertised


@pytest.mark.parametrize("node", KAFKA_NODES)
def test_no_kafka_setting_passed_through_the_environment_contains_an_equals_sign(services, node):
    # the image's property renderer silently drops values containing '='
    for key, value in env_of(services[node]).items():
        if key.startswith("KAFKA_"):
            assert "=" not in value, f"{node}: {key} would be dropped by the image"


def test_the_services_reach_kafka_through_sasl_scram_each_as_its_own_principal(services):
    for name in RUNNING:
        env = env_of(services[name])
        assert env["SHUANGDA_KAFKA_BOOTSTRAP"] == "kafka-1:9092,kafka-2:9092,kafka-3:9092"
        assert env["SHUANGDA_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["SHUANGDA_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert env["SHUANGDA_KAFKA_SASL_USERNAME"] == name
        assert env["SHUANGDA_KAFKA_SASL_PASSWORD"].startswith(f"${{SHUANGDA_KAFKA_{name.upper()}_PASSWORD:?")


# --- images, health, order, limits ------------------------------------------------


def test_every_image_is_pinned_to_a_version_and_none_is_latest(services):
    for name, svc in services.items():
        image = default_of(str(svc["image"]))
        assert "latest" not in image, f"{name}: {svc['image']}"
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag, f"{name}: {image} has no tag"
        assert re.search(r"\d+\.\d+", tag), f"{name}: {image} is not pinned to a version"


def test_every_long_running_container_has_a_healthcheck(services):
    for name, svc in services.items():
        if name in ONE_SHOTS:
            assert svc.get("restart") == "no", f"one-shot {name} must not restart"
            continue
        check = svc.get("healthcheck", {})
        assert check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable"), name
        assert svc.get("restart") == "unless-stopped", name


def test_every_dependency_waits_on_a_health_or_completion_condition(services):
    for name, svc in services.items():
        depends = svc.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must name conditions"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown {target}"
            expected = "service_completed_successfully" if target in ONE_SHOTS else "service_healthy"
            assert spec.get("condition") == expected, f"{name} -> {target}"


def test_the_services_start_only_after_migrate_succeeded_and_migrate_after_the_acls(services):
    for name in RUNNING:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    migrate = services["migrate"]
    assert migrate["command"] == ["shuangda", "migrate"]
    assert migrate["depends_on"]["kafka-acls"]["condition"] == "service_completed_successfully"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert env_of(migrate)["SHUANGDA_KAFKA_REPLICATION_FACTOR"] == "3"
    for node in KAFKA_NODES:
        assert services["kafka-acls"]["depends_on"][node]["condition"] == "service_healthy"


def test_every_container_has_cpu_and_memory_limits(services):
    for name, svc in services.items():
        limits = svc.get("deploy", {}).get("resources", {}).get("limits", {})
        assert limits.get("cpus") and limits.get("memory"), f"{name} has no resource limits"


def test_the_services_and_the_console_run_from_one_image_built_from_the_repo_root(services):
    images = {services[name]["image"] for name in (*RUNNING, "migrate")}
    builds = {yaml.safe_dump(services[name]["build"]) for name in (*RUNNING, "migrate")}
    assert len(images) == 1 and len(builds) == 1
    build = services["intake"]["build"]
    assert build["context"] == "." and build["dockerfile"] == "Dockerfile"
    for name, port in RUNNING.items():
        svc = services[name]
        assert svc["command"] == ["python", "-m", f"services.{name}"]
        env = env_of(svc)
        assert env["SHUANGDA_DEV"] == "false"
        assert env[f"SHUANGDA_{name.upper()}_HTTP_PORT"] == str(port)
        assert env[f"SHUANGDA_{name.upper()}_HTTP_HOST"] == "0.0.0.0"
        # a service never migrates on start (there is no such switch any more): `migrate` does that
        assert not [k for k in env if k.endswith("MIGRATE_ON_START")], name
        assert any(p.endswith(f":{port}:{port}") for p in svc["ports"]), name
        assert f"127.0.0.1:{port}/healthz" in " ".join(svc["healthcheck"]["test"])


def test_each_service_connects_to_postgres_as_its_own_role(services):
    for name in RUNNING:
        dsn = env_of(services[name])[f"SHUANGDA_{name.upper()}_PG_DSN"]
        assert dsn.startswith(f"postgresql://{name}:${{SHUANGDA_PG_{name.upper()}_PASSWORD:?"), dsn
        assert dsn.endswith("@postgres:5432/shuangda")


def test_postgres_is_pinned_to_16_and_checked_with_pg_isready(services):
    pg = services["postgres"]
    assert re.fullmatch(r"postgres:16\.\d+(-\w+)?", pg["image"])
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert "./deploy/compose/postgres/init-roles.sh:/docker-entrypoint-initdb.d/10-init-roles.sh:ro" in pg["volumes"]


def test_prometheus_and_alertmanager_are_pinned_to_their_stable_series(services):
    assert re.fullmatch(r"prom/prometheus:v2\.\d+\.\d+", services["prometheus"]["image"])
    assert re.fullmatch(r"prom/alertmanager:v0\.\d+\.\d+", services["alertmanager"]["image"])
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", services["grafana"]["image"])


def test_published_ports_bind_to_a_configurable_address_defaulting_to_loopback(services):
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert port.startswith("${SHUANGDA_BIND_ADDRESS:-127.0.0.1}:"), f"{name}: {port}"


# --- secrets ------------------------------------------------------------------


def test_secrets_come_from_the_environment_with_no_defaults(compose):
    refs = variable_refs(compose)
    assert refs
    for var, op, _ in refs:
        if SECRET_NAME.search(var) and not var.endswith("_FILE"):
            assert op == ":?", f"${{{var}}} must be written ${{{var}:?…}} (required, no default)"


def test_no_secret_value_is_written_into_the_compose_file(services):
    for name, svc in services.items():
        for key, value in env_of(svc).items():
            if SECRET_NAME.search(key) or "://" in value and "@" in value:
                assert "${" in value and ":?" in value, f"{name}: {key} carries a literal secret"
                for var, op, _ in VAR_REF.findall(value):
                    if SECRET_NAME.search(var):
                        assert op == ":?", f"{name}: {key}"


def test_every_required_variable_is_listed_in_the_env_example_without_a_value(compose):
    example = ENV_EXAMPLE.read_text()
    listed = dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", example, re.M))
    required = {var for var, op, _ in variable_refs(compose) if op == ":?"}
    assert required <= listed.keys(), f"not in {ENV_EXAMPLE.name}: {sorted(required - listed.keys())}"
    for var in required:
        assert listed[var] == "", f"{ENV_EXAMPLE.name} must not carry a value for {var}"


def test_secret_files_are_kept_out_of_the_image_build_context():
    ignored = DOCKERIGNORE.read_text().split()
    for pattern in (".env", "**/*.env", ".git", ".venv", ".shuangda"):
        assert pattern in ignored, pattern


# --- the image ------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_image_is_built_from_a_pinned_python_311_slim_base():
    instructions = dockerfile_instructions()
    args = dict(rest.split("=", 1) for word, rest in instructions if word == "ARG" and "=" in rest)
    bases = [rest.split()[0] for word, rest in instructions if word == "FROM"]
    assert bases
    for base in bases:
        base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base), base


def test_the_image_installs_from_the_lock_then_the_project_without_dependencies():
    runs = " ".join(rest for word, rest in dockerfile_instructions() if word == "RUN")
    lock = runs.find("pip install -r requirements.lock")
    project = runs.find("pip install --no-deps .")
    assert 0 <= lock < project


def test_the_image_runs_as_a_non_root_user():
    users = [rest for word, rest in dockerfile_instructions() if word == "USER"]
    assert users, "the Dockerfile never switches away from root"
    final = users[-1].split(":")[0]
    assert final not in {"root", "0"}
    assert int(final) >= 1000 if final.isdigit() else True


# --- Kafka scripts ------------------------------------------------------------


def test_the_kafka_scripts_are_valid_bash():
    for script in sorted(KAFKA_SCRIPTS.glob("*.sh")) + [COMPOSE_DIR / "postgres" / "init-roles.sh"]:
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"


def test_every_kafka_node_starts_through_the_jaas_wrapper_and_checks_itself(services):
    for node in KAFKA_NODES:
        svc = services[node]
        assert svc["command"] == ["bash", "/opt/shuangda/kafka/entrypoint.sh"]
        assert svc["healthcheck"]["test"] == ["CMD", "bash", "/opt/shuangda/kafka/healthcheck.sh"]
        assert "./deploy/compose/kafka:/opt/shuangda/kafka:ro" in svc["volumes"]
        assert env_of(svc)["SHUANGDA_KAFKA_ADMIN_PASSWORD"].startswith("${SHUANGDA_KAFKA_ADMIN_PASSWORD:?")


PASSWORDS = {
    "SHUANGDA_KAFKA_ADMIN_PASSWORD": "admin-0123456789abcdef",
    "SHUANGDA_KAFKA_INTAKE_PASSWORD": "intake-0123456789abcdef",
    "SHUANGDA_KAFKA_ROUTING_PASSWORD": "routing-0123456789abcdef",
    "SHUANGDA_KAFKA_NOTIFY_PASSWORD": "notify-0123456789abcdef",
    "SHUANGDA_KAFKA_CREDIT_PASSWORD": "credit-0123456789abcdef",
    "SHUANGDA_KAFKA_CUSTODY_PASSWORD": "custody-0123456789abcdef",
    "SHUANGDA_KAFKA_APPRAISAL_PASSWORD": "appraisal-0123456789abcdef",
    "SHUANGDA_KAFKA_INSPECTION_PASSWORD": "inspection-0123456789abcdef",
    "SHUANGDA_KAFKA_CONSOLE_PASSWORD": "console-0123456789abcdef",
    "SHUANGDA_KAFKA_MIGRATE_PASSWORD": "migrate-0123456789abcdef",
    "SHUANGDA_KAFKA_PASSWORD_HOTLINE12345": "hotline-0123456789abcdef",
    "SHUANGDA_KAFKA_PASSWORD_SAMR_610402": "samr-0123456789abcdef",
}


def run_acl_script(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """Run acls.sh against stand-in kafka-configs.sh / kafka-acls.sh that record their arguments."""
    home = tmp_path / "kafka"
    (home / "bin").mkdir(parents=True)
    log = tmp_path / "calls.log"
    for tool in ("kafka-configs.sh", "kafka-acls.sh"):
        stub = home / "bin" / tool
        stub.write_text(f'#!/usr/bin/env bash\nprintf "%q " {tool} "$@" >> "{log}"\necho >> "{log}"\n')
        stub.chmod(0o755)
    full_env = {
        "PATH": os.environ["PATH"],
        "TMPDIR": str(tmp_path),
        "SHUANGDA_KAFKA_HOME": str(home),
        **env,
    }
    result = subprocess.run(
        ["bash", str(KAFKA_SCRIPTS / "acls.sh")], env=full_env, capture_output=True, text=True, timeout=60
    )
    calls = [shlex.split(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def grants(calls: list[list[str]]) -> list[dict]:
    """Each kafka-acls --add call as {principals, resource kind, names, pattern, operations}."""
    out = []
    for call in calls:
        if call[0] != "kafka-acls.sh":
            continue
        g = {"principals": set(), "topics": set(), "groups": set(), "ops": set(), "pattern": None}
        for flag, value in zip(call, call[1:]):
            if flag == "--allow-principal":
                g["principals"].add(value)
            elif flag == "--topic":
                g["topics"].add(value)
            elif flag == "--group":
                g["groups"].add(value)
            elif flag == "--operation":
                g["ops"].add(value)
            elif flag == "--resource-pattern-type":
                g["pattern"] = value
        out.append(g)
    return out


def who_may(calls, op: str, topic: str) -> set[str]:
    """Principals an ACL lets perform `op` on `topic` (literal or prefixed match)."""
    allowed = set()
    for g in grants(calls):
        if op not in g["ops"]:
            continue
        for name in g["topics"]:
            if (g["pattern"] == "literal" and topic == name) or (g["pattern"] == "prefixed" and topic.startswith(name)):
                allowed |= g["principals"]
    return allowed


@pytest.fixture
def acl_run(tmp_path):
    result, calls = run_acl_script(
        tmp_path,
        **PASSWORDS,
        SHUANGDA_KAFKA_INGRESS_CLIENTS="hotline12345",
        SHUANGDA_KAFKA_EGRESS_BUREAUS="samr-610402",
    )
    assert result.returncode == 0, result.stderr
    return calls


def test_the_acl_job_creates_a_scram_user_for_every_principal(acl_run):
    users = {
        call[call.index("--entity-name") + 1]: call[call.index("--add-config") + 1]
        for call in acl_run
        if call[0] == "kafka-configs.sh"
    }
    assert set(users) == {"intake", "routing", "notify", "credit", "custody", "appraisal", "inspection", "console",
                          "migrate", "hotline12345", "samr-610402"}
    assert users["intake"] == "SCRAM-SHA-512=[iterations=8192,password=intake-0123456789abcdef]"


def test_only_a_client_may_write_its_own_ingress_topic(acl_run):
    assert who_may(acl_run, "Write", "ingress.hotline12345") == {"User:hotline12345"}
    assert who_may(acl_run, "Read", "ingress.hotline12345") == {"User:intake", "User:routing", "User:credit"}
    assert who_may(acl_run, "Write", "ingress.hotline12345.dlq") == {"User:intake", "User:routing", "User:credit"}


def test_the_inspection_service_alone_writes_its_ingress_topic_and_intake_reads_it(acl_run):
    assert who_may(acl_run, "Write", "ingress.inspection") == {"User:inspection"}
    assert "User:intake" in who_may(acl_run, "Read", "ingress.inspection")
    assert "User:intake" in who_may(acl_run, "Write", "ingress.inspection.dlq")


def test_the_console_reads_and_replays_internal_dead_letters_but_never_writes_an_ingress_topic(acl_run):
    assert "User:console" in who_may(acl_run, "Read", "case.routing.dlq")
    assert "User:console" in who_may(acl_run, "Write", "case.routing")
    assert "User:console" in who_may(acl_run, "Read", "ingress.hotline12345.dlq")
    assert "User:console" not in who_may(acl_run, "Read", "ingress.hotline12345")
    assert "User:console" not in who_may(acl_run, "Write", "ingress.hotline12345")
    assert "User:console" not in who_may(acl_run, "Create", "case.routing")
    assert not [g for g in grants(acl_run) if g["groups"] and "User:console" in g["principals"]]


def test_only_routing_writes_egress_and_only_the_bureau_reads_its_own(acl_run):
    assert who_may(acl_run, "Write", "egress.samr-610402") == {"User:routing"}
    assert who_may(acl_run, "Read", "egress.samr-610402") == {"User:samr-610402"}
    assert who_may(acl_run, "Read", "egress.psb-610404") == set()


def test_internal_topics_and_their_dlqs_belong_to_the_service_principals_and_the_console_only(acl_run):
    services = {f"User:{s}" for s in SERVICES} | {"User:console"}
    for topic in ("case.intake", "case.routing.dlq", "penalty.decisions", "credit.records", "notification.status",
                  "complaint.received", "lead.reported", "deadline.due", "alert.hotspot", "referral.lifecycle",
                  "custody.lifecycle", "appraisal.lifecycle", "inspection.lifecycle.dlq"):
        assert who_may(acl_run, "Read", topic) == services, topic
        assert who_may(acl_run, "Write", topic) == services, topic
    assert who_may(acl_run, "Create", "case.intake") == {"User:migrate"}


def test_the_priority_lanes_and_their_consumer_groups_are_granted_like_the_case_topics(acl_run):
    from shared.topics import CASE_INTAKE, CASE_ROUTING, priority_lane

    for topic in (CASE_INTAKE.name, CASE_ROUTING.name):
        for op in ("Read", "Write", "Describe"):
            assert who_may(acl_run, op, priority_lane(topic)) == who_may(acl_run, op, topic), (op, topic)
            assert who_may(acl_run, op, priority_lane(topic) + ".dlq") == who_may(acl_run, op, topic + ".dlq")
        assert who_may(acl_run, "Create", priority_lane(topic)) == {"User:migrate"}
    for svc in ("routing", "notify"):  # the lanes' second consumer groups: <group>-priority
        assert any(g["pattern"] == "prefixed" and g["principals"] == {f"User:{svc}"} and "Read" in g["ops"]
                   and any(f"{svc}-priority".startswith(p) for p in g["groups"]) for g in grants(acl_run)), svc


def test_each_service_owns_its_consumer_groups_and_private_topics(acl_run):
    for svc in SERVICES:
        [g] = [g for g in grants(acl_run) if g["groups"] == {svc}]
        assert g["principals"] == {f"User:{svc}"} and g["pattern"] == "prefixed" and "Read" in g["ops"]
        changelog = f"{svc}-hotspots-changelog"
        assert who_may(acl_run, "Create", changelog) == {f"User:{svc}"}
        assert who_may(acl_run, "Write", changelog) == {f"User:{svc}"}


def test_the_acl_job_refuses_to_run_without_every_password(tmp_path):
    env = dict(PASSWORDS)
    del env["SHUANGDA_KAFKA_NOTIFY_PASSWORD"]
    result, calls = run_acl_script(tmp_path, **env)
    assert result.returncode != 0
    assert "SHUANGDA_KAFKA_NOTIFY_PASSWORD must be set" in result.stderr
    assert calls == [], "nothing may be changed before every input is checked"


def test_the_acl_job_refuses_a_password_that_would_break_the_scram_syntax(tmp_path):
    result, calls = run_acl_script(tmp_path, **{**PASSWORDS, "SHUANGDA_KAFKA_ROUTING_PASSWORD": "has,comma]and=0123456789"})
    assert result.returncode != 0
    assert "SHUANGDA_KAFKA_ROUTING_PASSWORD" in result.stderr
    assert calls == []


def test_the_acl_job_refuses_an_outside_principal_named_like_a_service(tmp_path):
    result, calls = run_acl_script(tmp_path, **PASSWORDS, SHUANGDA_KAFKA_INGRESS_CLIENTS="routing")
    assert result.returncode != 0
    assert "reserved" in result.stderr
    assert calls == []


# --- alerting wiring ------------------------------------------------------------


def test_prometheus_scrapes_each_service_by_its_compose_name_and_sends_alerts_to_alertmanager(services):
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    for name, port in SERVICES.items():
        assert targets[name] == [f"{name}:{port}"] + (["intake-worker:8009"] if name == "intake" else [])
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert config["rule_files"] == ["rules/*.yml"]
    mounts = services["prometheus"]["volumes"]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in mounts


def test_alertmanager_routes_to_receivers_that_exist_and_reads_its_url_from_a_secret(compose, services):
    config = yaml.safe_load((COMPOSE_DIR / "alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    routes = [config["route"], *config["route"].get("routes", [])]
    for route in routes:
        assert route["receiver"] in receivers
    for receiver in receivers.values():
        for hook in receiver["webhook_configs"]:
            assert "url" not in hook, "the webhook URL is a secret: use url_file"
            assert hook["url_file"] == "/run/secrets/alert_webhook_url"
    assert services["alertmanager"]["secrets"][0]["source"] == "alert_webhook_url"
    assert compose["secrets"]["alert_webhook_url"]["file"].startswith("${SHUANGDA_ALERT_WEBHOOK_URL_FILE:?")


def test_intake_runs_as_an_api_and_a_worker_container_with_the_same_principal_role_and_keys(services):
    api, worker = env_of(services["intake"]), env_of(services["intake-worker"])
    assert (api["SHUANGDA_INTAKE_ROLE"], worker["SHUANGDA_INTAKE_ROLE"]) == ("api", "worker")
    assert services["intake-worker"]["command"] == services["intake"]["command"]
    for key in ("SHUANGDA_KAFKA_SASL_USERNAME", "SHUANGDA_KAFKA_SASL_PASSWORD", "SHUANGDA_INTAKE_PG_DSN",
                "SHUANGDA_PII_KEYS", "SHUANGDA_KAFKA_BOOTSTRAP"):
        assert worker[key] == api[key], key
    assert worker["SHUANGDA_INTAKE_HTTP_PORT"] == "8009" and "ports" not in services["intake-worker"]
    assert "127.0.0.1:8009/healthz" in " ".join(services["intake-worker"]["healthcheck"]["test"])
