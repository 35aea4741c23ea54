"""Standard Webhooks signing and verification (shared.webhooks)."""
from __future__ import annotations

import base64

import pytest

from shared.webhooks import WebhookVerificationError, generate_secret, parse_secret, sign, sign_headers, verify

# the published Standard Webhooks test vector
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signing_reproduces_the_published_test_vector() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


def test_the_whsec_prefix_is_optional_as_in_the_reference_libraries() -> None:
    assert sign(SPEC_SECRET.removeprefix("whsec_"), SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


def test_the_published_vector_verifies() -> None:
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TS), "webhook-signature": SPEC_SIGNATURE}
    assert verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TS + 10) == SPEC_ID


def test_a_signed_request_verifies_and_header_names_are_case_insensitive() -> None:
    secret = generate_secret()
    body = '{"标题":"新案件"}'.encode()
    headers = {k.upper(): v for k, v in sign_headers(secret, "msg_1", body).items()}
    assert verify(secret, headers, body) == "msg_1"


@pytest.mark.parametrize("tamper", ["body", "id", "timestamp", "secret"])
def test_any_change_to_body_id_timestamp_or_secret_breaks_the_signature(tamper: str) -> None:
    secret = generate_secret()
    body = b'{"a":1}'
    headers = sign_headers(secret, "msg_1", body, timestamp=1_700_000_000)
    if tamper == "body":
        body = b'{"a":2}'
    elif tamper == "id":
        headers["webhook-id"] = "msg_2"
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = "1700000001"
    else:
        secret = generate_secret()
    with pytest.raises(WebhookVerificationError, match="no matching v1 signature"):
        verify(secret, headers, body, now=1_700_000_000)


def test_one_valid_signature_among_several_is_enough_for_key_rotation() -> None:
    old, new = generate_secret(), generate_secret()
    body = b"{}"
    headers = sign_headers(new, "msg_9", body, timestamp=1_700_000_000)
    headers["webhook-signature"] = sign(old, "msg_9", 1_700_000_000, body) + " " + headers["webhook-signature"]
    assert verify(new, headers, body, now=1_700_000_000) == "msg_9"


def test_a_timestamp_outside_the_tolerance_is_refused_as_a_replay() -> None:
    secret = generate_secret()
    headers = sign_headers(secret, "msg_1", b"{}", timestamp=1_700_000_000)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(secret, headers, b"{}", now=1_700_000_000 + 301)
    assert verify(secret, headers, b"{}", now=1_700_000_000 + 299) == "msg_1"


def test_a_missing_header_is_named() -> None:
    with pytest.raises(WebhookVerificationError, match="webhook-signature"):
        verify(generate_secret(), {"webhook-id": "m", "webhook-timestamp": "1"}, b"", now=1)


def test_generated_secrets_are_whsec_with_a_32_byte_key() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) == 32
    assert parse_secret(secret) == base64.b64decode(secret[6:])


@pytest.mark.parametrize("bad", ["whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode()])
def test_a_malformed_or_short_secret_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="webhook secret"):
        parse_secret(bad)


def test_an_id_with_a_dot_cannot_be_signed_because_it_would_make_the_signed_text_ambiguous() -> None:
    with pytest.raises(ValueError, match="webhook id"):
        sign(generate_secret(), "msg.1", 1, b"")
