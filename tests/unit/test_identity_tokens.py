"""API key tokens: one new format, the three old formats still recognised, constant-time checks."""
import hashlib

from shared.identity import tokens
from shared.identity.model import InvalidPrincipal, check_new_principal

import pytest


def test_a_new_key_parses_back_to_its_key_id_and_matches_only_its_own_hash() -> None:
    key = tokens.new_key()
    presented = tokens.parse(key.token)
    assert presented is not None and presented.key_id == key.key_id and presented.scheme == "v1"
    assert tokens.matches(presented, "v1", key.secret_hash)
    assert not tokens.matches(presented, "v1", tokens.new_key().secret_hash)
    assert not tokens.matches(presented, "routing-v0", key.secret_hash), "the scheme is part of the check"


def test_keys_issued_by_the_three_old_stores_are_recognised_with_their_own_hashing() -> None:
    intake = "sdk_abcdefghijkm_" + "x" * 43
    routing = "sdk_0123456789abcdef_" + "y" * 43
    credit = "market_regulation-610402." + "z" * 43
    assert tokens.parse(intake) == tokens.Presented("intake:abcdefghijkm", "intake-v0", hashlib.sha256(intake.encode()).digest())
    assert tokens.parse(routing) == tokens.Presented("routing:0123456789abcdef", "routing-v0", hashlib.sha256(b"y" * 43).digest())
    assert tokens.parse(credit) == tokens.Presented("credit:market_regulation-610402", "credit-v0", hashlib.sha256(b"z" * 43).digest())


@pytest.mark.parametrize("token", ["", "sd1_short_x", "Bearer x", "sd1_" + "a" * 16 + "_" + "b" * 42, "é" * 10, "x" * 400, "a.b"])
def test_anything_not_shaped_like_a_key_is_refused_before_any_lookup(token: str) -> None:
    assert tokens.parse(token) is None


def test_the_token_comes_from_the_bearer_header_or_the_api_key_header() -> None:
    assert tokens.bearer_token("Bearer abc", None) == "abc"
    assert tokens.bearer_token(None, "abc") == "abc"
    assert tokens.bearer_token("Basic abc", None) is None


def test_a_bureau_principal_must_name_its_bureau_and_scopes_must_be_known() -> None:
    check_new_principal("market_regulation@610402", "bureau", ("cases:read",), "market_regulation@610402")
    with pytest.raises(InvalidPrincipal) as err:
        check_new_principal("mr", "bureau", ("cases:read",), None)
    assert err.value.field == "bureau"
    with pytest.raises(InvalidPrincipal) as err:
        check_new_principal("hotline-a", "hotline", ("cases:fly",), None)
    assert err.value.field == "scopes"
