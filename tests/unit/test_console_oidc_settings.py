"""The console's OIDC settings are whole or refused, and an account's OIDC subject is checked."""
from __future__ import annotations

import pytest

from services.console.domain.accounts import InvalidAccount, check_subject
from services.console.settings import ConsoleSettings


def test_local_sign_in_is_the_default_when_no_issuer_is_set() -> None:
    assert not ConsoleSettings(dev=True).oidc_enabled


def test_an_issuer_without_client_id_or_redirect_url_is_refused_naming_what_is_missing() -> None:
    with pytest.raises(ValueError, match="SHUANGDA_CONSOLE_OIDC_CLIENT_ID.*SHUANGDA_CONSOLE_OIDC_REDIRECT_URL"):
        ConsoleSettings(dev=True, oidc_issuer="https://id.city.example")


def test_plain_http_for_the_provider_is_refused_outside_dev_mode() -> None:
    with pytest.raises(ValueError, match="must be https"):
        ConsoleSettings(dev=False, secret_key="s" * 32, pg_dsn="postgresql://x@h/db", oidc_issuer="http://id.city.example",
                        oidc_client_id="console", oidc_redirect_url="https://console.city.example/login/oidc/callback")
    ok = ConsoleSettings(dev=True, oidc_issuer="http://127.0.0.1:1", oidc_client_id="c",
                         oidc_redirect_url="http://127.0.0.1:2/login/oidc/callback")
    assert ok.oidc_enabled


@pytest.mark.parametrize("subject", ["", "a b", "x" * 256, "é", "tab\there"])
def test_an_oidc_subject_outside_printable_ascii_is_refused(subject: str) -> None:
    with pytest.raises(InvalidAccount) as refused:
        check_subject(subject)
    assert refused.value.field == "oidc_subject"


def test_an_oidc_subject_as_providers_issue_it_is_accepted() -> None:
    assert check_subject("248289761001") == "248289761001"
    assert check_subject("auth0|5f7c8ec7c33c6c004bbafe82") == "auth0|5f7c8ec7c33c6c004bbafe82"
