"""A correction request's value is checked as a complaint's field is (个人信息保护法 第四十六条), and the
masked form follows it; a refusal names the field and the reason, never the value."""
from __future__ import annotations

import datetime as dt

from services.intake.domain.correction import Correction, correction
from services.intake.domain.errors import FieldError

TODAY = dt.date(2026, 12, 8)


def test_a_corrected_phone_in_any_accepted_form_is_normalised_and_its_masked_form_follows() -> None:
    fixed = correction("phone", "+86 137-2222-3333", today=TODAY)
    assert isinstance(fixed, Correction) and fixed.value == "13722223333"
    assert fixed.masked == {"phone_masked": "*******3333"}
    assert "13722223333" not in repr(fixed)


def test_a_corrected_name_is_cleaned_and_masked_by_its_first_character() -> None:
    fixed = correction("name", "  赵七  ", today=TODAY)
    assert isinstance(fixed, Correction) and fixed.value == "赵七" and fixed.masked == {"name_masked": "赵*"}


def test_a_corrected_id_number_is_checked_with_its_check_character() -> None:
    assert isinstance(correction("id_number", "11010519491231002X", today=TODAY), Correction)
    refused = correction("id_number", "110105194912310021", today=TODAY)
    assert isinstance(refused, FieldError) and refused.field == "complainant.id_number"
    assert "110105194912310021" not in refused.detail


def test_a_bad_phone_an_empty_name_and_an_unknown_field_are_refused_by_name() -> None:
    phone = correction("phone", "1234", today=TODAY)
    assert isinstance(phone, FieldError) and phone.field == "complainant.phone" and "1234" not in phone.detail
    name = correction("name", "   ", today=TODAY)
    assert isinstance(name, FieldError) and name.field == "complainant.name"
    other = correction("address", "x", today=TODAY)
    assert isinstance(other, FieldError) and other.reason == "unknown_field"
