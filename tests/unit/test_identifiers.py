"""Identifiers: credit codes, resident identity numbers, phones, masking."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.identifiers import (
    USCC_ALPHABET,
    IdentifierError,
    mask_name,
    mask_phone,
    mask_resident_id,
    normalise_text,
    parse_phone,
    parse_resident_id,
    parse_uscc,
    resident_id_birth_date,
    resident_id_check_character,
    uscc_check_character,
    uscc_division_code,
)

# Independent re-statements of the standards, so the tests do not trust the code under test.
GB32100_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
GB11643_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def uscc_with_check(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, GB32100_WEIGHTS))
    return first17 + USCC_ALPHABET[(31 - total % 31) % 31]


def resident_id_with_check(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, GB11643_WEIGHTS))
    return first17 + "10X98765432"[total % 11]


def to_full_width(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def wrong_check(code: str, alphabet: str) -> str:
    return code[:-1] + next(c for c in alphabet if c != code[-1])


# --- normalisation ------------------------------------------------------------------------


def test_normalising_folds_full_width_characters_and_strips_spaces():
    assert normalise_text("\u3000９１ＡＢｃ ") == "91ABc"


# --- unified social credit code -------------------------------------------------------------


@pytest.mark.parametrize("code", ["91110000600037341L", "91350100M000100Y43"])
def test_known_valid_credit_codes_are_accepted_unchanged(code):
    assert parse_uscc(code) == code


def test_the_weights_are_powers_of_three_modulo_31():
    assert GB32100_WEIGHTS == [pow(3, i, 31) for i in range(17)]
    assert uscc_check_character("91350100M000100Y4") == "3"


def test_full_width_and_lower_case_credit_codes_are_normalised():
    assert parse_uscc(to_full_width("91110000600037341l")) == "91110000600037341L"
    assert parse_uscc("  91350100m000100y43\n") == "91350100M000100Y43"


def test_credit_code_with_wrong_check_character_is_rejected_naming_the_expected_one():
    with pytest.raises(IdentifierError) as err:
        parse_uscc("91110000600037341M")
    assert err.value.field == "uscc"
    assert err.value.reason == "bad_check_character"
    assert err.value.details == {"expected": "L", "got": "M"}
    assert "expected L" in str(err.value) and "got M" in str(err.value)


@pytest.mark.parametrize("length", [0, 1, 17, 19])
def test_credit_code_of_wrong_length_is_rejected(length):
    with pytest.raises(IdentifierError) as err:
        parse_uscc("9" * length)
    assert err.value.reason == ("empty" if length == 0 else "wrong_length")


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_credit_code_with_a_letter_outside_the_alphabet_is_rejected_at_its_position(letter):
    code = "91110000600037341L"
    bad = code[:10] + letter + code[11:]
    with pytest.raises(IdentifierError) as err:
        parse_uscc(bad)
    assert err.value.reason == "illegal_character"
    assert err.value.details["position"] == 11
    assert "position 11" in str(err.value)


def test_credit_code_whose_division_code_is_not_digits_is_rejected_even_with_a_right_check():
    code = uscc_with_check("91A10000600037341")
    with pytest.raises(IdentifierError) as err:
        parse_uscc(code)
    assert err.value.reason == "bad_division_code"


def test_division_code_is_positions_three_to_eight():
    assert uscc_division_code("91350100M000100Y43") == "350100"


@settings(max_examples=200)
@given(
    head=st.text(alphabet=USCC_ALPHABET, min_size=2, max_size=2),
    division=st.text(alphabet="0123456789", min_size=6, max_size=6),
    tail=st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9),
)
def test_generated_credit_codes_with_a_computed_check_are_accepted_and_any_other_check_is_not(head, division, tail):
    code = uscc_with_check(head + division + tail)
    assert parse_uscc(code) == code
    assert parse_uscc(code.lower()) == code
    with pytest.raises(IdentifierError) as err:
        parse_uscc(wrong_check(code, USCC_ALPHABET))
    assert err.value.reason == "bad_check_character"
    assert err.value.details["expected"] == code[-1]


# --- resident identity number ----------------------------------------------------------------


def test_the_standard_example_identity_number_with_check_x_is_accepted_in_any_case():
    assert resident_id_with_check("11010519491231002") == "11010519491231002X"
    assert parse_resident_id("11010519491231002X") == "11010519491231002X"
    assert parse_resident_id("11010519491231002x") == "11010519491231002X"
    assert parse_resident_id(to_full_width("11010519491231002x")) == "11010519491231002X"


def test_identity_number_with_wrong_check_character_is_rejected_naming_the_expected_one():
    with pytest.raises(IdentifierError) as err:
        parse_resident_id("110105194912310021")
    assert err.value.field == "resident_id"
    assert err.value.reason == "bad_check_character"
    assert err.value.details == {"expected": "X", "got": "1"}


@pytest.mark.parametrize("birth", ["19900230", "19901301", "18001231"])
def test_identity_number_with_an_impossible_birth_date_is_rejected(birth):
    with pytest.raises(IdentifierError) as err:
        parse_resident_id(resident_id_with_check("610402" + birth + "123"))
    assert err.value.reason == "bad_birth_date"


def test_identity_number_born_in_the_future_is_rejected():
    rid = resident_id_with_check("610402" + "20300101" + "123")
    with pytest.raises(IdentifierError) as err:
        parse_resident_id(rid, today=dt.date(2026, 1, 1))
    assert err.value.reason == "bad_birth_date"
    assert parse_resident_id(rid, today=dt.date(2031, 1, 1)) == rid


def test_first_generation_fifteen_digit_numbers_are_rejected_as_wrong_length():
    with pytest.raises(IdentifierError) as err:
        parse_resident_id("610402900101123")
    assert err.value.reason == "wrong_length"


def test_identity_number_with_x_before_the_last_position_is_rejected():
    with pytest.raises(IdentifierError) as err:
        parse_resident_id("6104021990010112X4")
    assert err.value.reason == "illegal_character"
    assert err.value.details["position"] == 17


@settings(max_examples=200)
@given(
    region=st.text(alphabet="0123456789", min_size=6, max_size=6),
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31)),
    seq=st.text(alphabet="0123456789", min_size=3, max_size=3),
)
def test_generated_identity_numbers_are_accepted_and_their_birth_date_read_back(region, born, seq):
    rid = resident_id_with_check(region + born.strftime("%Y%m%d") + seq)
    assert resident_id_check_character(rid[:17]) == rid[-1]
    assert parse_resident_id(rid) == rid
    assert resident_id_birth_date(rid) == born
    with pytest.raises(IdentifierError):
        parse_resident_id(wrong_check(rid, "0123456789X"))


# --- phones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+86 138 0013 8000",
        "+8613800138000",
        "0086-138-0013-8000",
        "138－0013－8000",
        "１３８００１３８０００",
        "\u3000138 0013 8000 ",
    ],
)
def test_phone_numbers_in_common_forms_normalise_to_eleven_digits(raw):
    assert parse_phone(raw) == "13800138000"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("1380013800", "wrong_length"),
        ("138001380001", "wrong_length"),
        ("12800138000", "bad_prefix"),
        ("23800138000", "bad_prefix"),
        ("029-33210688", "bad_prefix"),
        ("029-3321068", "wrong_length"),
        ("1380013800O", "illegal_character"),
        ("+1 13800138000", "illegal_character"),
        ("8613800138000", "wrong_length"),
    ],
)
def test_phone_numbers_that_are_not_mainland_mobiles_are_rejected_with_a_reason(raw, reason):
    with pytest.raises(IdentifierError) as err:
        parse_phone(raw)
    assert err.value.field == "phone"
    assert err.value.reason == reason


def test_a_masked_phone_shows_only_its_last_four_digits():
    assert mask_phone("+86 138-1234-5678") == "*******5678"


def test_masking_an_invalid_phone_refuses_rather_than_leaking_it():
    with pytest.raises(IdentifierError):
        mask_phone("call me maybe")


# --- names and identity numbers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三丰", "张**"), ("李四", "李*"), ("王", "王*"), (" 欧阳娜娜 ", "欧***"), ("", "")],
)
def test_a_masked_name_keeps_only_its_first_character(name, masked):
    assert mask_name(name) == masked


def test_a_masked_identity_number_keeps_only_its_last_four_characters():
    assert mask_resident_id("11010519491231002x") == "**************002X"
    assert mask_resident_id("11010519491231002X", keep_last=0) == "*" * 18


# --- robustness ------------------------------------------------------------------------------

_interesting = st.one_of(
    st.text(),
    st.text(alphabet=USCC_ALPHABET + "abcxyz ＡＢ１２３４５６７８９０\u3000-+ISOZV", max_size=25),
    st.text(alphabet="0123456789xX+- －１２", max_size=25),
)


@settings(max_examples=500)
@given(_interesting)
def test_parsers_raise_nothing_but_identifier_errors_on_arbitrary_text(text):
    for parse in (parse_uscc, parse_resident_id, parse_phone):
        try:
            result = parse(text)
        except IdentifierError as err:
            assert isinstance(err, ValueError)
            assert err.field in {"uscc", "resident_id", "phone"}
            assert err.reason and str(err)
        else:
            assert result.isascii() and result == result.strip()


@pytest.mark.parametrize("value", [None, 91110000600037341, b"91110000600037341L"])
def test_parsers_reject_non_text_with_an_identifier_error(value):
    for parse in (parse_uscc, parse_resident_id, parse_phone):
        with pytest.raises(IdentifierError) as err:
            parse(value)
        assert err.value.reason == "not_a_string"
