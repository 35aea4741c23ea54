"""A small OpenID Connect provider for tests (test support: not shipped), served on a real socket.

It does what the console needs of a city's identity service and checks what a provider checks:
discovery document, JWKS (one RSA key), ``/authorize`` (response_type=code, S256 PKCE challenge,
state and nonce; it signs in `subject` at once — no login form), ``/token`` (the code once, the same
redirect_uri, the client's secret, the PKCE verifier) answering an RS256 ID token. `tamper` makes
the next ID tokens wrong in one way, so a test sees the console refuse each: ``wrong_nonce``,
``expired``, ``bad_signature`` (signed by another key with the same kid), ``wrong_audience``,
``wrong_issuer``."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from shared.http import serve
from tests.support import stack

CLIENT_ID = "shuangda-console"
CLIENT_SECRET = "test-client-secret-0123456789"


@dataclass
class OidcTestProvider:
    url: str
    subject: str = "citizen-0001"
    tamper: str | None = None
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "op-1", "use": "sig"}))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: int = 0

    def id_token(self, grant: dict[str, Any]) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "sub": grant["subject"], "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": grant["nonce"], "auth_time": now}
        key = self.key
        if self.tamper == "wrong_nonce":
            claims["nonce"] = secrets.token_urlsafe(16)
        elif self.tamper == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        elif self.tamper == "wrong_audience":
            claims["aud"] = "another-client"
        elif self.tamper == "wrong_issuer":
            claims["iss"] = "https://impostor.example"
        elif self.tamper == "bad_signature":
            key = RSAKey.generate_key(2048, parameters={"kid": "op-1"})
        return jwt.encode({"alg": "RS256", "kid": "op-1"}, claims, key)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                    "response_types_supported": ["code"], "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_post"]}

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            return KeySet([self.key]).as_dict(private=False)

        @app.get("/authorize")
        async def authorize(request: Request) -> Response:
            q = request.query_params
            wrong = [name for name, ok in (
                ("response_type", q.get("response_type") == "code"), ("client_id", q.get("client_id") == CLIENT_ID),
                ("scope", "openid" in (q.get("scope") or "").split()), ("state", bool(q.get("state"))),
                ("nonce", bool(q.get("nonce"))), ("code_challenge", bool(q.get("code_challenge"))),
                ("code_challenge_method", q.get("code_challenge_method") == "S256"),
                ("redirect_uri", (q.get("redirect_uri") or "").startswith("http"))) if not ok]
            if wrong:
                return JSONResponse({"error": "invalid_request", "error_description": ", ".join(wrong)}, 400)
            code = secrets.token_urlsafe(24)
            self.codes[code] = {"subject": self.subject, "nonce": q["nonce"], "challenge": q["code_challenge"],
                                "redirect_uri": q["redirect_uri"]}
            return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

        @app.post("/token")
        async def token(request: Request) -> Response:
            self.token_requests += 1
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            grant = self.codes.pop(str(form.get("code")), None)  # a code is good once
            verifier = str(form.get("code_verifier") or "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return JSONResponse({"error": "invalid_client"}, 401)
            if (grant is None or form.get("grant_type") != "authorization_code"
                    or form.get("redirect_uri") != grant["redirect_uri"] or challenge != grant["challenge"]):
                return JSONResponse({"error": "invalid_grant"}, 400)
            return JSONResponse({"access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "expires_in": 300,
                                 "id_token": self.id_token(grant)})

        return app


@contextlib.asynccontextmanager
async def running_provider() -> AsyncIterator[OidcTestProvider]:
    from tests.support.console import free_port

    port = free_port()
    provider = OidcTestProvider(url=f"http://127.0.0.1:{port}")
    stop = asyncio.Event()
    task = asyncio.create_task(serve(provider.app(), "127.0.0.1", port, stop))
    try:
        import httpx

        async def up() -> bool:
            async with httpx.AsyncClient() as c:
                try:
                    return (await c.get(f"{provider.url}/healthz")).status_code == 200
                except httpx.HTTPError:
                    return False

        await stack.eventually(up, until=bool, what="the test OIDC provider listening", timeout=30)
        yield provider
    finally:
        stop.set()
        await asyncio.wait([task], timeout=10)
