"""Persons' data keys (shared.pii, crypto-shredding, issue 12 §4): a value sealed with a person's data key
opens through the Opener while the wrapped key is in the store, gives the erased marker once the key is
destroyed, and values sealed under the service key before data keys still open."""
from __future__ import annotations

import pytest

from shared.pii import ERASED, Erased, Keyring, Opener, PiiError, data_key_ids, new_data_key


def test_a_value_sealed_with_a_person_s_key_opens_while_the_wrapped_key_is_kept() -> None:
    ring = Keyring.development()
    key, wrapped = new_data_key(ring)
    sealed = key.seal("13987654321", field="phone")
    assert sealed.kid == key.id and "13987654321" not in sealed.ciphertext
    assert Opener(ring, {key.id: wrapped}).open(sealed, field="phone") == "13987654321"


def test_once_the_person_s_key_is_destroyed_the_value_gives_the_erased_marker_and_others_still_open() -> None:
    ring = Keyring.development()
    gone, gone_wrapped = new_data_key(ring)
    kept, kept_wrapped = new_data_key(ring)
    a, b = gone.seal("赵六", field="name"), kept.seal("钱七", field="name")
    opener = Opener(ring, {gone.id: None, kept.id: kept_wrapped})
    with pytest.raises(Erased):
        opener.open(a, field="name")
    assert opener.reveal(a, field="name") == ERASED and opener.erased(a)
    assert opener.open(b, field="name") == "钱七"


def test_values_sealed_under_the_service_key_before_data_keys_still_open() -> None:
    ring = Keyring.development()
    legacy = ring.seal("13800138000", field="phone")
    assert Opener(ring, {}).open(legacy, field="phone") == "13800138000"


def test_a_data_key_value_cannot_move_to_another_field_or_open_without_its_key() -> None:
    ring = Keyring.development()
    key, wrapped = new_data_key(ring)
    sealed = key.seal("61040419750203268X", field="id_number")
    with pytest.raises(PiiError):
        Opener(ring, {key.id: wrapped}).open(sealed, field="phone")
    with pytest.raises(PiiError):
        Opener(ring, {}).open(sealed, field="id_number")
    with pytest.raises(PiiError):
        ring.open(sealed, field="id_number")


def test_the_data_key_ids_of_a_nested_complainant_are_found_for_one_key_store_query() -> None:
    ring = Keyring.development()
    key, _ = new_data_key(ring)
    doc = {"complainant": {"name": key.seal("x", field="name").model_dump(), "phone": ring.seal("y", field="phone").model_dump()}}
    assert data_key_ids([doc]) == {key.id}


def test_a_service_key_id_may_not_use_the_data_key_prefix() -> None:
    with pytest.raises(PiiError):
        Keyring.parse("pk_1:" + "A" * 43 + "=")
