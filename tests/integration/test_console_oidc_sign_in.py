"""OpenID Connect sign-in to the console against a real provider on a socket (tests/support/
oidc_provider.py), the console on the real stack, an HTTP client following the redirects as a browser
would: the whole flow, then each refusal with its page, status, metric and sign-in log row."""
from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg
import httpx
import pytest

from shared.db import connect
from tests.support import stack
from tests.support.console import console_stack
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcTestProvider, running_provider

pytestmark = pytest.mark.stack
MINE = "market_regulation@610402"


def sign_ins(metrics: str, outcome: str) -> float:
    found = re.search(rf'^shuangda_console_sign_ins_total\{{outcome="{outcome}"\}} ([0-9.e+]+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def link_subject(cs: Any, username: str, subject: str) -> None:
    conn = await connect(cs.settings.dsn, cs.settings.schema)
    try:
        await conn.execute("UPDATE accounts SET oidc_subject = $2 WHERE username = $1", username, subject)
    finally:
        await conn.close()


async def attempts(cs: Any, outcome: str) -> int:
    conn: asyncpg.Connection = await connect(cs.settings.dsn, cs.settings.schema)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM login_attempts WHERE outcome = $1", outcome))
    finally:
        await conn.close()


async def flow(client: httpx.AsyncClient, *, next_path: str = "") -> httpx.Response:
    """Start at the console, through the provider, back to the console's callback (not followed further)."""
    start = await client.get("/login/oidc" + (f"?next={next_path}" if next_path else ""))
    assert start.status_code == 303, start.text
    at_provider = await client.get(start.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    return await client.get(at_provider.headers["location"])


@pytest.fixture
async def oidc_console() -> Any:
    unique = uuid.uuid4().hex[:10]
    async with running_provider() as op:
        async with console_stack(unique, oidc_issuer=op.url, oidc_client_id=CLIENT_ID,
                                 oidc_client_secret=CLIENT_SECRET,
                                 oidc_redirect_url="{console}/login/oidc/callback") as cs:
            await cs.create_account("oidc.alice", f"bureau@{MINE}")
            await link_subject(cs, "oidc.alice", op.subject)
            yield cs, op


async def test_a_person_known_to_the_provider_signs_in_through_it_and_gets_a_console_session(
        oidc_console: tuple[Any, OidcTestProvider]) -> None:
    cs, op = oidc_console
    async with httpx.AsyncClient(base_url=cs.url) as client:
        login = await client.get("/login")
        assert 'data-testid="oidc"' in login.text and 'href="/login/oidc"' in login.text
        start = await client.get("/login/oidc", params={"next": "/cases"})
        assert start.status_code == 303
        target = urlsplit(start.headers["location"])
        q = parse_qs(target.query)
        assert f"{target.scheme}://{target.netloc}" == op.url and target.path == "/authorize"
        assert q["code_challenge_method"] == ["S256"] and q["client_id"] == [CLIENT_ID]
        assert len(q["state"][0]) >= 40 and len(q["nonce"][0]) >= 40 and q["state"] != q["nonce"]
        cookie = start.headers["set-cookie"]
        assert "sd_oidc=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()

        # follow it as a browser would: provider, callback, then the page the person asked for
        followed = await client.get(start.headers["location"], follow_redirects=True)
        assert followed.status_code == 200, followed.text
        assert 'data-testid="continue"' in followed.text and 'url=/cases"' in followed.text
        session = followed.headers["set-cookie"]
        assert "sd_session=" in session and "samesite=strict" in session.lower()
        cases = await client.get("/cases")
        assert cases.status_code == 200 and "oidc.alice" in cases.text, cases.text[:500]
        assert await attempts(cs, "oidc_ok") == 1

        # the callback's state is good once: replaying it is refused
        replay = await client.get(str(followed.url))
        assert replay.status_code == 401


@pytest.mark.parametrize("tamper", ["wrong_nonce", "expired", "bad_signature", "wrong_audience", "wrong_issuer"])
async def test_an_id_token_that_fails_a_check_is_refused_with_its_reason_and_counted(
        oidc_console: tuple[Any, OidcTestProvider], tamper: str) -> None:
    cs, op = oidc_console
    op.tamper = tamper
    async with httpx.AsyncClient(base_url=cs.url) as client:
        before = sign_ins((await client.get("/metrics")).text, f"oidc_{tamper}")
        back = await flow(client)
        assert back.status_code == 401, back.text
        assert 'data-testid="error"' in back.text and "sd_session" not in back.headers.get("set-cookie", "")
        from services.console.domain.i18n import text
        assert text(f"oidc_{tamper}", "zh") in back.text
        assert (await client.get("/cases")).status_code == 303  # not signed in
        assert sign_ins((await client.get("/metrics")).text, f"oidc_{tamper}") == before + 1
        assert await attempts(cs, f"oidc_{tamper}") == 1


async def test_a_subject_without_an_account_is_refused_and_never_provisioned(
        oidc_console: tuple[Any, OidcTestProvider]) -> None:
    cs, op = oidc_console
    op.subject = "stranger-9999"
    async with httpx.AsyncClient(base_url=cs.url) as client:
        back = await flow(client)
        assert back.status_code == 403 and "shuangda console accounts link" in back.text
        assert await attempts(cs, "oidc_unknown_subject") == 1
    conn = await connect(cs.settings.dsn, cs.settings.schema)
    try:
        assert await conn.fetchval("SELECT count(*) FROM accounts WHERE oidc_subject = 'stranger-9999'") == 0
    finally:
        await conn.close()


async def test_a_callback_whose_state_is_not_this_browsers_is_refused_before_the_provider_is_asked(
        oidc_console: tuple[Any, OidcTestProvider]) -> None:
    cs, op = oidc_console
    async with httpx.AsyncClient(base_url=cs.url) as client:
        start = await client.get("/login/oidc")
        at_provider = await client.get(start.headers["location"])
        callback = urlsplit(at_provider.headers["location"])
        q = {k: v[0] for k, v in parse_qs(callback.query).items()}
        asked = op.token_requests
        forged = await client.get(f"/login/oidc/callback?{urlencode({**q, 'state': 'x' * 43})}")
        assert forged.status_code == 401 and op.token_requests == asked
        # another browser (no sd_oidc cookie) with the right state and code is refused too
        async with httpx.AsyncClient(base_url=cs.url) as other:
            stolen = await other.get(f"/login/oidc/callback?{urlencode(q)}")
            assert stolen.status_code == 401 and op.token_requests == asked
        assert await attempts(cs, "oidc_bad_state") == 2
        denied = await client.get("/login/oidc/callback?error=access_denied&state=" + q["state"])
        assert denied.status_code == 401


async def test_a_locked_account_is_refused_through_the_provider_as_with_a_password(
        oidc_console: tuple[Any, OidcTestProvider]) -> None:
    cs, op = oidc_console
    conn = await connect(cs.settings.dsn, cs.settings.schema)
    try:
        await conn.execute("UPDATE accounts SET locked_until = now() + interval '10 minutes' WHERE username = 'oidc.alice'")
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=cs.url) as client:
        back = await flow(client)
        assert back.status_code == 423
        assert await attempts(cs, "oidc_locked") == 1
