"""``shuangda console accounts`` on the real database: an account gets a principal of the identity
store acting for its role, a bad role or password is refused naming the field; and ``shuangda dlq
replay`` replays through the function the console's replay button uses."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shared.db import connect
from shared.topics import TopicSpec, ensure_topics
from tests.support import stack

pytestmark = pytest.mark.stack
REPO_ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "SHUANGDA_DEV": "true", "PYTHONPATH": str(REPO_ROOT), "SHUANGDA_PG_DSN": stack.dsn(),
            "SHUANGDA_KAFKA_BOOTSTRAP": stack.bootstrap(), **env}
    return subprocess.run([sys.executable, "-m", "deploy.cli", *args], env=full, cwd=REPO_ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)


async def test_an_account_created_with_the_cli_acts_through_a_principal_of_its_role() -> None:
    unique = uuid.uuid4().hex[:10]
    env = {"SHUANGDA_CONSOLE_SCHEMA": f"console_{unique}", "SHUANGDA_IDENTITY_SCHEMA": f"identity_{unique}"}
    made = cli("console", "accounts", "create", "alice", "--role", "bureau@market_regulation@610402",
               "--password-stdin", stdin="a-long-enough-password\n", **env)
    assert made.returncode == 0, made.stderr
    bad_role = cli("console", "accounts", "create", "bob", "--role", "bureau@market_regulation", "--password-stdin",
                   stdin="a-long-enough-password\n", **env)
    short = cli("console", "accounts", "create", "carol", "--role", "ops", "--password-stdin", stdin="short\n", **env)
    listed = cli("console", "accounts", "list", **env)
    assert bad_role.returncode == 1 and "role:" in bad_role.stderr
    assert short.returncode == 1 and "password:" in short.stderr
    assert "alice" in listed.stdout and "bob" not in listed.stdout and "carol" not in listed.stdout
    conn = await connect(stack.dsn(), f"identity_{unique}")
    try:
        row = await conn.fetchrow("SELECT kind, bureau FROM principals WHERE principal_id = 'console.alice'")
        public = await conn.fetchrow("SELECT kind, scopes FROM principals WHERE principal_id = 'console.public'")
        survey = await conn.fetchrow("SELECT kind, scopes FROM principals WHERE principal_id = 'console.survey'")
    finally:
        await conn.close()
    assert (row["kind"], row["bureau"]) == ("bureau", "market_regulation@610402")
    assert (public["kind"], sorted(public["scopes"])) == ("public_api", ["cases:read", "clients:relay"])  # the status lookup only
    assert (survey["kind"], sorted(survey["scopes"])) == ("public_api", ["clients:relay", "complaints:write"])  # the survey
    conn = await connect(stack.dsn(), f"console_{unique}")
    try:
        stored = await conn.fetchrow("SELECT password_hash, api_key_enc FROM accounts WHERE username = 'alice'")
    finally:
        await conn.close()
    assert stored["password_hash"].startswith("$argon2id$") and b"sd1_" not in bytes(stored["api_key_enc"])


async def test_the_dlq_cli_replays_one_offset_through_the_shared_replay_function() -> None:
    origin = f"t{uuid.uuid4().hex[:10]}.cli.origin"
    await ensure_topics(stack.bootstrap(), [TopicSpec(origin, "k", "test", partitions=1)])
    letters = [(f"k{i}", [("dlq-origin-topic", origin.encode()), ("dlq-reason", b"schema")], f"v{i}".encode())
               for i in range(2)]
    await stack.produce(origin + ".dlq", letters)
    done = cli("dlq", "replay", origin + ".dlq", "--offset", "1")
    assert done.returncode == 0 and "replayed 1 dead letter(s)" in done.stdout, done.stderr
    records = await stack.eventually(lambda: stack.read_all(origin), until=lambda rs: len(rs) >= 1, what="the replay")
    assert [(r.key, r.value) for r in records] == [(b"k1", b"v1")]


async def test_the_cli_creates_an_oidc_only_account_and_links_an_existing_one_to_a_subject_once() -> None:
    unique = uuid.uuid4().hex[:10]
    env = {"SHUANGDA_CONSOLE_SCHEMA": f"console_{unique}", "SHUANGDA_IDENTITY_SCHEMA": f"identity_{unique}"}
    made = cli("console", "accounts", "create", "cara", "--role", "office", "--oidc-subject", "sub-cara", **env)
    assert made.returncode == 0, made.stderr
    local = cli("console", "accounts", "create", "dan", "--role", "ops", "--password-stdin",
                stdin="a-long-enough-password\n", **env)
    assert local.returncode == 0, local.stderr
    linked = cli("console", "accounts", "link", "dan", "--oidc-subject", "sub-dan", **env)
    taken = cli("console", "accounts", "link", "dan", "--oidc-subject", "sub-cara", **env)
    spaced = cli("console", "accounts", "link", "dan", "--oidc-subject", "a b", **env)
    assert linked.returncode == 0 and "linked dan" in linked.stdout, linked.stderr
    assert taken.returncode == 1 and "cara" in taken.stderr
    assert spaced.returncode == 1 and "oidc_subject:" in spaced.stderr
    conn = await connect(stack.dsn(), f"console_{unique}")
    try:
        rows = {r["username"]: r for r in await conn.fetch("SELECT username, oidc_subject, password_hash FROM accounts")}
    finally:
        await conn.close()
    assert rows["cara"]["oidc_subject"] == "sub-cara" and rows["cara"]["password_hash"] == "!oidc-only"
    assert rows["dan"]["oidc_subject"] == "sub-dan" and rows["dan"]["password_hash"].startswith("$argon2id$")
