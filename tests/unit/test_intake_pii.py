"""Field-level sealing of personal data (shared.pii)."""
from __future__ import annotations

import base64
import os

import pytest

from shared.pii import DEV_KEY_ID, Keyring, PiiError, Sealed, generate_key, keyring_from_config


def test_a_sealed_phone_opens_to_the_same_number_and_shows_nothing_of_it() -> None:
    ring = Keyring.parse(f"k1:{generate_key()}")
    sealed = ring.seal("13800138000", field="phone")
    assert sealed.kid == "k1"
    assert "13800138000" not in sealed.model_dump_json()
    assert ring.open(sealed, field="phone") == "13800138000"


def test_sealing_twice_gives_different_ciphertexts() -> None:
    ring = Keyring.parse(f"k1:{generate_key()}")
    a, b = ring.seal("张三", field="name"), ring.seal("张三", field="name")
    assert a.nonce != b.nonce and a.ciphertext != b.ciphertext


def test_after_rotation_old_values_still_open_and_new_ones_use_the_new_key() -> None:
    old_key = generate_key()
    before = Keyring.parse(f"k1:{old_key}").seal("13800138000", field="phone")
    after = Keyring.parse(f"k2:{generate_key()},k1:{old_key}")
    assert after.current == "k2"
    assert after.open(before, field="phone") == "13800138000"
    resealed = after.reseal(before, field="phone")
    assert resealed.kid == "k2" and after.open(resealed, field="phone") == "13800138000"


def test_a_value_moved_to_another_field_does_not_open() -> None:
    ring = Keyring.parse(f"k1:{generate_key()}")
    with pytest.raises(PiiError, match="another field"):
        ring.open(ring.seal("13800138000", field="phone"), field="name")


def test_a_tampered_ciphertext_does_not_open() -> None:
    ring = Keyring.parse(f"k1:{generate_key()}")
    sealed = ring.seal("13800138000", field="phone")
    raw = bytearray(base64.urlsafe_b64decode(sealed.ciphertext + "=" * (-len(sealed.ciphertext) % 4)))
    raw[0] ^= 1
    forged = Sealed(kid=sealed.kid, nonce=sealed.nonce, ciphertext=base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="))
    with pytest.raises(PiiError):
        ring.open(forged, field="phone")


def test_a_value_sealed_with_an_unknown_key_id_says_so() -> None:
    sealed = Keyring.parse(f"k9:{generate_key()}").seal("x", field="name")
    with pytest.raises(PiiError, match="k9"):
        Keyring.parse(f"k1:{generate_key()}").open(sealed, field="name")


@pytest.mark.parametrize("spec", ["", "k1", "k1:", "k1:not-base64!!", "k1:" + base64.b64encode(b"short").decode(),
                                  f"k1:{generate_key()},k1:{generate_key()}", f"bad id:{generate_key()}"])
def test_malformed_key_specs_are_refused(spec: str) -> None:
    with pytest.raises(PiiError):
        Keyring.parse(spec)


def test_url_safe_and_standard_base64_keys_are_both_accepted() -> None:
    key = os.urandom(32)
    assert Keyring.parse("a:" + base64.urlsafe_b64encode(key).decode().rstrip("=")).current == "a"
    assert Keyring.parse("a:" + base64.b64encode(key).decode()).current == "a"


def test_the_development_key_is_used_only_in_dev_mode() -> None:
    assert keyring_from_config(None, dev=True).current == DEV_KEY_ID
    with pytest.raises(PiiError, match="required outside dev mode"):
        keyring_from_config(None, dev=False)
    assert keyring_from_config(f"prod1:{generate_key()}", dev=False).current == "prod1"


def test_the_keyring_repr_shows_key_ids_but_no_key_material() -> None:
    key = generate_key()
    text = repr(Keyring.parse(f"k1:{key}"))
    assert "k1" in text and key not in text


def test_intake_refuses_to_start_without_usable_keys_outside_dev_mode_and_never_echoes_them() -> None:
    from pydantic import ValidationError

    from services.intake.settings import IntakeSettings

    with pytest.raises(ValidationError, match="required outside dev mode"):
        IntakeSettings(dev=False, pg_dsn="postgresql://u@h/d", pii_keys=None)
    secret = "k1:" + base64.b64encode(b"too short").decode()
    with pytest.raises(ValidationError) as info:
        IntakeSettings(dev=False, pg_dsn="postgresql://u@h/d", pii_keys=secret)
    assert secret not in str(info.value) and "16, 24 or 32 bytes" in str(info.value)
    good = f"k2:{generate_key()}"
    assert IntakeSettings(dev=False, pg_dsn="postgresql://u@h/d", pii_keys=good).pii_keys.get_secret_value() == good
