"""The city's OpenID Connect provider, as the console's client (issue 16 §1).

Authorization code flow with PKCE (S256, authlib's challenge), `state` and `nonce`; the provider's
discovery document and JWKS are read over HTTP (cached; the JWKS read again once for a key id it
does not hold: the provider rotated); the ID token's signature is verified against the JWKS
(joserfc, authlib's JOSE library; RS256/ES256/PS256 only, never `none` or HMAC), then its issuer,
audience (and `azp` when there are several), expiry, issued-at and nonce are checked here, each
refusal with a reason of `REFUSALS` (bounded: it is a metric label)."""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from shared.clock import Clock

ALGORITHMS = ["RS256", "ES256", "PS256"]
DISCOVERY_SECONDS = 3600.0
#: why an OIDC sign-in was refused (metric label, login_attempts.outcome with prefix ``oidc_``)
REFUSALS = ("provider_error", "bad_state", "expired_flow", "token_exchange", "bad_signature", "wrong_issuer",
            "wrong_audience", "expired", "wrong_nonce", "no_subject", "unknown_subject", "locked", "disabled")


class OidcRefused(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REFUSALS, reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Started:
    state: str
    nonce: str
    code_verifier: str
    url: str


class OidcClient:
    def __init__(self, *, issuer: str, client_id: str, client_secret: str | None, redirect_url: str, scopes: str,
                 subject_claim: str, clock: Clock, leeway_seconds: int = 60, timeout: float = 10.0) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_url = redirect_url
        self.scopes = scopes if "openid" in scopes.split() else f"openid {scopes}".strip()
        self.subject_claim = subject_claim
        self.clock = clock
        self.leeway = dt.timedelta(seconds=leeway_seconds)
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._discovery: dict[str, Any] | None = None
        self._discovered_at = 0.0
        self._keys: KeySet | None = None

    async def close(self) -> None:
        await self._http.aclose()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            r = await self._http.get(url, headers={"Accept": "application/json"})
            r.raise_for_status()
            body = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcRefused("provider_error", f"{url}: {exc.__class__.__name__}") from None
        if not isinstance(body, dict):
            raise OidcRefused("provider_error", f"{url}: not a JSON object")
        return body

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is None or time.monotonic() - self._discovered_at > DISCOVERY_SECONDS:
            doc = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
                raise OidcRefused("provider_error", "the discovery document names another issuer")
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(doc.get(name), str):
                    raise OidcRefused("provider_error", f"the discovery document has no {name}")
            self._discovery, self._discovered_at = doc, time.monotonic()
        return self._discovery

    async def _key_set(self, *, fresh: bool = False) -> KeySet:
        if self._keys is None or fresh:
            doc = await self._get_json((await self.discovery())["jwks_uri"])
            try:
                self._keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError):
                raise OidcRefused("provider_error", "the JWKS is not a key set") from None
        return self._keys

    async def start(self) -> Started:
        """A new sign-in: its state, nonce, PKCE verifier and the provider's authorization URL."""
        doc = await self.discovery()
        state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
        query = urlencode({"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_url,
                           "scope": self.scopes, "state": state, "nonce": nonce,
                           "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"})
        endpoint = doc["authorization_endpoint"]
        return Started(state, nonce, verifier, f"{endpoint}{'&' if '?' in endpoint else '?'}{query}")

    async def exchange(self, code: str, code_verifier: str) -> str:
        """The authorization code for the ID token (the access token is not used: the console calls
        the services with the account's own principal)."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_url,
                "client_id": self.client_id, "code_verifier": code_verifier}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        try:
            r = await self._http.post((await self.discovery())["token_endpoint"], data=form,
                                      headers={"Accept": "application/json"})
            body = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcRefused("token_exchange", exc.__class__.__name__) from None
        if r.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
            error = body.get("error") if isinstance(body, dict) else None
            raise OidcRefused("token_exchange", f"the provider answered {r.status_code} {error or ''}".strip())
        return str(body["id_token"])

    async def verify(self, id_token: str, nonce: str) -> str:
        """The ID token's subject (the configured claim) once signature and claims hold."""
        try:
            try:
                token = jwt.decode(id_token, await self._key_set(), algorithms=ALGORITHMS)
            except InvalidKeyIdError:  # the provider rotated its keys: read them once more
                token = jwt.decode(id_token, await self._key_set(fresh=True), algorithms=ALGORITHMS)
        except JoseError as exc:
            raise OidcRefused("bad_signature", exc.error) from None
        claims = token.claims
        if str(claims.get("iss", "")).rstrip("/") != self.issuer:
            raise OidcRefused("wrong_issuer", "the ID token's iss is not the configured issuer")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self.client_id not in audiences or (len(audiences) > 1 and claims.get("azp") != self.client_id):
            raise OidcRefused("wrong_audience", "the ID token is not for this client")
        now = self.clock.now()
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, (int, float)) or not isinstance(iat, (int, float)):
            raise OidcRefused("expired", "the ID token has no exp or iat")
        if dt.datetime.fromtimestamp(exp, dt.timezone.utc) + self.leeway <= now:
            raise OidcRefused("expired", "the ID token has expired")
        if dt.datetime.fromtimestamp(iat, dt.timezone.utc) - self.leeway > now:
            raise OidcRefused("expired", "the ID token is issued in the future")
        if not isinstance(claims.get("nonce"), str) or claims["nonce"] != nonce:
            raise OidcRefused("wrong_nonce", "the ID token's nonce is not this sign-in's")
        subject = claims.get(self.subject_claim)
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise OidcRefused("no_subject", f"the ID token has no {self.subject_claim}")
        return subject
